"""Post-processing shared by every model: length, DC, ducking, bus dynamics, loudness, fades.

Every level change after the per-stem presence dip is ONE gain curve computed on the mix and
applied identically to every stem, so the stems always sum to the mix.
"""

from __future__ import annotations

import threading

import numpy as np
from scipy import signal

from ..interface import TRUE_PEAK_CEILING_DBTP, FinishedScore, ModelOutput, ScoreOptions, check_cancelled
from .ducking import (
    depths_under_dialogue,
    dialogue_loudness,
    duck_amount,
    duck_gain_for,
    ducked_span,
    over_dialogue,
    presence_dip,
    settings_for,
    speech_spans,
)
from .dynamics import Curve, compressor_curve, limiter_curve, limiter_gain
from .levels import SILENCE_LUFS, GainLoudness, integrated_loudness, true_peak_dbtp, true_peak_per_frame
from .parallel import map_ordered

__all__ = ["finish"]

DC_CUTOFF_HZ = 5.0
LIMIT_MARGIN_DB = 0.4  # the limiter aims this far under the ceiling: room for the estimate's error
MAX_BOOST_DB = 30.0  # never raise near-silent input more than this (it would be noise)
LOUDNESS_TOLERANCE_LU = 0.1  # of the fast estimate, while searching the gain
TRUE_PEAK_SAFETY_DB = 0.1  # the final check trims above -1.1 dBTP: other meters' filters differ a little
FADE_IN_S = 0.005
FADE_OUT_S = 0.05
# compressor threshold (30 ms RMS, dBFS) relative to the target loudness: 1-3 dB of glue on the loud parts
COMP_ABOVE_TARGET_DB = -2.0
DIPPED_STEMS = ("harmony", "melody")  # where a voice's presence band competes with the music


def _fit_length(x: np.ndarray, frames: int) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1:
        x = x[None, :]
    if x.shape[1] >= frames:
        return x[:, :frames]
    return np.pad(x, ((0, 0), (0, frames - x.shape[1])))


DC_CHUNK = 1 << 20  # frames filtered per step when working in place


def _remove_dc(x: np.ndarray, sample_rate: int, out: np.ndarray | None = None, cancel=None) -> np.ndarray:
    """Mean removed, then a first-order DC blocker at 5 Hz (offsets and drift live there,
    nothing musical does). Into `out` (which may be `x` itself) chunk by chunk, or a new array."""
    pole = np.exp(-2 * np.pi * DC_CUTOFF_HZ / sample_rate)
    b, a = np.array([1.0, -1.0], np.float32), np.array([1.0, -pole], np.float32)
    if out is None:
        out = np.empty(x.shape, dtype=np.float32)
    mean = x.mean(axis=1, keepdims=True, dtype=np.float64).astype(np.float32)
    zi = np.zeros((x.shape[0], 1), dtype=np.float32)
    for i in range(0, x.shape[1], DC_CHUNK):
        check_cancelled(cancel)  # a chunk is a fraction of a second; a 30-minute stem is seconds
        silent = ~np.any(x[:, i : i + DC_CHUNK], axis=0)  # digital silence (a stop's break) stays silence
        out[:, i : i + DC_CHUNK], zi = signal.lfilter(b, a, x[:, i : i + DC_CHUNK] - mean, axis=1, zi=zi)
        out[:, i : i + DC_CHUNK][:, silent] = 0.0
    return out


CANCEL_POLL_S = 0.1  # how often a measurement that cannot be cut into chunks looks for a cancel


