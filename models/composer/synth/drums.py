"""Drum voices and kits: every hit synthesised, placed on the exact sample of its time.

Noise-based voices draw from the stem's own random stream, so every hit differs a little (as a real
hit does) while the whole stem stays deterministic for a seed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
from scipy import signal

from ..events import DrumHit
from .envelopes import percussive
from .mixing import butter_sos, pan_gains
from .stereo import decorrelated


@dataclass(frozen=True)
class DrumKit:
    kick_hi_hz: float = 150.0  # pitch at the hit
    kick_lo_hz: float = 50.0  # pitch after the drop
    kick_drop_s: float = 0.06  # time for the pitch to fall (to within 5% of kick_lo_hz)
    kick_decay_s: float = 0.3  # amplitude time constant x ~1 (audible for about 3x this)
    kick_click: float = 0.25  # level of the 3 ms beater click
    kick_drive: float = 1.6  # tanh saturation: punch
    snare_tone_hz: float = 200.0
    snare_decay_s: float = 0.16  # noise decay
    snare_noise: float = 0.8
    hat_closed_s: float = 0.045
    hat_open_s: float = 0.3
    tom_hz: tuple[float, float, float] = (95.0, 135.0, 185.0)  # low, mid, high
    lowpass_hz: float = 0.0  # 0 = none; lo-fi kits dull the whole kit
    drive: float = 1.0  # kit bus saturation; 1 = clean


KITS = {
    "electronic": DrumKit(),
    "acoustic": DrumKit(
        kick_hi_hz=115.0, kick_lo_hz=56.0, kick_drop_s=0.045, kick_decay_s=0.22, kick_click=0.35,
        kick_drive=1.2, snare_tone_hz=210.0, snare_decay_s=0.18, snare_noise=0.9, hat_closed_s=0.06,
    ),
    "lofi": DrumKit(
        kick_hi_hz=125.0, kick_lo_hz=52.0, kick_decay_s=0.24, kick_click=0.12, snare_tone_hz=190.0,
        snare_decay_s=0.13, snare_noise=0.6, hat_closed_s=0.04, lowpass_hz=6500.0, drive=1.8,
    ),
    "cinematic": DrumKit(
        kick_hi_hz=110.0, kick_lo_hz=42.0, kick_drop_s=0.08, kick_decay_s=0.4, kick_click=0.2,
        snare_tone_hz=185.0, snare_decay_s=0.22, snare_noise=0.85, tom_hz=(70.0, 100.0, 140.0),
    ),
}

# Level (linear, at velocity 1) and pan (-1 left .. 1 right) per kind: a kit's internal balance.
KIND_MIX = {
    "kick": (1.0, 0.0), "snare": (0.62, 0.0), "clap": (0.5, 0.05), "hat_closed": (0.15, 0.3),
    "hat_open": (0.13, 0.3), "ride": (0.13, -0.35), "crash": (0.26, 0.0), "tom_low": (0.6, -0.35),
    "tom_mid": (0.55, 0.0), "tom_high": (0.5, 0.35), "shaker": (0.1, -0.4), "rim": (0.3, 0.15),
    "impact": (0.95, 0.0), "riser": (0.22, 0.0),
}


@lru_cache(maxsize=64)
def _sos(kind: str, f1: float, f2: float, sample_rate: int, order: int = 2) -> np.ndarray:
    return butter_sos(order, kind, (f1, f2) if kind == "bandpass" else f1, sample_rate)


def _noise(rng: np.random.Generator, n: int, sos: np.ndarray) -> np.ndarray:
    return signal.sosfilt(sos, rng.standard_normal(n)).astype(np.float32)


def _swept_sine(n: int, sr: int, f_hi: float, f_lo: float, drop_s: float) -> np.ndarray:
    """sin of an exponentially falling pitch f_lo + (f_hi - f_lo) e^{-3t/drop}; starts at phase 0."""
    t = np.arange(n) / sr
    freq = f_lo + (f_hi - f_lo) * np.exp(-3.0 * t / drop_s)
    phase = np.concatenate([[0.0], np.cumsum(freq[:-1]) / sr])
    return np.sin(2 * np.pi * phase).astype(np.float32)


def kick(kit: DrumKit, sr: int, rng: np.random.Generator) -> np.ndarray:
    n = int(kit.kick_decay_s * 4 * sr)
    body = _swept_sine(n, sr, kit.kick_hi_hz, kit.kick_lo_hz, kit.kick_drop_s)
    body *= percussive(n / sr, kit.kick_decay_s, sr, attack_s=0.0005)
    body = np.tanh(kit.kick_drive * body) / np.tanh(kit.kick_drive)
    nc = int(0.004 * sr)  # 4 ms beater click
    click = _noise(rng, nc, _sos("bandpass", 1500.0, 6000.0, sr)) * percussive(nc / sr, 0.001, sr, 0.0002)
    body[:nc] += kit.kick_click * click / (np.abs(click).max() + 1e-9)
    return body


def snare(kit: DrumKit, sr: int, rng: np.random.Generator) -> np.ndarray:
    n = int(kit.snare_decay_s * 4 * sr)
    tone = _swept_sine(n, sr, kit.snare_tone_hz * 1.3, kit.snare_tone_hz, 0.02)
    tone += 0.4 * _swept_sine(n, sr, kit.snare_tone_hz * 1.9, kit.snare_tone_hz * 1.75, 0.02)
    tone *= percussive(n / sr, 0.05, sr)
    noise = _noise(rng, n, _sos("bandpass", 1200.0, 9000.0, sr)) * percussive(n / sr, kit.snare_decay_s / 2, sr)
    noise *= 3.0  # band-passed noise is quiet; bring it level with the tone
    return 0.7 * tone + kit.snare_noise * noise


def clap(kit: DrumKit, sr: int, rng: np.random.Generator) -> np.ndarray:
    n = int(0.35 * sr)
    t = np.arange(n) / sr
    env = np.zeros(n)
    for k, start in enumerate((0.0, 0.011, 0.021)):  # three hands, a few ms apart
        u = np.maximum(t - start, 0.0)
        env += np.where(t >= start, np.exp(-u / 0.004) * (1.0 - 0.15 * k), 0.0)
    env += np.where(t >= 0.03, np.exp(-np.maximum(t - 0.03, 0.0) / 0.1) * 0.6, 0.0)
    env *= percussive(n / sr, 10.0, sr, attack_s=0.0005)  # only for the click-free start and end
    noise = _noise(rng, n, _sos("bandpass", 800.0, 3500.0, sr))
    return (4.0 * noise * env).astype(np.float32)


def hat(length_s: float, sr: int, rng: np.random.Generator, cutoff_hz: float = 7000.0) -> np.ndarray:
    n = int(length_s * 4 * sr)
    noise = _noise(rng, n, _sos("highpass", cutoff_hz, 0.0, sr, order=4))
    return 2.0 * noise * percussive(n / sr, length_s, sr, attack_s=0.0005)


def cymbal(decay_s: float, cutoff_hz: float, sr: int, rng: np.random.Generator, bell: float) -> np.ndarray:
    """Crash/ride: stereo (decorrelated noise per side) plus inharmonic bell partials."""
    n = int(decay_s * 3 * sr)
    env = percussive(n / sr, decay_s, sr, attack_s=0.002)
    sos = _sos("highpass", cutoff_hz, 0.0, sr, order=4)
    out = np.stack([_noise(rng, n, sos), _noise(rng, n, sos)]) * 2.0 * env
    if bell > 0:
        t = np.arange(n) / sr
        partials = sum(np.sin(2 * np.pi * f * t) for f in (3120.0, 4870.0, 6310.0, 8170.0))
        out += (bell * 0.25 * partials * percussive(n / sr, decay_s * 0.6, sr)).astype(np.float32)
    return out.astype(np.float32)


def tom(f_hz: float, sr: int, rng: np.random.Generator) -> np.ndarray:
    n = int(1.2 * sr)
    body = _swept_sine(n, sr, f_hz * 1.6, f_hz, 0.04) * percussive(n / sr, 0.28, sr, attack_s=0.0005)
    skin = _noise(rng, n, _sos("bandpass", 300.0, 3000.0, sr)) * percussive(n / sr, 0.03, sr)
    return body + 1.2 * skin


def shaker(sr: int, rng: np.random.Generator) -> np.ndarray:
    n = int(0.2 * sr)
    return 3.0 * _noise(rng, n, _sos("bandpass", 4000.0, 11000.0, sr)) * percussive(n / sr, 0.045, sr, 0.008)


def rim(sr: int, rng: np.random.Generator) -> np.ndarray:
    n = int(0.08 * sr)
    t = np.arange(n) / sr
    tone = (np.sin(2 * np.pi * 1700 * t) + 0.6 * np.sin(2 * np.pi * 520 * t)).astype(np.float32)
    click = _noise(rng, n, _sos("bandpass", 2000.0, 8000.0, sr))
    return (tone + click) * percussive(n / sr, 0.012, sr, 0.0003)


def impact(sr: int, rng: np.random.Generator) -> np.ndarray:
    """Sub boom (a slow pitch fall) and a dark noise burst: the hit on a major cut."""
    n = int(3.0 * sr)
    boom = _swept_sine(n, sr, 90.0, 36.0, 0.5) * percussive(n / sr, 0.9, sr, 0.001)
    sos = _sos("lowpass", 1800.0, 0.0, sr)
    burst = np.stack([_noise(rng, n, sos), _noise(rng, n, sos)]) * 2.5 * percussive(n / sr, 0.25, sr, 0.001)
    return (np.tanh(1.3 * boom)[None, :] + 0.5 * burst).astype(np.float32)


def riser(length_s: float, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Noise swept 250 Hz -> 9 kHz over `length_s`, swelling, cut with a 15 ms fade at its end.

    The sweep is a band-pass mask moving through a short-time spectrum (vectorised), in stereo.
    """
    n = max(int(length_s * sr), int(0.1 * sr))
    nper = 1024
    out = []
    for _ in range(2):
        f, t, z = signal.stft(rng.standard_normal(n), fs=sr, nperseg=nper)
        centre = 250.0 * (9000.0 / 250.0) ** np.clip(t / (n / sr), 0.0, 1.0)  # (T,) exponential sweep
        logf = np.log(np.maximum(f, 20.0))[:, None]
        mask = np.exp(-0.5 * ((logf - np.log(centre)[None, :]) / 0.45) ** 2)
        _, x = signal.istft(z * mask, fs=sr, nperseg=nper)
        out.append(x[:n])
    y = np.stack(out)
    u = np.arange(n) / n
    swell = u**2
    nf = int(0.015 * sr)
    swell[-nf:] *= 0.5 + 0.5 * np.cos(np.pi * np.arange(1, nf + 1) / nf)
    swell[: int(0.01 * sr)] *= np.linspace(0.0, 1.0, int(0.01 * sr))
    return (3.0 * y * swell).astype(np.float32)


