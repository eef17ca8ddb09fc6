"""Click-free envelopes: every segment joins the next without a step in level.

A step in an amplitude envelope is a click; so attacks are raised-cosine ramps, decays are
exponentials towards the sustain level, and the release starts from whatever level the note had
at note-off and ends exactly at zero with zero slope.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_ATTACK_S = 0.002  # shorter than this, a table read starting mid-cycle clicks
MIN_RELEASE_S = 0.01


@dataclass(frozen=True)
class ADSR:
    attack_s: float
    decay_s: float  # time constant of the fall towards `sustain`
    sustain: float  # 0..1
    release_s: float  # length of the release ramp (ends at exactly 0)


def adsr(env: ADSR, hold_s: float, sample_rate: int) -> np.ndarray:
    """Envelope (n,) float32 of a note held `hold_s` seconds, then released; n covers the release."""
    a = max(env.attack_s, MIN_ATTACK_S)
    r = max(env.release_s, MIN_RELEASE_S)
    n_hold = max(1, int(round(hold_s * sample_rate)))
    n_rel = int(round(r * sample_rate))
    n_att = min(n_hold, int(np.ceil(a * sample_rate)))
    tau = max(env.decay_s, 1e-4)
    t = np.arange(n_hold, dtype=np.float32) * np.float32(1.0 / sample_rate)
    held = env.sustain + (1.0 - env.sustain) * np.exp(-np.maximum(t - a, 0.0) / tau)
    held[:n_att] *= 0.5 - 0.5 * np.cos(np.pi * t[:n_att] / a)  # raised-cosine attack
    # Level where the release starts: one sample past the held part, so the join has no step.
    t_off = n_hold / sample_rate
    level_off = (0.5 - 0.5 * np.cos(np.pi * min(t_off / a, 1.0))) * (
        env.sustain + (1.0 - env.sustain) * np.exp(-max(t_off - a, 0.0) / tau)
    )
    u = np.arange(n_rel, dtype=np.float32) / np.float32(n_rel)  # 0 .. just below 1
    release = level_off * np.exp(-4.0 * u) * (0.5 + 0.5 * np.cos(np.pi * u))
    return np.concatenate([held, release, np.zeros(1, np.float32)]).astype(np.float32)


def percussive(length_s: float, decay_s: float, sample_rate: int, attack_s: float = 0.001) -> np.ndarray:
    """(n,) float32: a short raised-cosine attack, exponential decay, a cosine tail to 0 at the end."""
    n = max(2, int(round(length_s * sample_rate)))
    t = np.arange(n, dtype=np.float64) / sample_rate
    a = max(attack_s, 1.0 / sample_rate)
    env = np.where(t < a, 0.5 - 0.5 * np.cos(np.pi * t / a), 1.0) * np.exp(-np.maximum(t - a, 0.0) / decay_s)
    tail = max(2, n // 8)  # last eighth: fade to exactly zero so truncation cannot click
    env[-tail:] *= 0.5 + 0.5 * np.cos(np.pi * np.arange(1, tail + 1) / tail)
    return env.astype(np.float32)


def fade_window(n: int, end: int, fade: int) -> np.ndarray:
    """(n,) float32: 1 until `end - fade`, a raised-cosine fade reaching 0 at sample `end`, then 0."""
    w = np.zeros(n, dtype=np.float32)
    end = max(0, min(end, n))
    if end == 0:
        return w
    fade = max(1, min(fade, end))
    w[: end - fade] = 1.0
    u = np.arange(fade, dtype=np.float64) / fade
    w[end - fade : end] = 0.5 + 0.5 * np.cos(np.pi * u)
    return w
