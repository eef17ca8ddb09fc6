"""Ducking under dialogue: the music sits a set number of LU under the measured voice.

Speech spans come from the analysis's voice-activity curve (Silero VAD), and each span's
dialogue loudness from the clips' own sound (K-weighted, measured while it speaks). The music
under a span is lowered until its loudest 400 ms inside the span is `amount_lu` below that
dialogue: a quiet voice gets a deeper duck than a loud one.

The whole job is offline, so the duck looks ahead: the music is fully down `lookahead_s` before
the first word of a line (after an `attack_s` ramp) and comes back over `fade_s` after it ends.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

DEFAULT_AMOUNT_LU = 10.0  # music short-term loudness this far below the dialogue's while it speaks
DEFAULT_FADE_S = 0.4  # the music comes back over this long after a line
MOMENTARY_S = 0.4  # BS.1770 momentary window: the music's loudest moment under a line
SILENT_LUFS = -70.0  # a span quieter than this has no measurable dialogue


@dataclass(frozen=True)
class DuckSettings:
    amount_lu: float = DEFAULT_AMOUNT_LU  # the music's loudest 400 ms under a line, LU below that line
    fade_s: float = DEFAULT_FADE_S  # release: how long the music takes to come back after a line
    attack_s: float = 0.08  # how long it takes to go down
    lookahead_s: float = 0.1  # fully down this long before the detector's start of a line: words are not
    # clipped (the voice-activity model reports a window or two after a word begins)
    margin_lu: float = 1.0  # aim this far deeper than asked: the compressor and limiter move levels a little
    min_depth_db: float = 3.0  # a line always gets at least this much room
    fallback_depth_db: float = 8.0  # the duck when the dialogue's loudness is unknown
    on_threshold: float = 0.5  # speech probability that opens a span
    off_threshold: float = 0.35  # ... and that closes it (hysteresis: no flutter)
    merge_gap_s: float = 0.4  # pauses shorter than this stay ducked: a sentence is one span
    min_span_s: float = 0.15  # a blip shorter than this is not speech
    dip_db: float = 6.0  # cut of the 1-4 kHz band in harmony and melody while ducked
    dip_band_hz: tuple[float, float] = (1000.0, 4000.0)


def settings_for(options) -> DuckSettings:
    """The duck a request asks for (ScoreOptions.duck_amount_lu / duck_fade_s; 0 = the default)."""
    amount = float(getattr(options, "duck_amount_lu", 0.0) or DEFAULT_AMOUNT_LU)
    fade = float(getattr(options, "duck_fade_s", 0.0) or DEFAULT_FADE_S)
    return DuckSettings(amount_lu=amount, fade_s=fade, attack_s=min(0.08, fade))


def speech_spans(times_s: np.ndarray, prob: np.ndarray, duration_s: float,
                 s: DuckSettings) -> list[tuple[float, float]]:
    """[(start_s, end_s)] where the speech probability says someone talks."""
    if len(times_s) == 0 or len(prob) == 0:
        return []
    spans: list[list[float]] = []
    on = False
    start = 0.0
    step = float(np.median(np.diff(times_s))) if len(times_s) > 1 else 0.0
    for t, p in zip(np.asarray(times_s, float).tolist(), np.asarray(prob, float).tolist(), strict=True):
        if not on and p >= s.on_threshold:
            on, start = True, t - step / 2  # a curve point stands for the window around it
        elif on and p < s.off_threshold:
            on = False
            spans.append([start, t - step / 2])
    if on:
        spans.append([start, float(times_s[-1]) + step])
    merged: list[list[float]] = []
    for a, b in spans:
        if merged and a - merged[-1][1] < s.merge_gap_s:
            merged[-1][1] = b
        else:
            merged.append([a, b])
    return [(max(0.0, a), min(duration_s, b)) for a, b in merged if b - a >= s.min_span_s and a < duration_s]


def dialogue_loudness(spans, times_s: np.ndarray, prob: np.ndarray, lufs: np.ndarray,
                      s: DuckSettings) -> list[float | None]:
    """Per span, the dialogue's loudness (LUFS) over its spoken part (pauses left out); None
    where the analysis carries no loudness (older callers) or the span is silent."""
    if len(lufs) != len(times_s) or len(lufs) == 0:
        return [None] * len(spans)
    out: list[float | None] = []
    for a, b in spans:
        inside = (times_s >= a) & (times_s <= b)
        talking = inside & (prob >= s.off_threshold)
        pick = talking if talking.any() else inside
        if not pick.any():
            out.append(None)
            continue
        level = float(10 * np.log10(np.mean(10.0 ** (lufs[pick].astype(np.float64) / 10.0))))
        out.append(level if level > SILENT_LUFS else None)
    return out


def _ramp(a: float, b: float, frames: int, sample_rate: int, s: DuckSettings) -> tuple[np.ndarray, np.ndarray]:
    """(idx, shape): the frames a span's duck touches and its 0..1 shape there (raised-cosine ramps)."""
    down_end = a - s.lookahead_s
    i0 = int(round((down_end - s.attack_s) * sample_rate))
    i1 = int(round(down_end * sample_rate))
    i2 = int(round(b * sample_rate))
    i3 = int(round((b + s.fade_s) * sample_rate))
    idx = np.arange(max(0, i0), min(frames, i3))
    ramp_in = 0.5 - 0.5 * np.cos(np.pi * np.clip((idx - i0) / max(1, i1 - i0), 0.0, 1.0))
    ramp_out = 0.5 + 0.5 * np.cos(np.pi * np.clip((idx - i2) / max(1, i3 - i2), 0.0, 1.0))
    return idx, np.minimum(ramp_in, ramp_out)


