"""Music videos for the VMAS tests, made with PyAV: pictures that pulse on the beat, a soundtrack
with clicks on the same beats over a tone whose pitch depends on the seed (so videos differ)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from tests.helpers.videos import add_aac_stream, mux_aac

AUDIO_RATE = 48_000


def beat_times(duration_s: float, bpm: float, phase_s: float = 0.0) -> np.ndarray:
    return np.arange(phase_s, duration_s, 60.0 / bpm)


def soundtrack(duration_s: float, bpm: float, seed: int, phase_s: float = 0.0, rate: int = AUDIO_RATE) -> np.ndarray:
    """(N,) float32: a seed-pitched tone with a click (a decaying 40 ms noise burst) on every beat."""
    n = int(round(duration_s * rate))
    t = np.arange(n) / rate
    pitch = 220.0 * 2 ** ((seed % 12) / 12)
    out = 0.1 * np.sin(2 * np.pi * pitch * t)
    rng = np.random.default_rng(seed)
    burst = rng.normal(0, 1, int(0.04 * rate)) * np.exp(-np.arange(int(0.04 * rate)) / (0.01 * rate))
    for b in beat_times(duration_s, bpm, phase_s):
        i = int(b * rate)
        seg = burst[: max(0, min(len(burst), n - i))]
        out[i : i + len(seg)] += 0.8 * seg
    return np.clip(out, -1, 1).astype(np.float32)


def make_music_video(path: str | Path, duration_s: float = 2.0, bpm: float = 120.0, seed: int = 0,
                     phase_s: float = 0.0, size: tuple[int, int] = (64, 48), fps: int = 16,
                     audio: bool = True) -> Path:
    """A video whose picture flashes on each beat and whose soundtrack clicks on it."""
    path = Path(path)
    w, h = size
    rng = np.random.default_rng(seed)
    base = rng.uniform(30, 200, size=3)
    ys, xs = np.mgrid[0:h, 0:w]
    pattern = 30 * np.sin(xs * rng.uniform(0.1, 0.4) + ys * rng.uniform(0.1, 0.4))
    beats = beat_times(duration_s, bpm, phase_s)
    container = av.open(str(path), "w")
    stream = container.add_stream("libx264", rate=fps)
    stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
    stream.options = {"preset": "ultrafast", "crf": "18"}
    a = add_aac_stream(container, AUDIO_RATE) if audio else None  # every stream before muxing
    for i in range(int(round(duration_s * fps))):
        t = i / fps
        since = t - beats[beats <= t + 1e-9].max() if (beats <= t + 1e-9).any() else 9.0
        flash = 90 * np.exp(-since / 0.06)  # bright on the beat, fading within ~2 frames
        img = np.clip(base[None, None, :] + pattern[..., None] + flash, 0, 255).astype(np.uint8)
        frame = av.VideoFrame.from_ndarray(img, format="rgb24")
        frame.pts, frame.time_base = i, Fraction(1, fps)
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    if a is not None:
        mux_aac(container, a, soundtrack(duration_s, bpm, seed, phase_s))
    container.close()
    return path


def make_scored_video(path: str | Path, spec, seed: int = 0, style: str = "cinematic") -> Path:
    """A tests/videos.py video whose soundtrack is the composer's score of it (music that follows
    its cuts), muxed beside the copied video stream: a made music video for training."""
    from scorecut.models.analysis import analyze_segment
    from scorecut.models.composer.model import ComposerModel
    from scorecut.models.interface import Clip, ScoreOptions, Segment
    from scorecut.models.post import finish
    from tests.helpers.videos import make_video

    path = Path(path)
    silent = make_video(path.with_name(path.stem + ".picture.mp4"), spec)
    segment = Segment((Clip(str(silent), 0.0, spec.duration_s, 0.0, spec.duration_s),), spec.duration_s)
    analysis = analyze_segment(segment)
    options = ScoreOptions(seed=seed, style=style, sample_rate=AUDIO_RATE)
    mix = finish(ComposerModel().compose(segment, analysis, options), analysis, options).mix  # (2, n)
    mono = np.ascontiguousarray(mix.mean(axis=0, dtype=np.float32))
    with av.open(str(silent)) as src, av.open(str(path), "w") as dst:
        v_in = src.streams.video[0]
        v_out = dst.add_stream_from_template(v_in)
        a = add_aac_stream(dst, AUDIO_RATE)
        for packet in src.demux(v_in):
            if packet.dts is None:
                continue
            packet.stream = v_out
            dst.mux(packet)
        mux_aac(dst, a, mono)
    silent.unlink()
    return path