def _voice(hit: DrumHit, kit: DrumKit, sr: int, rng: np.random.Generator) -> np.ndarray:
    k = hit.kind
    if k == "kick":
        return kick(kit, sr, rng)
    if k == "snare":
        return snare(kit, sr, rng)
    if k == "clap":
        return clap(kit, sr, rng)
    if k == "hat_closed":
        return hat(kit.hat_closed_s, sr, rng)
    if k == "hat_open":
        return hat(kit.hat_open_s, sr, rng)
    if k == "ride":
        return cymbal(0.9, 5000.0, sr, rng, bell=0.5)
    if k == "crash":
        return cymbal(1.4, 2500.0, sr, rng, bell=0.15)
    if k in ("tom_low", "tom_mid", "tom_high"):
        return tom(kit.tom_hz[("tom_low", "tom_mid", "tom_high").index(k)], sr, rng)
    if k == "shaker":
        return shaker(sr, rng)
    if k == "rim":
        return rim(sr, rng)
    if k == "impact":
        return impact(sr, rng)
    if k == "riser":
        return riser(hit.length_s if hit.length_s > 0 else 2.0, sr, rng)
    return rim(sr, rng)  # an unknown kind still sounds, quietly, rather than failing the job


VARIANTS = 6  # distinct renderings per kind; hits pick one at random, as no two real hits match


