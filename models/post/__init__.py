"""Post-processing shared by every model: length, DC, ducking, bus dynamics, loudness, fades.

Every level change after the per-stem presence dip is ONE gain curve computed on the mix and
applied identically to every stem, so the stems always sum to the mix.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from ..interface import TRUE_PEAK_CEILING_DBTP, FinishedScore, ModelOutput, ScoreOptions
from .ducking import DuckSettings, duck_amount, duck_gain, presence_dip, speech_spans
from .dynamics import compressor_gain, limiter_gain
from .levels import SILENCE_LUFS, integrated_loudness, true_peak_dbtp, true_peak_per_frame

__all__ = ["finish"]

DC_CUTOFF_HZ = 15.0
LIMIT_MARGIN_DB = 0.4  # the limiter aims this far under the ceiling: room for the estimate's error
MAX_BOOST_DB = 30.0  # never raise near-silent input more than this (it would be noise)
LOUDNESS_TOLERANCE_LU = 0.2
FADE_IN_S = 0.005
FADE_OUT_S = 0.05
COMP_ABOVE_TARGET_DB = 3.0  # compressor threshold, relative to the target loudness
DIPPED_STEMS = ("harmony", "melody")  # where a voice's presence band competes with the music


def _fit_length(x: np.ndarray, frames: int) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1:
        x = x[None, :]
    if x.shape[1] >= frames:
        return x[:, :frames]
    return np.pad(x, ((0, 0), (0, frames - x.shape[1])))


def _remove_dc(x: np.ndarray, sample_rate: int) -> np.ndarray:
    if x.shape[1] < 64:
        return (x - x.mean(axis=1, keepdims=True)).astype(np.float32)
    sos = signal.butter(2, DC_CUTOFF_HZ / (0.5 * sample_rate), "highpass", output="sos")
    return signal.sosfiltfilt(sos, x, axis=1).astype(np.float32)


def _fades(frames: int, sample_rate: int) -> np.ndarray:
    """(frames,) float32: 0 at the first and at the last sample, raised-cosine ramps between."""
    w = np.ones(frames, dtype=np.float32)
    n_in = min(max(1, int(FADE_IN_S * sample_rate)), frames // 4 or 1)
    n_out = min(max(1, int(FADE_OUT_S * sample_rate)), frames // 4 or 1)
    w[:n_in] = 0.5 - 0.5 * np.cos(np.pi * np.arange(n_in) / n_in)
    w[frames - n_out :] *= 0.5 + 0.5 * np.cos(np.pi * np.arange(1, n_out + 1) / n_out)
    return w


def finish(output: ModelOutput, analysis, options: ScoreOptions) -> FinishedScore:
    """Post-process a model's output into the finished score the server streams.

    Length: exactly round(analysis.duration_s * sample_rate) frames. Loudness: options.loudness_lufs
    (BS.1770 integrated) within LOUDNESS_TOLERANCE_LU, true peak <= -1 dBTP. Stems: those the model
    gave that the options ask for; the mix is the sum of every stem the model gave.
    """
    sr = int(output.sample_rate)
    frames = int(round(float(analysis.duration_s) * sr))
    extra: dict = {}
    if output.native_mix is not None:
        parts = {"mix": output.native_mix}
    else:
        parts = dict(output.stems)
    if not parts or frames == 0:
        mix = np.zeros((2, frames), dtype=np.float32)
        return FinishedScore(sr, mix, {}, output.plan, float("-inf"), float("-inf"), extra={"post": "no audio to finish"})
    channels = max(2, *(np.atleast_2d(x).shape[0] for x in parts.values()))  # mono parts become stereo
    parts = {k: _remove_dc(np.broadcast_to(_fit_length(x, frames), (channels, frames)), sr) for k, x in parts.items()}

    # Dialogue: a presence dip in the busy stems, then one duck curve for everything.
    gain = np.ones(frames, dtype=np.float32)
    if options.duck_dialogue:
        s = DuckSettings()
        spans = speech_spans(analysis.speech_times_s, analysis.speech, frames / sr, s)
        if spans:
            amount = duck_amount(spans, frames, sr, s)
            for name in DIPPED_STEMS:
                if name in parts:
                    parts[name] = presence_dip(parts[name], amount, sr, s)
            gain = duck_gain(amount, s)
            extra["ducked_spans_s"] = [[round(a, 3), round(b, 3)] for a, b in spans]

    mix0 = sum(parts.values())  # (ch, frames) float32
    target = float(options.loudness_lufs)
    ceiling = 10.0 ** ((TRUE_PEAK_CEILING_DBTP - LIMIT_MARGIN_DB) / 20.0)
    level0 = integrated_loudness(mix0 * gain, sr)
    if not np.isfinite(level0) or level0 < SILENCE_LUFS:
        # Near silence: normalising would only raise noise. Keep it as it is, said in the result.
        static = 1.0
        extra["loudness_note"] = "the music is near silent; its loudness was left as it is"
    else:
        static = 10.0 ** (min(target - level0, MAX_BOOST_DB) / 20.0)
        if target - level0 > MAX_BOOST_DB:
            extra["loudness_note"] = f"the music is very quiet; raised by at most {MAX_BOOST_DB:.0f} dB"
        gain = gain * compressor_gain(mix0 * (gain * static), sr, target + COMP_ABOVE_TARGET_DB)
        shaped = mix0 * gain  # (ch, frames): the mix before static gain and limiting
        peaks = true_peak_per_frame(shaped)  # limiting scales with the static gain: measure once
        level = level0
        for _ in range(6):
            lim = limiter_gain(peaks * static, ceiling, sr)
            level = integrated_loudness(shaped * (lim * static), sr)
            error = target - level
            if abs(error) <= LOUDNESS_TOLERANCE_LU or "loudness_note" in extra:
                break
            static *= 10.0 ** (error / 20.0)
        gain = gain * lim * static
    gain = gain * _fades(frames, sr)

    stems = {k: (x * gain).astype(np.float32) for k, x in parts.items()}
    mix = np.sum(list(stems.values()), axis=0, dtype=np.float32)
    tp = true_peak_dbtp(mix)
    if tp > TRUE_PEAK_CEILING_DBTP:  # the estimate missed (gain curves bend the waveform): trim
        trim = 10.0 ** ((TRUE_PEAK_CEILING_DBTP - LIMIT_MARGIN_DB / 2 - tp) / 20.0)
        stems = {k: (x * trim).astype(np.float32) for k, x in stems.items()}
        mix = np.sum(list(stems.values()), axis=0, dtype=np.float32)
        tp = true_peak_dbtp(mix)
    wanted = set(options.stems)
    kept = {} if output.native_mix is not None else {k: v for k, v in stems.items() if k in wanted}
    return FinishedScore(
        sample_rate=sr,
        mix=mix,
        stems=kept,
        plan=output.plan,
        loudness_lufs=integrated_loudness(mix, sr),
        true_peak_dbtp=tp,
        extra=extra,
    )