def ducked_span(span: tuple[float, float], s: DuckSettings) -> tuple[float, float]:
    """Where the music is fully down for a speech span: from the look-ahead to the line's end."""
    return max(0.0, span[0] - s.lookahead_s), span[1]


def duck_amount(spans, frames: int, sample_rate: int, s: DuckSettings) -> np.ndarray:
    """(frames,) float32 in 0..1: 1 fully ducked, with raised-cosine ramps (no steps)."""
    d = np.zeros(frames, dtype=np.float32)
    for a, b in spans:
        idx, shape = _ramp(a, b, frames, sample_rate, s)
        d[idx] = np.maximum(d[idx], shape)
    return d


def duck_gain_for(spans, depths_db, frames: int, sample_rate: int, s: DuckSettings) -> np.ndarray:
    """(frames,) float32 gain: each span lowered by its own depth (dB), ramps in and out."""
    depth = np.zeros(frames, dtype=np.float32)  # dB of cut per frame
    for (a, b), db in zip(spans, depths_db, strict=True):
        idx, shape = _ramp(a, b, frames, sample_rate, s)
        depth[idx] = np.maximum(depth[idx], (shape * db).astype(np.float32))
    return (10.0 ** (-depth / 20.0)).astype(np.float32)


def _momentary_max(power: np.ndarray, ms_gain, sub: int, a: float, b: float, sample_rate: int) -> float:
    """The loudest 400 ms (LUFS) between a and b of a signal whose K-weighted energy per `sub`
    frames is `power`, under a gain whose mean square per sub-block is `ms_gain`."""
    sub_s = sub / sample_rate
    j0, j1 = int(a / sub_s), max(int(a / sub_s) + 1, int(np.ceil(b / sub_s)))
    e = power[j0:j1] * (ms_gain[j0:j1] if np.ndim(ms_gain) else ms_gain)
    w = max(1, int(round(MOMENTARY_S / sub_s)))
    if len(e) == 0:
        return float("-inf")
    sums = np.convolve(e, np.ones(w), "valid") if len(e) >= w else np.array([e.sum() * w / len(e)])
    with np.errstate(divide="ignore"):
        return float(-0.691 + 10 * np.log10(sums.max() / (w * sub)))


def depths_under_dialogue(spans, dialogue_lufs, estimate, target_lufs: float, max_boost_db: float,
                          frames: int, sample_rate: int, s: DuckSettings) -> list[float]:
    """Per span the cut (dB) that puts the music's loudest 400 ms `amount_lu` (+ margin) under
    the dialogue, once the loudness normalisation that follows has raised or lowered the whole
    music to `target_lufs`. The normalisation hears the ducked music, so a few rounds.

    `estimate`: post's GainLoudness of the mix before any gain (K-weighted energy per sub-block)."""
    depths = [s.fallback_depth_db if d is None else s.amount_lu for d in dialogue_lufs]
    for _ in range(5):
        gain = duck_gain_for(spans, depths, frames, sample_rate, s)
        level = estimate.lufs(gain)
        if not np.isfinite(level):
            break
        static_db = min(target_lufs - level, max_boost_db)
        ms = estimate._mean_square(gain)
        changed = False
        for i, ((a, b), d) in enumerate(zip(spans, dialogue_lufs, strict=True)):
            if d is None:
                continue
            music = _momentary_max(estimate.power, ms, estimate.sub, a, b, sample_rate) + static_db
            want = d - s.amount_lu - s.margin_lu
            new = max(s.min_depth_db, depths[i] + music - want)
            changed |= abs(new - depths[i]) > 0.1
            depths[i] = new
        if not changed:
            break
    return depths


def over_dialogue(mix_power, sub: int, spans, dialogue_lufs, sample_rate: int, s: DuckSettings) -> list[float]:
    """Per span, how far (dB) the finished music's loudest 400 ms is above `amount_lu` under
    the dialogue (0 where it is far enough under): the last check after every gain."""
    out = []
    for (a, b), d in zip(spans, dialogue_lufs, strict=True):
        if d is None:
            out.append(0.0)
            continue
        music = _momentary_max(mix_power, 1.0, sub, a, b, sample_rate)
        out.append(max(0.0, music - (d - s.amount_lu)))
    return out


def presence_dip(stem: np.ndarray, amount: np.ndarray, sample_rate: int, s: DuckSettings) -> np.ndarray:
    """Cut 1-4 kHz of a (ch, frames) stem by dip_db where `amount` is 1, fading with it; IN PLACE.

    A zero-phase band-pass (forward-backward) isolates the band without shifting its phase, so
    subtracting a share of it is a clean band cut with no comb effects. Each stretch where
    `amount` is non-zero (plus a margin for the filter to settle) is filtered on its own.
    """
    active = amount > 0
    if not active.any():
        return stem
    edges = np.flatnonzero(np.diff(np.concatenate([[False], active, [False]]).astype(np.int8)))
    nyq = 0.5 * sample_rate
    hi = min(s.dip_band_hz[1], 0.95 * nyq)
    lo = min(s.dip_band_hz[0], 0.5 * hi)
    sos = signal.butter(2, [lo / nyq, hi / nyq], "bandpass", output="sos")
    k = 1.0 - 10.0 ** (-s.dip_db / 20.0)
    margin = int(0.05 * sample_rate)
    for start, stop in zip(edges[::2], edges[1::2], strict=True):  # each ducked stretch [start, stop)
        i0, i1 = max(0, start - margin), min(stem.shape[1], stop + margin)
        band = signal.sosfiltfilt(sos, stem[:, i0:i1], axis=1)
        stem[:, i0:i1] -= ((k * amount[i0:i1])[None, :] * band).astype(np.float32)
    return stem
