"""Pitched instruments: bass, pads, strings, keys, plucks, lead, bell.

Each preset turns one Note into a stereo (2, m) float32 voice at a work rate; `render_part` lays the
voices into a stem. Presets whose sound lives well below the top octave (pads: a quarter of the
sample rate; strings, bass, lead, electric piano: half) run at a lower work rate and are resampled up once per
stem: a fraction of the work, and nothing lost that their filters had not already removed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import signal

from ..events import Note
from .envelopes import ADSR, adsr
from .mixing import pan_gains
from .oscillators import (
    NYQUIST_USE,
    fm_voice,
    karplus_strong_loop,
    make_bank,
    phase_constant,
    pluck_excitation,
    read_bank,
    sine,
    vibrato_phase,
)


def seconds(n: int, sample_rate: int) -> np.ndarray:
    """(n,) float32 time of each sample from the note's start."""
    return np.arange(n, dtype=np.float32) * np.float32(1.0 / sample_rate)


def midi_hz(pitch: float) -> float:
    return 440.0 * 2.0 ** ((pitch - 69.0) / 12.0)


def velocity_gain(v: float) -> float:
    """Velocity 0..1 to amplitude: about 30 dB of range, most of it in the upper half."""
    return float(np.clip(v, 0.0, 1.0)) ** 1.6


def pitch_pan(pitch: int, width: float = 0.35) -> float:
    """Keyboard-style placement: low notes a little left, high notes a little right."""
    return float(np.clip((pitch - 60) / 24.0, -1.0, 1.0) * width)


REDUCED_BAND = 0.35  # at a reduced work rate, partials stop at 0.35x it: room for the upsampler's filter
UPSAMPLER_STOPBAND_DB = 80.0


class Context:
    """Per-part state: work rate, the part's random stream, caches of tables and string loops."""

    def __init__(self, sample_rate: int, rng: np.random.Generator, band: float = NYQUIST_USE):
        self.sr = sample_rate
        self.rng = rng
        self.band = band  # highest partial, as a fraction of the work rate
        self._banks: dict = {}
        self._loops: dict = {}

    def bank(self, f0: float, wave: str, cutoffs: tuple[float, ...], resonance: float, ratio: float = 1.02):
        key = (round(f0, 4), wave, cutoffs, resonance, ratio)
        if key not in self._banks:
            self._banks[key] = make_bank(f0, self.sr, wave, np.array(cutoffs), resonance, ratio, self.band)
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
    for c, p in zip(cents, pans, strict=True):
        y = read_bank(bank, make_phase(f0 * 2.0 ** (c / 1200.0)), cutoff)
        gl, gr = pan_gains(p)
        out[0] += gl * y
        out[1] += gr * y
    return out / np.sqrt(len(cents))


def pad(note: Note, ctx: Context):
    """5 detuned saws (+-12 cents) through a 2.4 kHz low-pass, slow attack, long release, wide.

    The beating of the detuned voices, panned across the field, is what makes it warm and wide.
    """
    env = adsr(ADSR(0.7, 1.5, 0.85, 1.6), note.duration_s, ctx.sr)
    n, f0 = len(env), midi_hz(note.pitch)
    bank = ctx.bank(f0, "saw", (2400.0,), 0.15, ratio=1.01)
    it = iter(ctx.rng.random(5))
    out = _stereo_voices(
        ctx, n, f0, (-12, -5, 0, 6, 13), (-0.85, -0.4, 0.0, 0.45, 0.9),
        lambda f: phase_constant(n, f, ctx.sr, next(it)), None, bank,
    )
    return out * (env * velocity_gain(note.velocity)), 0.0


def strings(note: Note, ctx: Context):
    """4 saws with independent ~5 Hz vibrato (fading in), low-pass 3.5 kHz, bowed attack."""
    env = adsr(ADSR(0.35, 2.0, 0.9, 0.9), note.duration_s, ctx.sr)
    n, f0 = len(env), midi_hz(note.pitch)
    bank = ctx.bank(f0, "saw", (3500.0,), 0.0, ratio=1.012)
    lfo = iter(zip(5.0 + ctx.rng.uniform(-0.4, 0.4, 4), ctx.rng.uniform(0, 2 * np.pi, 4), ctx.rng.random(4),
                   strict=True))

    def make_phase(f):
        rate, lfo_phase, phase0 = next(lfo)
        return vibrato_phase(n, f, ctx.sr, phase0, 0.004, rate, lfo_phase, delay_s=0.0, fade_s=0.6)  # ~7 cents

    out = _stereo_voices(ctx, n, f0, (-8, -3, 3, 8), (-0.7, -0.25, 0.25, 0.7), make_phase, None, bank)
    return out * (env * velocity_gain(note.velocity)), 0.0


