"""Pitched instruments: bass, pads, strings, keys, plucks, lead, bell.

Each preset turns one Note into a stereo (2, m) float32 voice at a work rate; `render_part` lays the
voices into a stem. Presets whose sound lives below ~5 kHz (pads, strings, bass) run at half the
sample rate and are resampled up once per stem: half the work, and nothing lost that was there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import signal

from ..events import Note
from .envelopes import ADSR, adsr
from .mixing import pan_gains
from .oscillators import (
    fm_voice,
    karplus_strong_loop,
    make_bank,
    phase_constant,
    phase_from_freq,
    pluck_excitation,
    read_bank,
)


def midi_hz(pitch: float) -> float:
    return 440.0 * 2.0 ** ((pitch - 69.0) / 12.0)


def velocity_gain(v: float) -> float:
    """Velocity 0..1 to amplitude: about 30 dB of range, most of it in the upper half."""
    return float(np.clip(v, 0.0, 1.0)) ** 1.6


def pitch_pan(pitch: int, width: float = 0.35) -> float:
    """Keyboard-style placement: low notes a little left, high notes a little right."""
    return float(np.clip((pitch - 60) / 24.0, -1.0, 1.0) * width)


class Context:
    """Per-part state: work rate, the part's random stream, caches of tables and string loops."""

    def __init__(self, sample_rate: int, rng: np.random.Generator):
        self.sr = sample_rate
        self.rng = rng
        self._banks: dict = {}
        self._loops: dict = {}

    def bank(self, f0: float, wave: str, cutoffs: tuple[float, ...], resonance: float, ratio: float = 1.02):
        key = (round(f0, 4), wave, cutoffs, resonance, ratio)
        if key not in self._banks:
            self._banks[key] = make_bank(f0, self.sr, wave, np.array(cutoffs), resonance, ratio)
        return self._banks[key]

    def string_loop(self, f0: float, n: int, decay_s: float) -> np.ndarray:
        key = (round(f0, 4), decay_s)
        loop = self._loops.get(key)
        if loop is None or len(loop) < n:
            loop = karplus_strong_loop(f0, self.sr, max(n, int(decay_s * self.sr)), decay_s)
            self._loops[key] = loop
        return loop[:n]


Voice = Callable[[Note, Context], tuple[np.ndarray, float]]  # -> ((m,) or (2, m) float32, pan)


def _stereo_voices(ctx: Context, n: int, f0: float, cents, pans, make_phase, cutoff, bank) -> np.ndarray:
    out = np.zeros((2, n), dtype=np.float32)
    for c, p in zip(cents, pans):
        y = read_bank(bank, make_phase(f0 * 2.0 ** (c / 1200.0)), cutoff)
        gl, gr = pan_gains(p)
        out[0] += gl * y
        out[1] += gr * y
    return out / np.sqrt(len(cents))


def pad(note: Note, ctx: Context):
    """5 detuned saws (+-12 cents), low-pass ~2.5 kHz breathing slowly, slow attack, long release."""
    env = adsr(ADSR(0.7, 1.5, 0.85, 1.6), note.duration_s, ctx.sr)
    n, f0 = len(env), midi_hz(note.pitch)
    t = np.arange(n) / ctx.sr
    cutoff = 2400.0 * 2.0 ** (0.35 * np.sin(2 * np.pi * 0.13 * t + ctx.rng.uniform(0, 6.3)))
    bank = ctx.bank(f0, "saw", (1500.0, 2400.0, 3800.0), 0.15, ratio=1.01)
    phase0 = ctx.rng.random(5)
    it = iter(phase0)
    out = _stereo_voices(
        ctx, n, f0, (-12, -5, 0, 6, 13), (-0.85, -0.4, 0.0, 0.45, 0.9),
        lambda f: phase_constant(n, f, ctx.sr, next(it)), cutoff, bank,
    )
    return out * (env * velocity_gain(note.velocity)), 0.0


def strings(note: Note, ctx: Context):
    """4 saws with independent 5 Hz vibrato (fading in), low-pass 3.5 kHz, bowed attack."""
    env = adsr(ADSR(0.35, 2.0, 0.9, 0.9), note.duration_s, ctx.sr)
    n, f0 = len(env), midi_hz(note.pitch)
    t = np.arange(n) / ctx.sr
    depth = 0.004 * np.minimum(t / 0.6, 1.0)  # about 7 cents once the note has settled
    bank = ctx.bank(f0, "saw", (3500.0,), 0.0, ratio=1.012)
    rates = 5.0 + ctx.rng.uniform(-0.4, 0.4, 4)
    phases = ctx.rng.uniform(0, 2 * np.pi, 4)
    it = iter(range(4))

    def make_phase(f):
        i = next(it)
        return phase_from_freq(f * (1.0 + depth * np.sin(2 * np.pi * rates[i] * t + phases[i])), ctx.sr, ctx.rng.random())

    out = _stereo_voices(ctx, n, f0, (-8, -3, 3, 8), (-0.7, -0.25, 0.25, 0.7), make_phase, None, bank)
    return out * (env * velocity_gain(note.velocity)), 0.0