def tuned_kit(kit: DrumKit, key_pc: int) -> DrumKit:
    """The kit with its kick's settled pitch and its toms moved to the nearest pitch of class
    `key_pc` (0 = C; -1 leaves the kit as it is). Producers tune drums to the key: an untuned
    kick is heard as a foreign note and pulls the ear (and a key estimate) away from the key.
    (Added for Arrangement.key_pc; the smallest change that does it.)"""
    if key_pc < 0:
        return kit

    m = 69 + 12 * np.log2(kit.kick_lo_hz / 440.0)  # the kick's settled pitch as a MIDI number
    shift = (key_pc - m) % 12
    shift = shift - 12 if shift > 6 else shift  # at most a tritone either way
    ratio = float(2 ** (shift / 12))  # the whole kit moves together: toms keep their intervals
    return replace(kit, kick_lo_hz=kit.kick_lo_hz * ratio, kick_hi_hz=kit.kick_hi_hz * ratio,
                   tom_hz=tuple(f * ratio for f in kit.tom_hz))


# How much of each kind the kit's width spreads. The kick (and an impact) sits dead centre; the
# snare, claps and rim stay centred but ring in the overheads and the room a little, wider than
# their close mic; hats, cymbals, toms, shakers and risers are spread fully.
SPREAD_SHARE = {"kick": 0.0, "impact": 0.0, "snare": 0.5, "clap": 0.5, "rim": 0.5}