EPIANO_TOP_HZ = 7500.0  # a tine's bark lives at 1-5 kHz; sidebands beyond ~7.5 kHz only sound harsh
# (and at half rate, 7.5 kHz stays under REDUCED_BAND of the work rate from 44.1 kHz up)
BELL_TOP_HZ = 14000.0


def epiano(note: Note, ctx: Context):
    """FM electric piano: a 1:1 pair for the body, a 1:14 pair whose index dies fast for the tine."""
    env = adsr(ADSR(0.002, 1.6, 0.0, 0.35), min(note.duration_s, 6.0), ctx.sr)
    n, f0 = len(env), midi_hz(note.pitch)
    t = seconds(n, ctx.sr)
    v = float(np.clip(note.velocity, 0.0, 1.0))
    body = fm_voice(n, f0, ctx.sr, 1.0, (0.3 + 1.2 * v) * np.exp(-t / 0.9), max_hz=EPIANO_TOP_HZ)
    tine = fm_voice(n, f0, ctx.sr, 14.0, (0.3 + 0.9 * v) * np.exp(-t / 0.025), max_hz=EPIANO_TOP_HZ)
    y = (body + 0.35 * tine * np.exp(-t / 0.4).astype(np.float32)) * env
    return y * velocity_gain(note.velocity), pitch_pan(note.pitch)


def piano(note: Note, ctx: Context):
    """Hammered-string tables (two strings, 1.5 cents apart) whose brightness falls as they ring."""
    env = adsr(ADSR(0.003, 0.5, 0.4, 0.3), min(note.duration_s, 8.0), ctx.sr)
    n, f0 = len(env), midi_hz(note.pitch)
    t = seconds(n, ctx.sr)
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
    y /= np.abs(y[: int(0.05 * ctx.sr)]).max() + 1e-9  # every string starts at the same peak
    return 0.7 * y * env * velocity_gain(note.velocity), pitch_pan(note.pitch)


def lead(note: Note, ctx: Context):
    """Two saws (+-7 cents) through a resonant low-pass with a pluck on the cutoff; late vibrato."""
    env = adsr(ADSR(0.012, 0.35, 0.75, 0.25), note.duration_s, ctx.sr)
    n, f0 = len(env), midi_hz(note.pitch)
    t = seconds(n, ctx.sr)
    v = float(np.clip(note.velocity, 0.0, 1.0))
    cutoff = 1400.0 * 2.0 ** (1.6 * v * np.exp(-t / 0.2)) * 2.0 ** (-0.4 * np.minimum(t / 1.5, 1.0))
    bank = ctx.bank(f0, "saw", (900.0, 1400.0, 2200.0, 3400.0, 5200.0), 0.3, ratio=1.012)
    out = _stereo_voices(
        ctx, n, f0, (-7, 7), (-0.15, 0.15),
        lambda f: vibrato_phase(n, f, ctx.sr, ctx.rng.random(), 0.006, 5.5, 0.0, delay_s=0.25, fade_s=0.3),
        cutoff, bank,
    )
    return out * (env * velocity_gain(note.velocity)), 0.0


def bell(note: Note, ctx: Context):
    """FM bell: inharmonic 1:3.5 pair with a decaying index, plus a pure partial an octave up."""
    env = adsr(ADSR(0.002, 1.4, 0.0, 0.6), min(note.duration_s, 5.0), ctx.sr)
    n, f0 = len(env), midi_hz(note.pitch)
    t = seconds(n, ctx.sr)
    y = fm_voice(n, f0, ctx.sr, 3.5, 2.2 * np.exp(-t / 0.5), max_hz=BELL_TOP_HZ)
    y += 0.3 * sine(phase_constant(n, 2 * f0, ctx.sr)) * np.exp(-t / 0.6).astype(np.float32)
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
    sub: float  # level of a pure sine at the note's pitch under the filtered voice: roundness
    drive: float = 1.5  # tanh saturation per note, at the work rate (so the upsampler's filter
    #                     removes what it creates above the band): warmth on small speakers


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
        t = seconds(n, ctx.sr)
        v = float(np.clip(note.velocity, 0.0, 1.0))
        phase = phase_constant(n, f0, ctx.sr, ctx.rng.random())  # free-running, as an analogue VCO
        if len(preset.cutoffs) == 1:
            y = read_bank(ctx.bank(f0, preset.wave, preset.cutoffs, preset.resonance), phase)
        else:
            depth = preset.env_octaves * v * ctx.rng.uniform(0.92, 1.08)  # no two plucks quite alike
            cutoff = preset.base_cutoff_hz * 2.0 ** (depth * np.exp(-t / preset.env_decay_s))
            y = read_bank(ctx.bank(f0, preset.wave, preset.cutoffs, preset.resonance), phase, cutoff)
        if preset.sub > 0:
            y = y + preset.sub * read_bank(ctx.bank(f0, "sine", (4000.0,), 0.0), phase)
        y = y * env * velocity_gain(note.velocity)
        if preset.drive > 1.0:
            y = np.tanh(preset.drive * y) / preset.drive
        return y, 0.0

    return voice


