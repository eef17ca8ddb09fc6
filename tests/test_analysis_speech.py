"""The speech detector (Silero VAD) on its own, fed 16 kHz audio in small chunks as decoding
delivers it: speech (espeak-ng) is found and its loudness measured; music-like sounds with a
steady pulse, tones and noise are not speech."""

from __future__ import annotations

import numpy as np
import pytest

from scorecut.models.analysis.speech import RATE, SpeechAccumulator
from tests.helpers.speech import speech

N = RATE * 8  # 8 s
T = np.arange(N) / RATE


def _detect(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    acc = SpeechAccumulator()
    for i in range(0, len(x), 341):  # AAC frames resampled to 16 kHz are about this long
        acc.add(x[i : i + 341].astype(np.float32))
    return acc.finish()


def _speech_like(start: float, end: float, seed: int = 0, level_dbfs: float = -20.0) -> np.ndarray:
    """Sentences read by espeak-ng between `start` and `end`, silence elsewhere."""
    x = np.zeros(N)
    i0, i1 = int(start * RATE), int(end * RATE)
    x[i0:i1] = speech(end - start, RATE, seed=seed, level_dbfs=level_dbfs)[: i1 - i0]
    return x


def _drums() -> np.ndarray:
    rng = np.random.default_rng(1)
    x = np.zeros(N)
    for k in np.arange(0, 8, 0.5):  # a kick every beat at 120 BPM
        i, n = int(k * RATE), int(0.15 * RATE)
        tt = np.arange(n) / RATE
        x[i : i + n] += 0.8 * np.sin(2 * np.pi * (60 + 80 * np.exp(-tt * 30)) * tt) * np.exp(-tt * 20)
    for k in np.arange(0.25, 8, 0.5):  # off-beat hats
        i, n = int(k * RATE), int(0.05 * RATE)
        x[i : i + n] += 0.2 * rng.normal(size=n) * np.exp(-np.arange(n) / RATE * 80)
    return x


def test_speech_spans_are_found_and_timed():
    times, prob = _detect(_speech_like(2.0, 5.5))
    assert len(times) == len(prob) and np.all(np.diff(times) > 0)
    assert abs(times[-1] - 8.0) < 0.05  # a curve over the whole input (32 ms windows)
    inside = (times > 2.3) & (times < 5.2)
    outside = (times < 1.6) | (times > 5.9)
    assert prob[inside].mean() > 0.7 and prob[outside].max() < 0.2


def test_loudness_follows_the_voice():
    acc = SpeechAccumulator()
    acc.add(_speech_like(2.0, 5.5, level_dbfs=-32.0).astype(np.float32))
    times, prob = acc.finish()
    quiet = acc.loudness_lufs
    assert len(quiet) == len(times)
    talking = prob > 0.5
    assert talking.mean() > 0.3  # 12 dB quieter is still speech
    again = SpeechAccumulator()
    again.add(_speech_like(2.0, 5.5, level_dbfs=-20.0).astype(np.float32))
    again.finish()
    power = lambda lufs: 10 * np.log10(np.mean(10 ** (lufs[talking] / 10)))  # noqa: E731
    assert abs(power(again.loudness_lufs) - power(quiet) - 12.0) < 0.5
    assert quiet[~talking & (times < 1.5)].max() <= -100.0  # silence reads as silence


def test_quiet_speech_over_a_noise_floor():
    rng = np.random.default_rng(2)
    x = _speech_like(1.0, 7.0, level_dbfs=-35.0) + 0.001 * rng.normal(size=N)  # speech 25 dB over room tone
    times, prob = _detect(x)
    assert prob[(times > 1.3) & (times < 6.7)].mean() > 0.6


@pytest.mark.parametrize("name", ["drums", "tremolo_pad", "tone", "white_noise", "silence"])
def test_other_sounds_are_not_speech(name):
    rng = np.random.default_rng(3)
    x = {
        "drums": _drums,
        "tremolo_pad": lambda: sum(np.sin(2 * np.pi * f * T) for f in (220, 277, 330)) * 0.1
        * (1 + 0.9 * np.sin(2 * np.pi * 5 * T)),
        "tone": lambda: 0.2 * np.sin(2 * np.pi * 220 * T),
        "white_noise": lambda: 0.1 * rng.normal(size=N),
        "silence": lambda: np.zeros(N),
    }[name]()
    _, prob = _detect(x)
    if name == "tremolo_pad":
        # A chord swelling at 5 Hz (the syllable rate) is the voice-activity model's known weak
        # spot: it reads as speech for a little while before the model's state settles.
        assert prob.mean() < 0.25 and np.mean(prob > 0.5) < 0.12, (name, prob.mean())
        return
    assert prob.mean() < 0.1 and np.mean(prob > 0.5) < 0.02, (name, prob.mean())
