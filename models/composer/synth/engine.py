"""Arrangement -> stems: instruments, per-stem effects, each stem's share of the shared reverb.

Each stem is finished on its own (its reverb return included), so the mix is exactly the sum of
the stems. Every stem draws from its own random stream, seeded from (seed, stem index): asking for
fewer stems does not change the ones that are rendered.
"""

from __future__ import annotations

import threading

import numpy as np

from ...interface import STEMS, check_cancelled
from ..events import Arrangement
from .drums import render_drums
from .envelopes import fade_window
from .instruments import render_part
from .mixing import highpass, reverb_return, saturate, tempo_delay

# Gain per stem: the balance of a library-music mix (drums as the reference; bass a little under
# it, the harmony bed well under, the melody between). Post-processing sets the overall loudness.
STEM_GAIN = {"drums": 0.55, "bass": 0.5, "harmony": 0.32, "melody": 0.3}
DEFAULT_SEND = {"drums": 0.12, "bass": 0.03, "harmony": 0.35, "melody": 0.28}
DEFAULT_INSTRUMENT = {"drums": "electronic", "bass": "synth", "harmony": "pad", "melody": "lead"}
TAIL_FADE_S = 0.5  # what still rings at tail_end_s fades over this long, never a step


def _stem_effects(stem: str, preset: str, x: np.ndarray, arrangement: Arrangement, sr: int) -> np.ndarray:
    """Per-stem insert effects on a (2, n) stem, before its reverb send."""
    if stem == "bass":
        x = highpass(saturate(x, 1.6), 30.0, sr)
        return np.repeat(x.mean(axis=0, keepdims=True), 2, axis=0)  # bass sits dead centre
    if stem == "harmony":
        return highpass(x, 110.0, sr)  # leave the low end to the bass
    if stem == "melody":
        x = highpass(x, 160.0, sr)
        if preset in ("lead", "pluck", "bell"):
            x = x + tempo_delay(x, arrangement.plan.tempo_bpm, sr)
        return x
    return x


def render_stem(arrangement: Arrangement, stem: str, sample_rate: int, seed: int, cancel=None) -> np.ndarray:
    """One stem, (2, round(duration_s * sample_rate)) float32, silent from tail_end_s on."""
    n = int(round(arrangement.duration_s * sample_rate))
    rng = np.random.default_rng((int(seed) & 0xFFFFFFFF, STEMS.index(stem)))
    preset = arrangement.instruments.get(stem, DEFAULT_INSTRUMENT[stem])
    check = lambda: check_cancelled(cancel)  # noqa: E731
    if stem == "drums":
        x = render_drums(arrangement.drums, preset, n, sample_rate, rng, check)
    else:
        x = render_part(getattr(arrangement, stem), preset, stem, n, sample_rate, rng, check)
    check()
    x = _stem_effects(stem, preset, x, arrangement, sample_rate)
    send = arrangement.reverb_send.get(stem, DEFAULT_SEND[stem])
    x = x + reverb_return(x, float(send), sample_rate)
    tail_end = arrangement.tail_end_s if arrangement.tail_end_s > 0 else arrangement.duration_s
    end = int(round(min(tail_end, arrangement.duration_s) * sample_rate))
    x *= fade_window(n, end, int(TAIL_FADE_S * sample_rate))[None, :]
    x *= STEM_GAIN[stem]
    return np.ascontiguousarray(x, dtype=np.float32)


def render(
    arrangement: Arrangement,
    sample_rate: int,
    seed: int,
    stems: tuple[str, ...] = STEMS,
    cancel: threading.Event | None = None,
) -> dict[str, np.ndarray]:
    """Synthesize the requested stems: name -> (2, round(duration_s * sample_rate)) float32."""
    unknown = [s for s in stems if s not in STEMS]
    if unknown:
        raise ValueError(f"unknown stems {unknown}; choose from {', '.join(STEMS)}")
    out = {}
    for stem in STEMS:  # a fixed order: the result never depends on the order asked
        if stem in stems:
            check_cancelled(cancel)
            out[stem] = render_stem(arrangement, stem, sample_rate, seed, cancel)
    return out