def render_drums(hits, kit_name: str, n: int, sr: int, rng: np.random.Generator, cancel_check,
                 key_pc: int = -1, spread: float = 0.0) -> np.ndarray:
    """All hits into a (2, n) float32 stem; each onset on sample round(time_s * sr).

    `spread`: the width (synth/stereo.widen) of the hits, times their SPREAD_SHARE, as overheads
    and the room spread a real kit; the kick stays exactly centred."""
    kit = tuned_kit(KITS.get(kit_name, KITS["electronic"]), key_pc)
    out = np.zeros((2, n), dtype=np.float32)
    spread_mid = np.zeros(n, dtype=np.float32) if spread > 0 else None  # the spread hits' mid
    pool: dict[tuple, list[np.ndarray]] = {}
    for i, hit in enumerate(sorted(hits, key=lambda h: h.time_s)):
        if i % 64 == 0:
            cancel_check()
        start = int(round(hit.time_s * sr))
        if start >= n or hit.velocity <= 0:
            continue
        key = (hit.kind, round(hit.length_s, 3) if hit.kind == "riser" else 0.0)
        variants = pool.setdefault(key, [])
        if len(variants) < VARIANTS:
            variants.append(_voice(hit, kit, sr, rng))
            voice = variants[-1]
        else:
            voice = variants[int(rng.integers(VARIANTS))]
        level, pan = KIND_MIX.get(hit.kind, (0.3, 0.0))
        gain = level * float(np.clip(hit.velocity, 0.0, 1.0)) ** 1.5
        if start < 0:  # began before the segment: keep only what falls inside
            voice = voice[..., -start:]
            start = 0
        m = min(voice.shape[-1], n - start)
        if voice.ndim == 1:
            gl, gr = pan_gains(pan)
            out[0, start : start + m] += gain * gl * voice[:m]
            out[1, start : start + m] += gain * gr * voice[:m]
        else:
            out[:, start : start + m] += gain * voice[:, :m]
        share = SPREAD_SHARE.get(hit.kind, 1.0)
        if spread_mid is not None and share > 0:
            mid = voice[:m] if voice.ndim == 1 else voice[:, :m].mean(axis=0)
            spread_mid[start : start + m] += (share * gain) * mid
    if kit.drive > 1.0:  # tape-like rounding of the loudest hits; a whole kit peaks near 2
        out = (np.tanh(kit.drive * out / 2.0) * (2.0 / kit.drive)).astype(np.float32)
    if spread_mid is not None and np.any(spread_mid):
        # Only the side changes (by a decorrelated copy of the spread hits): the mid, and so the
        # mono fold-down, is the kit as it was.
        side = decorrelated(spread_mid, spread, sr)  # (n,): at most a drum stem (drums render first)
        out[0] += side
        out[1] -= side
        del side
    if kit.lowpass_hz > 0:
        out = signal.sosfilt(_sos("lowpass", kit.lowpass_hz, 0.0, sr), out, axis=1).astype(np.float32)
    return out
