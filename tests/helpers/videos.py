"""Real encoded test videos made with PyAV: shots with known cuts, transitions, motion, audio.

Every shot is a distinct scene (its own palette and texture) with a moving object, so cuts are
real visual discontinuities and motion inside a shot is real motion, as in footage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


@dataclass(frozen=True)
class Transition:
    """A gradual transition centred on `time_s`: "fade" (through black) or "dissolve"."""

    time_s: float
    kind: str = "dissolve"
    length_s: float = 0.8


@dataclass(frozen=True)
class VideoSpec:
    duration_s: float
    cuts_s: tuple[float, ...] = ()  # hard cuts
    transitions: tuple[Transition, ...] = ()  # gradual ones (also shot changes)
    fps: Fraction | float = 25
    size: tuple[int, int] = (320, 180)  # width, height
    motion: float = 1.0  # object speed scale; >3 is fast camera-like motion
    pan: float = 0.0  # whole-frame pan in pixels per frame (fast camera motion when large)
    flashes_s: tuple[float, ...] = ()  # single bright frames that are not cuts
    audio: str | None = None  # None, "tone", "speech" or "silence"
    speech_spans_s: tuple[tuple[float, float], ...] = ()  # where "speech" audio talks
    seed: int = 0
    codec: str = "libx264"
    gop: int = 48  # keyframe interval in frames (mid-GOP cuts are the norm)
    extra: dict = field(default_factory=dict)
    x264_preset: str = "ultrafast"  # "medium" gives B-frames and deblocking, as real exports have
    frame_times_s: tuple[float, ...] = ()  # variable frame rate: explicit frame times (then fps is the time base rate)
    pan_mode: str = "wrap"  # "wrap": the view jumps back to the start (a jump cut within the scene)
    # every w/pan frames; "bounce": the camera sweeps back and forth, never jumping (a pure pan)

    @property
    def shot_changes_s(self) -> tuple[float, ...]:
        return tuple(sorted((*self.cuts_s, *(t.time_s for t in self.transitions))))


def _scene(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """A distinct still background, (h, 2w, 3) float32 0..255 (twice as wide for panning)."""
    base = rng.uniform(30, 225, size=3)
    ys, xs = np.mgrid[0:h, 0 : 2 * w].astype(np.float32)
    fx, fy = rng.uniform(0.01, 0.06, size=2)
    phase = rng.uniform(0, 2 * np.pi, size=3)
    img = np.empty((h, 2 * w, 3), np.float32)
    for c in range(3):
        img[..., c] = base[c] + 40 * np.sin(xs * fx + phase[c]) * np.cos(ys * fy + phase[c] / 2)
    return np.clip(img, 0, 255)


def _render_shot_frame(scene: np.ndarray, rng_obj: tuple, t: float, spec: VideoSpec, w: int, h: int,
                       frame_index: int) -> np.ndarray:
    colour, speed, radius, phase = rng_obj
    offset = int(frame_index * spec.pan) % w if spec.pan else 0
    if spec.pan and spec.pan_mode == "bounce":
        travel = int(frame_index * spec.pan) % (2 * w)
        offset = travel if travel < w else 2 * w - travel
    frame = scene[:, offset : offset + w].copy()
    cx = w / 2 + (w / 3) * np.sin(phase + t * speed * spec.motion)
    cy = h / 2 + (h / 3) * np.cos(phase * 1.3 + t * speed * spec.motion * 0.7)
    ys, xs = np.ogrid[0:h, 0:w]
    mask = (xs - cx) ** 2 + (ys - cy) ** 2 < radius**2
    frame[mask] = colour
    return frame


def _audio(spec: VideoSpec, rate: int = 48_000) -> np.ndarray:
    n = int(round(spec.duration_s * rate))
    t = np.arange(n) / rate
    if spec.audio == "tone":
        return (0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    if spec.audio == "speech":
        # Real speech (espeak-ng): the detector is a trained voice-activity model.
        from .speech import speech

        out = np.zeros(n, np.float32)
        for k, (start, end) in enumerate(spec.speech_spans_s):
            i0, i1 = int(start * rate), min(n, int(end * rate))
            out[i0:i1] = speech((i1 - i0) / rate, rate, seed=spec.seed + k)[: i1 - i0]
        return out
    return np.zeros(n, np.float32)


def make_video(path: str | Path, spec: VideoSpec) -> Path:
    """Encode `spec` to `path` (container from the suffix). Returns the path."""
    path = Path(path)
    w, h = spec.size
    fps = Fraction(spec.fps).limit_denominator(1001) if not isinstance(spec.fps, Fraction) else spec.fps
    n_frames = len(spec.frame_times_s) if spec.frame_times_s else int(round(spec.duration_s * fps))
    rng = np.random.default_rng(spec.seed)
    changes = spec.shot_changes_s
    n_shots = len(changes) + 1
    scenes = [_scene(rng, w, h) for _ in range(n_shots)]
    objects = [
        (rng.uniform(0, 255, size=3), rng.uniform(0.5, 2.0), rng.uniform(h / 10, h / 5), rng.uniform(0, 6.28))
        for _ in range(n_shots)
    ]
    flash_frames = {int(round(f * fps)) for f in spec.flashes_s}

    def shot_at(t: float) -> int:
        return int(np.searchsorted(np.asarray(changes), t, side="right"))

    def plain(shot: int, t: float, i: int) -> np.ndarray:
        return _render_shot_frame(scenes[shot], objects[shot], t, spec, w, h, i)

    container = av.open(str(path), "w")
    stream = container.add_stream(spec.codec, rate=fps)
    stream.width, stream.height = w, h
    stream.pix_fmt = "yuv420p"
    if spec.frame_times_s:
        stream.codec_context.time_base = Fraction(1, 1000)
    if spec.codec == "libx264":
        stream.options = {"g": str(spec.gop), "keyint_min": str(spec.gop), "sc_threshold": "0",
                          "preset": spec.x264_preset, "crf": "20"}
    audio_stream = None
    if spec.audio:
        audio_stream = add_aac_stream(container)

    transitions = sorted(spec.transitions, key=lambda x: x.time_s)
    for i in range(n_frames):
        t = float(spec.frame_times_s[i]) if spec.frame_times_s else float(i / fps)
        shot = shot_at(t)
        img = plain(shot, t, i)
        for tr in transitions:
            half = tr.length_s / 2
            if tr.time_s - half <= t < tr.time_s + half:
                before = shot_at(tr.time_s - 1e-6)
                after = before + 1
                a = (t - (tr.time_s - half)) / tr.length_s  # 0..1 through the transition
                if tr.kind == "dissolve":
                    img = (1 - a) * plain(before, t, i) + a * plain(after, t, i)
                else:  # fade through black
                    img = plain(before, t, i) * max(0.0, 1 - 2 * a) if a < 0.5 else plain(after, t, i) * (2 * a - 1)
        if i in flash_frames:
            img = np.full_like(img, 250.0)
        frame = av.VideoFrame.from_ndarray(np.clip(img, 0, 255).astype(np.uint8), format="rgb24")
        if spec.frame_times_s:  # variable frame rate: millisecond timestamps
            frame.pts = int(round(t * 1000))
            frame.time_base = Fraction(1, 1000)
        else:
            frame.pts = i
            frame.time_base = 1 / fps
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)

    if audio_stream is not None:
        mux_aac(container, audio_stream, _audio(spec))
    container.close()
    return path


AAC_FRAME = 1024  # samples per AAC frame


def add_aac_stream(container, rate: int = 48_000):
    """A mono AAC stream in `container` (add every stream before muxing any packet)."""
    stream = container.add_stream("aac", rate=rate)
    stream.layout = "mono"
    return stream


def mux_aac(container, stream, samples: np.ndarray) -> None:
    """Encode mono float samples, shape (n,), at the stream's rate into `stream` and mux them,
    then flush the encoder: the one AAC-writing loop of the tests."""
    samples = np.asarray(samples, np.float32)
    rate = stream.rate
    for k in range(0, len(samples), AAC_FRAME):
        chunk = np.ascontiguousarray(samples[None, k : k + AAC_FRAME])  # (1, <=1024)
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
        frame.sample_rate, frame.pts = rate, k
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)


def make_audio_only(path: str | Path, duration_s: float = 1.0, rate: int = 48_000) -> Path:
    """An AAC file with no picture (silence): media a video tool must refuse."""
    with av.open(str(path), "w") as container:
        mux_aac(container, add_aac_stream(container, rate), np.zeros(int(duration_s * rate), np.float32))
    return Path(path)
