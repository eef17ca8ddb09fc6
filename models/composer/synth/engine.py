"""Arrangement -> stems: instruments, per-stem effects, each stem's share of the shared reverb.

Each stem is finished on its own (its reverb return included), so the mix is exactly the sum of
the stems. Every stem draws from its own random stream, seeded from (seed, stem index): asking for
fewer stems does not change the ones that are rendered.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from scipy import signal

from ...interface import STEMS, check_cancelled
from ...post.levels import k_weighting_sos
from ..events import Arrangement
from ..styles import STYLES
from .drums import render_drums
from .envelopes import fade_window
from .instruments import render_part, upsample, work_divisor
from .mixing import highpass, reverb_return, tempo_delay
from .stereo import mono_low_end, tone, widen

# Loudness of each stem where it plays (K-weighted, as BS.1770 weighs it: the ear's weighting, so
# a sub-heavy bass and a bright hat are compared as heard): the balance of a library-music mix.
# Drums and bass carry the groove, the melody sits just under them, the harmony bed under that.
# Presets differ a lot in raw level (a sustained pad against a decaying pluck), so each stem is
# levelled to its target; post-processing then sets the overall loudness.
STEM_LEVEL_LU = {"drums": -20.0, "bass": -22.0, "harmony": -25.5, "melody": -22.5}
LEVEL_BLOCK_S = 0.4
LEVEL_PERCENTILE = 90  # "where it plays": the louder blocks, not the silences between phrases
MAX_LEVEL_BOOST_DB = 30.0  # a stem that barely plays is not raised into its noise
STEM_PEAK_MAX = 0.9  # a stem never peaks above -1 dBFS before post-processing
DEFAULT_SEND = {"drums": 0.12, "bass": 0.03, "harmony": 0.35, "melody": 0.28}
# Width (models/composer/synth/stereo.py): the decorrelated copy of a stem's mid added to its side.
# Pads and strings wide, the kit's hats, cymbals and toms (never kick or snare) fairly, bass none,
# the lead mostly centred; styles override per stem.
DEFAULT_WIDTH = {"drums": 1.0, "bass": 0.0, "harmony": 1.0, "melody": 0.45}
DEFAULT_INSTRUMENT = {"drums": "electronic", "bass": "synth", "harmony": "pad", "melody": "lead"}
RENDER_THREADS = 2  # stems in parallel (the target machine has 2 cores)
SERIAL_ABOVE_S = 240.0  # longer segments render one stem at a time: memory over speed
TAIL_FADE_S = 0.5  # what still rings at tail_end_s fades over this long, never a step


def _stem_effects(stem: str, preset: str, x: np.ndarray, arrangement: Arrangement, sr: int,
                  check=lambda: None) -> np.ndarray:
    """Per-stem insert effects on a (2, n) stem, before its reverb send. A float32 stem is
    filtered in place (the caller's own render): a SoundFont's 10-minute stem is 230 MB."""
    out = x if x.dtype == np.float32 and x.flags.writeable else None
    if stem == "bass":
        x = highpass(x, 30.0, sr, check=check, out=out)
        return np.repeat(x.mean(axis=0, keepdims=True), 2, axis=0)  # bass sits dead centre
    if stem == "harmony":
        return highpass(x, 110.0, sr, check=check, out=out)  # leave the low end to the bass
    if stem == "melody":
        x = highpass(x, 160.0, sr, check=check, out=out)
        if preset in ("lead", "pluck", "bell"):
            x += tempo_delay(x, arrangement.plan.tempo_bpm, sr, check=check)
        return x
    return x


def render_stem(arrangement: Arrangement, stem: str, sample_rate: int, seed: int, cancel=None,
                soundfont: Path | None = None) -> np.ndarray:
    """One stem, (2, round(duration_s * sample_rate)) float32, silent from tail_end_s on.

    `soundfont`: a font that plays the part (models/composer/soundfont.py) instead of the
    synthesizer's instruments; the treatment after that is the same."""
    n = int(round(arrangement.duration_s * sample_rate))
    if n <= 0:
        return np.zeros((2, 0), dtype=np.float32)
    rng = np.random.default_rng((int(seed) & 0xFFFFFFFF, STEMS.index(stem)))
    preset = arrangement.instruments.get(stem, DEFAULT_INSTRUMENT[stem])
    check = lambda: check_cancelled(cancel)  # noqa: E731
    style = STYLES.get(arrangement.plan.style)
    width = dict(style.width if style else ()).get(stem, DEFAULT_WIDTH[stem])
    # Tonal stems are rendered, treated and sent to the room at their work rate (sr / div) and
    # brought to the sample rate once at the end: their band never needed more.
    if soundfont is not None:
        from ..soundfont import render_part as play_font

        div = 1
        x = play_font(arrangement, stem, n, sample_rate, soundfont, check)
    elif stem == "drums":
        div = 1
        x = render_drums(arrangement.drums, preset, n, sample_rate, rng, check, key_pc=arrangement.key_pc,
                         spread=width)
    else:
        div = work_divisor(preset, stem, sample_rate)
        x = render_part(getattr(arrangement, stem), preset, stem, n, sample_rate, rng, check)
    check()  # and between the treatment's steps: each is seconds on a long stem
    work_sr = sample_rate // div
    x = _stem_effects(stem, preset, x, arrangement, work_sr, check)
    check()
    if stem != "drums":  # a kit is widened hit by hit (render_drums); a font's kit pans its own
        x = widen(x, width, work_sr, STEMS.index(stem))
    send = arrangement.reverb_send.get(stem, DEFAULT_SEND[stem])
    x += reverb_return(x, float(send), work_sr, check)
    check()
    x = mono_low_end(x, work_sr)  # whatever widened it (pans, the font's samples, the room): not below 150 Hz
    if soundfont is None:  # a font's samples carry their recording's own tone
        x = tone(x, *dict(style.tone if style else ()).get(stem, (0.0, 0.0)), work_sr)
    check()
    tail_end = arrangement.tail_end_s if arrangement.tail_end_s > 0 else arrangement.duration_s
    tail_end = min(tail_end, arrangement.duration_s)
    m = x.shape[1]
    x *= fade_window(m, int(round(tail_end * work_sr)), int(TAIL_FADE_S * work_sr))[None, :]
    peak = float(np.abs(x).max(initial=0.0))  # at the work rate: within a fraction of a dB
    x *= np.float32(min(_level_gain(x, STEM_LEVEL_LU[stem], work_sr, check), STEM_PEAK_MAX / peak if peak > 0 else 1.0))
    check()
    if div > 1:
        x = upsample(x, div, n, check)
        # The faded signal is ~0 by then; the upsampler's filter only rings on past it in the
        # last bits of float precision. Silence is exact from tail_end on.
        x[:, int(round(tail_end * sample_rate)) :] = 0.0
    return np.ascontiguousarray(x, dtype=np.float32)


LEVEL_CHUNK_BLOCKS = 64  # 400 ms blocks filtered per step: 25 s at a time, bounded memory


def _level_gain(x: np.ndarray, target: float, sample_rate: int, check=lambda: None) -> float:
    """Gain taking a (2, n) stem's playing loudness (90th percentile of K-weighted 400 ms blocks,
    in LUFS-like units) to `target`."""
    sos = k_weighting_sos(sample_rate).astype(np.float32)
    block = int(LEVEL_BLOCK_S * sample_rate)
    nb = x.shape[1] // block
    if nb == 0:
        k = signal.sosfilt(sos, x, axis=1)
        power = np.array([float((k.astype(np.float64) ** 2).sum(axis=0).mean())]) if k.size else np.zeros(1)
    else:
        zi = np.zeros((sos.shape[0], 2, 2), dtype=np.float32)  # filter state carried across chunks
        power = np.empty(nb)
        for b0 in range(0, nb, LEVEL_CHUNK_BLOCKS):
            check()
            b1 = min(nb, b0 + LEVEL_CHUNK_BLOCKS)
            k, zi = signal.sosfilt(sos, x[:, b0 * block : b1 * block], axis=1, zi=zi)
            power[b0:b1] = np.einsum("cbf,cbf->b", k.reshape(2, b1 - b0, block), k.reshape(2, b1 - b0, block)) / block
    active = power[power > 10 ** (-70 / 10)]  # above BS.1770's absolute gate: the stem is playing
    if len(active) == 0:
        return 1.0
    level = -0.691 + 10.0 * np.log10(np.percentile(active, LEVEL_PERCENTILE))
    return float(10.0 ** (min(target - level, MAX_LEVEL_BOOST_DB) / 20.0))


def render(
    arrangement: Arrangement,
    sample_rate: int,
    seed: int,
    stems: tuple[str, ...] = STEMS,
    cancel: threading.Event | None = None,
    soundfont: Path | None = None,
) -> dict[str, np.ndarray]:
    """Synthesize the requested stems: name -> (2, round(duration_s * sample_rate)) float32.

    `soundfont`: the font that plays the parts (None: the synthesizer). Stems share nothing
    mutable, and numpy and scipy release the GIL in their heavy loops, so the stems render
    on up to RENDER_THREADS threads; the result does not depend on the scheduling.
    """
    unknown = [s for s in stems if s not in STEMS]
    if unknown:
        raise ValueError(f"unknown stems {unknown}; choose from {', '.join(STEMS)}")
    wanted = [s for s in STEMS if s in stems]  # a fixed order: the result never depends on the order asked
    check_cancelled(cancel)
    workers = max(1, min(RENDER_THREADS, os.cpu_count() or 1, len(wanted)))
    if arrangement.duration_s > SERIAL_ABOVE_S:
        workers = 1  # long segments: one stem's working memory at a time
    if workers == 1:
        stems = {s: render_stem(arrangement, s, sample_rate, seed, cancel, soundfont) for s in wanted}
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="synth") as pool:
            futures = {s: pool.submit(render_stem, arrangement, s, sample_rate, seed, cancel, soundfont)
                       for s in wanted}
            try:
                stems = {s: f.result() for s, f in futures.items()}
            except BaseException:
                for f in futures.values():
                    f.cancel()
                raise
    ride_sections(stems, arrangement, sample_rate, cancel)
    return stems