def _measured(measure, *args, cancel=None, **kwargs):
    """`measure(*args, **kwargs)` (a whole-signal measurement: pyloudnorm's loudness, the true
    peak), returning at once when `cancel` is set: it runs on its own thread, which is left to
    finish in the background (a second or so on a long mix) while the job stops now."""
    if cancel is None:
        return measure(*args, **kwargs)
    box: dict = {}

    def run():
        try:
            box["value"] = measure(*args, **kwargs)
        except BaseException as error:  # noqa: BLE001 — re-raised on the job's thread
            box["error"] = error

    thread = threading.Thread(target=run, name="post-measure", daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(CANCEL_POLL_S)
        check_cancelled(cancel)
    if "error" in box:
        raise box["error"]
    return box["value"]


def _own(x, frames: int, channels: int, sample_rate: int, consume: bool, cancel=None) -> np.ndarray:
    """A (channels, frames) float32, DC-free array post-processing may change in place: the
    model's own array when `consume` and it already has that shape, else a new one."""
    x = _fit_length(x, frames)
    if (consume and x.shape == (channels, frames) and x.dtype == np.float32 and x.flags.writeable
            and x.flags.c_contiguous):
        return _remove_dc(x, sample_rate, out=x, cancel=cancel)
    return _remove_dc(np.broadcast_to(x, (channels, frames)), sample_rate, cancel=cancel)


def _sum(parts: dict) -> np.ndarray:
    """The sum of (ch, frames) arrays, accumulated one by one (no stacked copy of them all)."""
    values = iter(parts.values())
    total = np.array(next(values), dtype=np.float32)
    for x in values:
        total += x
    return total


class _MixView:
    """The sum of (ch, frames) stems as the level meters read it: `view[:, a:b]` sums that span
    only (in _sum's order: the same bits as that span of the whole sum), so the mix is made
    whole once, at the end, when no gain curve or peak detector is left beside it."""

    def __init__(self, parts: dict):
        self.parts = list(parts.values())
        self.shape = self.parts[0].shape
        self.size = self.parts[0].size

    def __getitem__(self, key) -> np.ndarray:
        total = np.array(self.parts[0][key], dtype=np.float32)
        for x in self.parts[1:]:
            total += x[key]
        return total


APPLY_CHUNK = 1 << 20  # frames of a span-made gain curve applied per step


def _apply(parts: dict, gain, cancel=None) -> tuple[dict, _MixView]:
    """Every stem times the same gain curve, IN PLACE (post-processing's own copies), and their
    sum as a view the meters read a span at a time: the mix is the sum of the stems. `gain`: a
    number, a (frames,) curve, or a Curve made a span at a time (never whole)."""
    if callable(gain):
        frames = next(iter(parts.values())).shape[1]
        for i in range(0, frames, APPLY_CHUNK):
            check_cancelled(cancel)
            g = gain(i, min(frames, i + APPLY_CHUNK))
            for x in parts.values():
                x[:, i : i + len(g)] *= g
        return parts, _MixView(parts)
    gain = np.asarray(gain, dtype=np.float32)
    for x in parts.values():
        check_cancelled(cancel)
        x *= gain
    return parts, _MixView(parts)


def _fade(x: np.ndarray, sample_rate: int, ends: bool = True, start: int = 0, frames: int | None = None) -> np.ndarray:
    """x (..., frames) faded in place: 0 at the first and at the last sample, raised-cosine
    ramps between (only the ends are touched). `ends=False` (a loop: its end leads into its
    start) leaves it as it is. With `start` and `frames`, x holds frames start.. of a take
    `frames` long (a span of a curve), and only the ramps' part inside it is applied."""
    n = x.shape[-1]
    frames = n if frames is None else frames
    if not ends:
        return x
    n_in = min(max(1, int(FADE_IN_S * sample_rate)), frames // 4 or 1)
    n_out = min(max(1, int(FADE_OUT_S * sample_rate)), frames // 4 or 1)
    a, b = start, min(start + n, n_in)
    if a < b:
        x[..., : b - a] *= (0.5 - 0.5 * np.cos(np.pi * np.arange(n_in) / n_in)).astype(np.float32)[a:b]
    a, b = max(start, frames - n_out), start + n
    if a < b:
        ramp = (0.5 + 0.5 * np.cos(np.pi * np.arange(1, n_out + 1) / n_out)).astype(np.float32)
        x[..., a - start : b - start] *= ramp[a - (frames - n_out) : b - (frames - n_out)]
    return x


def _limit_to(static: float) -> float:
    """The limiter's ceiling for the signal before `static`: peaks * static * gain <= the aim."""
    return 10.0 ** ((TRUE_PEAK_CEILING_DBTP - LIMIT_MARGIN_DB) / 20.0) / static


def _limited(peaks: np.ndarray, static: float, sr: int, into: np.ndarray | None = None) -> np.ndarray:
    """Limiter gain (frames,) for the signal whose true peaks are `peaks`, raised by `static`
    (with `into`: that array times the gain, in place)."""
    return limiter_gain(peaks, _limit_to(static), sr, into=into)


def _times_after(x: np.ndarray, peaks: np.ndarray, static: float, sr: int, ends: bool = True) -> np.ndarray:
    """x (frames,) times all the gain after the compressor (the limiter's, the static gain, the
    fades), in place, a chunk at a time: that curve is never whole. `x` may be `peaks`."""
    _limited(peaks, static, sr, into=x)
    x *= np.float32(static)
    return _fade(x, sr, ends)


def _after_compressor(shaped: Curve, peaks: np.ndarray, static: float, sr: int, frames: int,
                      ends: bool = True) -> Curve:
    """The whole gain from the compressor on (the compressor's `shaped`, the limiter's, the
    static gain, the fades) as spans: _times_after(shaped, ...)'s bits, never a whole curve."""
    limiter = limiter_curve(peaks, _limit_to(static), sr)

    def span(i0: int, i1: int) -> np.ndarray:
        g = shaped(i0, i1)
        g *= limiter(i0, i1)
        g *= np.float32(static)
        return _fade(g, sr, ends, start=i0, frames=frames)

    return span


def _times(curve: Curve, gain: np.ndarray) -> Curve:
    """`curve` times the (frames,) `gain`, as spans."""
    def span(i0: int, i1: int) -> np.ndarray:
        g = curve(i0, i1)
        g *= gain[i0:i1]
        return g

    return span


def _search_static(peaks, shaped: Curve, static: float, estimate: GainLoudness, target: float, sr: int) -> float:
    """The static gain whose limited result meets `target` by the fast estimate (limiting
    lowers loudness, so a few rounds)."""
    for _ in range(6):
        limiter = limiter_curve(peaks, _limit_to(static), sr)

        def trial(i0: int, i1: int, limiter=limiter, static=static) -> np.ndarray:
            g = limiter(i0, i1)  # the trial gain a span at a time: a 10-minute curve is 115 MB
            g *= shaped(i0, i1)
            g *= np.float32(static)
            return g

        error = target - estimate.lufs(trial)
        if abs(error) <= LOUDNESS_TOLERANCE_LU:
            break
        static *= 10.0 ** (error / 20.0)
    return static


LOOP_WARMUP_S = 2.0  # a loop is finished with this much of its own end before it (its gain going round)
LOOP_LOOKAHEAD_S = 0.1  # ... and this much of its start after it, for the limiter's look-ahead


def _finish_loop(output: ModelOutput, analysis, options: ScoreOptions, cancel=None) -> FinishedScore:
    """A loop finished as it plays: round and round. The DC blocker, the compressor and the
    limiter start with the state the loop's own end leaves them in (its end is put before it, its
    start after it, and both are cut off again), so the join gets no step from post-processing."""
    from dataclasses import replace

    sr = int(output.sample_rate)
    frames = int(round(float(analysis.duration_s) * sr))
    before, after = min(int(LOOP_WARMUP_S * sr), frames), min(int(LOOP_LOOKAHEAD_S * sr), frames)

    def round_trip(x):
        x = _fit_length(x, frames)
        return np.concatenate([x[:, frames - before :], x, x[:, :after]], axis=1)

    padded = replace(output, stems={k: round_trip(x) for k, x in output.stems.items()},
                     native_mix=None if output.native_mix is None else round_trip(output.native_mix))
    shift = before / sr
    longer = replace(analysis, duration_s=(before + frames + after) / sr,
                     speech_times_s=np.asarray(analysis.speech_times_s) + shift)
    done = _finish(padded, longer, replace(options, tail_s=0.0), consume=True, cancel=cancel, ends=False)
    keep = slice(before, before + frames)
    mix = np.ascontiguousarray(done.mix[:, keep])
    stems = {k: np.ascontiguousarray(x[:, keep]) for k, x in done.stems.items()}
    return replace(done, mix=mix, stems=stems, loudness_lufs=integrated_loudness(mix, sr),
                   true_peak_dbtp=true_peak_dbtp(mix))


def finish(output: ModelOutput, analysis, options: ScoreOptions, *, consume: bool = False,
           cancel=None) -> FinishedScore:
    """Post-process a model's output into the finished score the server streams.

    `consume=True` lets it work in the model's own stem arrays (they are changed): on a
    10-minute segment that saves a copy of all four stems (~0.9 GB at 48 kHz). `cancel` (a
    threading.Event) is checked between stages, so a cancelled long job stops here too.

    Length: exactly round(analysis.duration_s * sample_rate) frames. Loudness: options.loudness_lufs
    (BS.1770 integrated) within LOUDNESS_TOLERANCE_LU, true peak <= -1 dBTP. Stems: those the model
    gave that the options ask for; the mix is the sum of every stem the model gave.
    """
    if options.loop:
        return _finish_loop(output, analysis, options, cancel)
    return _finish(output, analysis, options, consume=consume, cancel=cancel, ends=True)


def _finish(output: ModelOutput, analysis, options: ScoreOptions, *, consume: bool, cancel,
            ends: bool) -> FinishedScore:
    """finish's work; `ends=False` leaves the first and last samples unfaded (a loop's)."""
    sr = int(output.sample_rate)
    frames = int(round((float(analysis.duration_s) + float(options.tail_s)) * sr))  # a ring-out lengthens it
    extra: dict = dict(output.extra)  # the model's own notes for score.json travel with the result
    if output.native_mix is not None:
        parts = {"mix": output.native_mix}
    else:
        parts = dict(output.stems)
    if not parts or frames == 0:
        mix = np.zeros((2, frames), dtype=np.float32)
        return FinishedScore(sr, mix, {}, output.plan, float("-inf"), float("-inf"),
                             extra={**extra, "post": "no audio to finish"})
    channels = max(2, *(np.atleast_2d(x).shape[0] for x in parts.values()))  # mono parts become stereo
    owned = map_ordered(lambda x: _own(x, frames, channels, sr, consume, cancel), parts.values())  # a stem a thread
    parts = dict(zip(parts, owned, strict=True))
    check_cancelled(cancel)

    # Dialogue: a presence dip in the busy stems, then one duck curve for everything.
    gain = None  # the dialogue duck curve (frames,), when there is one
    spans: list = []  # where someone talks, and how loud (LUFS) each line is
    if options.duck_dialogue:
        s = settings_for(options)
        spans = speech_spans(analysis.speech_times_s, analysis.speech, frames / sr, s)
        if spans:
            amount = duck_amount(spans, frames, sr, s)
            for name in DIPPED_STEMS:
                if name in parts:
                    parts[name] = presence_dip(parts[name], amount, sr, s)
            del amount
            dialogue = dialogue_loudness(spans, analysis.speech_times_s, analysis.speech,
                                         getattr(analysis, "speech_lufs", np.zeros(0)), s)
        else:  # said, so an undecodable sound is not taken for silence
            extra["duck_note"] = ("nothing was ducked: no speech was heard in the clips" if len(analysis.speech_times_s)
                                  else "nothing was ducked: the clips have no sound Scorecut could read (no audio "
                                  "track, or one that cannot be decoded)")

    # Per-frame curves and mix-sized temporaries are released as soon as they are used: on a
    # 10-minute segment each curve is 115 MB and each stereo temporary 230 MB. Until the end the
    # mix is read through _MixView, so it is made whole after the last curve is gone.
    check_cancelled(cancel)
    mix0 = _MixView(parts)  # the stems' sum, read a span at a time: never whole (230 MB saved)
    target = float(options.loudness_lufs)
    estimate = GainLoudness(mix0, sr)
    if spans:  # each line's cut, set against that line's loudness once the music is at its target
        depths = depths_under_dialogue(spans, dialogue, estimate, float(options.loudness_lufs), MAX_BOOST_DB,
                                       frames, sr, s)
        gain = duck_gain_for(spans, depths, frames, sr, s)
    check_cancelled(cancel)
    level0 = estimate.lufs(1.0 if gain is None else gain)
    if not np.isfinite(level0) or level0 < SILENCE_LUFS:
        # Near silence: normalising would only raise noise. Keep it as it is, said in the result.
        extra["loudness_note"] = "the music is near silent; its loudness was left as it is"
        del mix0
        fades = _fade(np.ones(frames, dtype=np.float32) if gain is None else gain, sr, ends)
        stems, mix = _apply(parts, fades)
        loudness, tp_estimate, peaks = None, None, None
    else:
        static = 10.0 ** (min(target - level0, MAX_BOOST_DB) / 20.0)
        capped = target - level0 > MAX_BOOST_DB
        if capped:
            extra["loudness_note"] = f"the music is very quiet; raised by at most {MAX_BOOST_DB:.0f} dB"
        # The compressor hears the mix after the duck and the static gain; a static gain only
        # moves the level, so it moves the threshold instead (no scaled copy of anything).
        threshold = target + COMP_ABOVE_TARGET_DB - 20.0 * np.log10(static)
        # The gain from here on is made a span at a time where it is used: no 115 MB curve is
        # kept beside the detector's peaks (the duck curve, when there is one, stays whole).
        shaped = compressor_curve(mix0, sr, threshold, pre_gain=gain, cancel=cancel)
        if gain is not None:
            shaped = _times(shaped, gain)
        check_cancelled(cancel)
        peaks = true_peak_per_frame(mix0, shaped, cancel=cancel)  # limiting scales with the static gain: once
        del mix0
        check_cancelled(cancel)
        if not capped:
            static = _search_static(peaks, shaped, static, estimate, target, sr)
        check_cancelled(cancel)
        # The gain from the compressor on is applied a span at a time, never kept whole.
        stems, mix = _apply(parts, _after_compressor(shaped, peaks, static, sr, frames, ends), cancel)
        del shaped, gain
        check_cancelled(cancel)
        # The reported measure is pyloudnorm's; where the fast estimate strayed, correct by it.
        error = target - _measured(integrated_loudness, mix, sr, cancel=cancel)
        check_cancelled(cancel)
        if abs(error) > 0.5 and not capped:
            old, static = static, static * 10.0 ** (error / 20.0)
            # The stems already carry the old gain: apply the change relative to it.
            change = _times_after(np.ones(frames, dtype=np.float32), peaks, static, sr, ends)
            before = _times_after(np.ones(frames, dtype=np.float32), peaks, old, sr, ends)
            np.divide(change, before, out=change, where=before > 0)
            del before
            stems, mix = _apply(stems, change)
            del change
            loudness = None
        else:
            loudness = target - error
        # The detector's peaks under the gain applied since them: the meter's guide.
        tp_estimate = _times_after(peaks, peaks, static, sr, ends)
    check_cancelled(cancel)
    tp = _measured(true_peak_dbtp, mix, estimate=tp_estimate, cancel=cancel)
    check_cancelled(cancel)
    del tp_estimate, peaks  # the same array: no per-frame curve is left
    if tp > TRUE_PEAK_CEILING_DBTP - TRUE_PEAK_SAFETY_DB:  # the gain curve bent a peak: trim it
        trim_db = TRUE_PEAK_CEILING_DBTP - LIMIT_MARGIN_DB / 2 - tp
        stems, mix = _apply(stems, np.float32(10.0 ** (trim_db / 20.0)))
        tp += trim_db  # a static gain moves the true peak and the loudness exactly
        loudness = None if loudness is None else loudness + trim_db
    if spans:  # the last word: no line has music less than amount_lu under it after every gain
        finished = GainLoudness(mix, sr)
        over = over_dialogue(finished.power, finished.sub, spans, dialogue, sr, s)
        if any(o > 0 for o in over):
            depths = [d + o for d, o in zip(depths, over, strict=True)]
            stems, mix = _apply(stems, duck_gain_for(spans, over, frames, sr, s))
            loudness = None
        down = [ducked_span(span, s) for span in spans]  # where the music is fully down
        extra["ducked_spans"] = [
            {"start_s": round(a, 3), "end_s": round(b, 3), "depth_db": round(float(db), 2),
             "dialogue_lufs": None if d is None else round(d, 2)}
            for (a, b), db, d in zip(down, depths, dialogue, strict=True)]
        extra["ducked_spans_s"] = [[round(a, 3), round(b, 3)] for a, b in down]
    mix = _sum(stems)  # whole now: the stems' sum, as every meter above read it
    wanted = set(options.stems)
    kept = {} if output.native_mix is not None else {k: v for k, v in stems.items() if k in wanted}
    return FinishedScore(
        sample_rate=sr,
        mix=mix,
        stems=kept,
        plan=output.plan,
        loudness_lufs=_measured(integrated_loudness, mix, sr, cancel=cancel) if loudness is None else loudness,
        true_peak_dbtp=tp,
        extra=extra,
    )