def epiano(note: Note, ctx: Context):
    """FM electric piano: a 1:1 pair for the body, a 1:14 pair whose index dies fast for the tine."""
    env = adsr(ADSR(0.002, 1.6, 0.0, 0.35), min(note.duration_s, 6.0), ctx.sr)
    n, f0 = len(env), midi_hz(note.pitch)
    t = np.arange(n) / ctx.sr
    v = float(np.clip(note.velocity, 0.0, 1.0))
    body = fm_voice(n, f0, ctx.sr, 1.0, (0.3 + 1.2 * v) * np.exp(-t / 0.9))
    tine = fm_voice(n, f0, ctx.sr, 14.0, (0.5 + 1.5 * v) * np.exp(-t / 0.025))
    y = (body + 0.35 * tine * np.exp(-t / 0.4).astype(np.float32)) * env
    return y * velocity_gain(note.velocity), pitch_pan(note.pitch)


def piano(note: Note, ctx: Context):
    """Hammered-string tables (two strings, 1.5 cents apart) whose brightness falls as they ring."""
    env = adsr(ADSR(0.003, 0.5, 0.4, 0.3), min(note.duration_s, 8.0), ctx.sr)
    n, f0 = len(env), midi_hz(note.pitch)
    t = np.arange(n) / ctx.sr
    env = env * np.exp(-t / 5.0).astype(np.float32)
    v = float(np.clip(note.velocity, 0.0, 1.0))
    cutoff = 700.0 + (2500.0 + 5000.0 * v) * np.exp(-t / 0.5)
    bank = ctx.bank(f0, "hammer", (700.0, 1400.0, 2800.0, 5600.0, 8500.0), 0.0)
    y = read_bank(bank, phase_constant(n, f0 * 2 ** (0.75 / 1200), ctx.sr, ctx.rng.random()), cutoff)
    y += read_bank(bank, phase_constant(n, f0 * 2 ** (-0.75 / 1200), ctx.sr, ctx.rng.random()), cutoff)
    return 0.6 * y * env * velocity_gain(note.velocity), pitch_pan(note.pitch)


def pluck(note: Note, ctx: Context):
    """Karplus–Strong string: noise excitation through a tuned, damped loop (guitar / harp-ish)."""
    f0 = midi_hz(note.pitch)
    decay = float(np.clip(2.5 * (200.0 / f0) ** 0.5, 0.5, 4.0))
    env = adsr(ADSR(0.002, 100.0, 1.0, 0.15), min(note.duration_s, decay * 1.1), ctx.sr)
    n = len(env)
    x = pluck_excitation(f0, ctx.sr, ctx.rng, 0.35 + 0.55 * float(np.clip(note.velocity, 0, 1)))
    y = signal.oaconvolve(x, ctx.string_loop(f0, n, decay))[:n].astype(np.float32)
    return 0.7 * y * env * velocity_gain(note.velocity), pitch_pan(note.pitch)


def lead(note: Note, ctx: Context):
    """Two saws (+-7 cents) through a resonant low-pass with a pluck on the cutoff; late vibrato."""
    env = adsr(ADSR(0.012, 0.35, 0.75, 0.25), note.duration_s, ctx.sr)
    n, f0 = len(env), midi_hz(note.pitch)
    t = np.arange(n) / ctx.sr
    v = float(np.clip(note.velocity, 0.0, 1.0))
    cutoff = 1400.0 * 2.0 ** (1.6 * v * np.exp(-t / 0.2)) * 2.0 ** (-0.4 * np.minimum(t / 1.5, 1.0))
    vib = 1.0 + 0.006 * np.sin(2 * np.pi * 5.5 * t) * np.clip((t - 0.25) / 0.3, 0.0, 1.0)
    bank = ctx.bank(f0, "saw", (900.0, 1400.0, 2200.0, 3400.0, 5200.0), 0.3, ratio=1.012)
    out = _stereo_voices(
        ctx, n, f0, (-7, 7), (-0.15, 0.15),
        lambda f: phase_from_freq(f * vib, ctx.sr, ctx.rng.random()), cutoff, bank,
    )
    return out * (env * velocity_gain(note.velocity)), 0.0