# preset -> (voice, work-rate divisor)
PRESETS: dict[str, tuple[Voice, int]] = {
    "pad": (pad, 4), "strings": (strings, 2), "epiano": (epiano, 2), "piano": (piano, 1),
    "pluck": (pluck, 1), "lead": (lead, 2), "bell": (bell, 1),
    "sub": (bass_voice(BASSES["sub"]), 2), "synth": (bass_voice(BASSES["synth"]), 2),
    "fingered": (bass_voice(BASSES["fingered"]), 2),
}
DEFAULT_PRESET = {"bass": "synth", "harmony": "pad", "melody": "lead"}


MIN_WORK_RATE = {4: 11_025, 2: 22_050}  # Hz: below this a preset's band would be cut


def work_divisor(preset: str, stem: str, sample_rate: int) -> int:
    """How many times lower than `sample_rate` this preset is rendered (1, 2 or 4)."""
    div = (PRESETS.get(preset) or PRESETS[DEFAULT_PRESET[stem]])[1]
    while div > 1 and (sample_rate % div or sample_rate / div < MIN_WORK_RATE[div] - 1):
        div //= 2
    return div


def render_part(notes, preset: str, stem: str, n: int, sample_rate: int, rng, cancel_check) -> np.ndarray:
    """All notes of one stem into (2, ceil(n / div)) float32 at the work rate sample_rate / div
    (div = work_divisor(...)); `upsample` brings it to the sample rate."""
    voice = (PRESETS.get(preset) or PRESETS[DEFAULT_PRESET[stem]])[0]
    div = work_divisor(preset, stem, sample_rate)
    sr = sample_rate // div
    n_work = -(-n // div)
    out = np.zeros((2, n_work), dtype=np.float32)
    ctx = Context(sr, rng, REDUCED_BAND if div > 1 else NYQUIST_USE)
    for i, note in enumerate(sorted(notes, key=lambda x: (x.start_s, x.pitch))):
        if i % 32 == 0:
            cancel_check()
        start = int(round(note.start_s * sr))
        if start >= n_work or note.duration_s <= 0 or note.velocity <= 0:
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
    return out


UPSAMPLE_CHUNK = 1 << 18  # work-rate frames upsampled per step (about 10 s at 24 kHz)


def upsample(x: np.ndarray, div: int, n: int, check=lambda: None) -> np.ndarray:
    """(2, m) at the work rate -> (2, n) float32 at div times the rate.

    A long stem goes a chunk at a time, each with the filter's reach of context either side, so
    the result is the one-call result exactly; `check` (which raises when the job is cancelled)
    runs between chunks: upsampling a long stem in one call is seconds nobody could interrupt."""
    if div <= 1:
        return np.ascontiguousarray(x[:, :n], dtype=np.float32)
    window = _upsampler(div)
    m = x.shape[1]
    if m <= UPSAMPLE_CHUNK:
        return np.ascontiguousarray(signal.resample_poly(x, div, 1, axis=1, window=window)[:, :n], dtype=np.float32)
    reach = len(window) // div + 2  # input frames either side that an output frame depends on
    out = np.empty((x.shape[0], min(n, m * div)), dtype=np.float32)
    for a in range(0, m, UPSAMPLE_CHUNK):
        if a * div >= out.shape[1]:
            break
        check()
        b = min(m, a + UPSAMPLE_CHUNK)
        a0, b0 = max(0, a - reach), min(m, b + reach)
        y = signal.resample_poly(x[:, a0:b0], div, 1, axis=1, window=window)  # float32 in, float32 out
        take = min(b * div, out.shape[1]) - a * div
        out[:, a * div : a * div + take] = y[:, (a - a0) * div : (a - a0) * div + take]
    return out


@lru_cache(maxsize=8)
def _upsampler(div: int) -> np.ndarray:
    """FIR for upsampling by `div`: flat to 0.35x the work rate (the highest partial), 80 dB down
    from 0.65x (where the image of that partial lands). Sized by Kaiser's formula: ~35-70 taps."""
    # In units of the output's Nyquist frequency (div * work rate / 2):
    width = 2.0 * (1.0 - 2.0 * REDUCED_BAND) / div  # 0.35x .. 0.65x the work rate
    numtaps, beta = signal.kaiserord(UPSAMPLER_STOPBAND_DB, width)
    numtaps |= 1  # odd: a whole-sample delay, which resample_poly compensates
    # resample_poly scales the taps by `div` itself (the zero-stuffing gain). Float32 taps keep
    # the whole upsampling in float32 (no float64 copy of a long stem).
    return signal.firwin(numtaps, 1.0 / div, window=("kaiser", beta)).astype(np.float32)  # centred on the work Nyquist