SECTION_STEP_DB = 1.5  # each intensity level below the piece's loudest plays this much softer
SECTION_RAMP_S = 0.5  # a swell into a louder section (a fade into a softer one) ends on its downbeat


SECTION_CHUNK_FRAMES = 1 << 18  # the gain curve is made this many frames at a time (5.5 s at 48 kHz)


def ride_sections(stems: dict[str, np.ndarray], arrangement: Arrangement, sample_rate: int,
                  cancel: threading.Event | None = None) -> None:
    """Multiply every (2, frames) float32 stem, in place, by the section gain curve.

    The same curve on every stem, so the mix is still their sum. It is made a chunk at a time:
    a whole 10-minute curve took about 700 MB of float64 temporaries (times, dB, gain) beside
    the finished stems, the composer's peak."""
    breakpoints = section_breakpoints(arrangement)
    if breakpoints is None or not stems:
        return
    n = next(iter(stems.values())).shape[1]
    for start in range(0, n, SECTION_CHUNK_FRAMES):
        check_cancelled(cancel)
        stop = min(n, start + SECTION_CHUNK_FRAMES)
        gain = section_gain(breakpoints, start, stop, sample_rate)  # (stop - start,)
        for x in stems.values():
            x[:, start:stop] *= gain[None, :]


def section_breakpoints(arrangement: Arrangement) -> tuple[list[float], list[float]] | None:
    """(times_s, gains_db) of the gain curve following the plan's intensity per section, linear
    between them; None when the plan is flat.

    The parts already thin out in calm sections, but a listener hears a shape only when the level
    moves too: intro, build, peak and release, as a mix engineer rides the faders."""
    sections = arrangement.plan.sections
    if len({s.intensity for s in sections}) < 2:
        return None
    top = max(s.intensity for s in sections)
    times = [0.0]
    gains = [SECTION_STEP_DB * (sections[0].intensity - top)]
    for before, after in zip(sections, sections[1:], strict=False):
        if after.intensity == before.intensity:
            continue
        start = max(after.start_s - SECTION_RAMP_S, times[-1])
        times += [start, after.start_s]
        gains += [gains[-1], SECTION_STEP_DB * (after.intensity - top)]
    times.append(max(arrangement.duration_s, times[-1]))
    gains.append(gains[-1])
    return times, gains


def section_gain(breakpoints: tuple[list[float], list[float]], start: int, stop: int,
                 sample_rate: int) -> np.ndarray:
    """(stop - start,) float32 gain of frames start..stop. Each frame's value is computed on its
    own (float64 time, dB, then float32), so any chunking gives the same bits as one piece."""
    times, gains = breakpoints
    db = np.interp(np.arange(start, stop) / sample_rate, times, gains)
    return (10.0 ** (db / 20.0)).astype(np.float32)