def bell(note: Note, ctx: Context):
    """FM bell: inharmonic 1:3.5 pair with a decaying index, plus a pure partial an octave up."""
    env = adsr(ADSR(0.002, 1.4, 0.0, 0.6), min(note.duration_s, 5.0), ctx.sr)
    n, f0 = len(env), midi_hz(note.pitch)
    t = np.arange(n) / ctx.sr
    y = fm_voice(n, f0, ctx.sr, 3.5, 2.2 * np.exp(-t / 0.5))
    y += 0.3 * fm_voice(n, 2 * f0, ctx.sr, 1.0, np.zeros(1)) * np.exp(-t / 0.6).astype(np.float32)
    return 0.6 * y * env * velocity_gain(note.velocity), pitch_pan(note.pitch, 0.2)


@dataclass(frozen=True)
class BassPreset:
    wave: str
    cutoffs: tuple[float, ...]
    resonance: float
    base_cutoff_hz: float  # where the filter settles
    env_octaves: float  # how far the cutoff envelope opens at full velocity
    env_decay_s: float
    adsr: ADSR
    sub: float  # level of a pure sine one octave... at pitch, under the filtered voice: roundness


BASSES = {
    "sub": BassPreset("subsine", (4000.0,), 0.0, 4000.0, 0.0, 0.1, ADSR(0.006, 0.4, 0.9, 0.08), 0.0),
    "synth": BassPreset("saw", (150.0, 300.0, 600.0, 1200.0, 2400.0, 4800.0), 0.45, 260.0, 2.8, 0.14,
                        ADSR(0.004, 0.4, 0.8, 0.07), 0.45),
    "fingered": BassPreset("saw", (200.0, 400.0, 800.0, 1600.0, 3200.0), 0.1, 420.0, 1.6, 0.09,
                           ADSR(0.003, 0.7, 0.45, 0.07), 0.6),
}


def bass_voice(preset: BassPreset):
    def voice(note: Note, ctx: Context):
        env = adsr(preset.adsr, note.duration_s, ctx.sr)
        n, f0 = len(env), midi_hz(note.pitch)
        t = np.arange(n) / ctx.sr
        v = float(np.clip(note.velocity, 0.0, 1.0))
        phase = phase_constant(n, f0, ctx.sr, 0.0)  # phase 0 with the attack ramp: a clean start
        if len(preset.cutoffs) == 1:
            y = read_bank(ctx.bank(f0, preset.wave, preset.cutoffs, preset.resonance), phase)
        else:
            cutoff = preset.base_cutoff_hz * 2.0 ** (preset.env_octaves * v * np.exp(-t / preset.env_decay_s))
            y = read_bank(ctx.bank(f0, preset.wave, preset.cutoffs, preset.resonance), phase, cutoff)
        if preset.sub > 0:
            y = y + preset.sub * read_bank(ctx.bank(f0, "sine", (4000.0,), 0.0), phase)
        return y * env * velocity_gain(note.velocity), 0.0

    return voice


# preset -> (voice, work-rate divisor)
PRESETS: dict[str, tuple[Voice, int]] = {
    "pad": (pad, 2), "strings": (strings, 2), "epiano": (epiano, 1), "piano": (piano, 1),
    "pluck": (pluck, 1), "lead": (lead, 1), "bell": (bell, 1),
    "sub": (bass_voice(BASSES["sub"]), 2), "synth": (bass_voice(BASSES["synth"]), 2),
    "fingered": (bass_voice(BASSES["fingered"]), 2),
}
DEFAULT_PRESET = {"bass": "synth", "harmony": "pad", "melody": "lead"}


def render_part(notes, preset: str, stem: str, n: int, sample_rate: int, rng, cancel_check) -> np.ndarray:
    """All notes of one stem into (2, n) float32 at `sample_rate`."""
    voice, div = PRESETS.get(preset) or PRESETS[DEFAULT_PRESET[stem]]
    if sample_rate % div:
        div = 1
    sr = sample_rate // div
    n_work = -(-n // div) + 64
    out = np.zeros((2, n_work), dtype=np.float32)
    ctx = Context(sr, rng)
    for i, note in enumerate(sorted(notes, key=lambda x: (x.start_s, x.pitch))):
        if i % 32 == 0:
            cancel_check()
        start = int(round(note.start_s * sr))
        if start >= n_work - 64 or note.duration_s <= 0 or note.velocity <= 0:
            continue
        y, pan = voice(note, ctx)
        if start < 0:
            y, start = y[..., -start:], 0
        m = min(y.shape[-1], n_work - start)
        if y.ndim == 1:
            gl, gr = pan_gains(pan)
            out[0, start : start + m] += gl * y[:m]
            out[1, start : start + m] += gr * y[:m]
        else:
            out[:, start : start + m] += y[:, :m]
    if div > 1:
        out = signal.resample_poly(out, div, 1, axis=1).astype(np.float32)
    return out[:, :n]
