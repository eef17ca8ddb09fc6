"""Made clips of things an editor does not call a cut, and of regular motion, encoded with PyAV.

Each clip is rendered from a camera over a textured world: a fast zoom, a whip pan (with
motion blur), camera flashes, a subject passing close to the lens, a hand-held walk, a bouncing
ball, a calm static shot and a busy one. Pictures are drawn at twice the size and averaged
down (anti-aliased, as a camera's sensor is).
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

SIZE = (160, 90)  # width, height of the encoded clips


def world(seed: int, w: int, h: int) -> np.ndarray:
    """A textured scene (h, w, 3) float32 0..255: smooth colour fields, rectangles with edges, grain."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.empty((h, w, 3), np.float32)
    base = rng.uniform(60, 190, 3)
    for c in range(3):
        fx, fy = rng.uniform(0.005, 0.03, 2)
        img[..., c] = base[c] + 35 * np.sin(xs * fx + c) * np.cos(ys * fy + 2 * c)
    for _ in range(int(w * h / 900)):
        x0, y0 = rng.integers(0, w - 4), rng.integers(0, h - 4)
        rw, rh = rng.integers(3, max(4, w // 12)), rng.integers(3, max(4, h // 8))
        img[y0 : y0 + rh, x0 : x0 + rw] = rng.uniform(0, 255, 3)
    img += rng.normal(0, 4, img.shape).astype(np.float32)
    return np.clip(img, 0, 255)


def view(scene: np.ndarray, cx: float, cy: float, zoom: float, w: int, h: int) -> np.ndarray:
    """The (h, w, 3) picture a camera centred on (cx, cy) in `scene` pixels sees at `zoom`
    (scene pixels per output pixel = 1 / zoom), sampled at 2x and averaged (anti-aliased)."""
    sh, sw = scene.shape[:2]
    oy = (np.arange(2 * h) + 0.5) / 2 - h / 2
    ox = (np.arange(2 * w) + 0.5) / 2 - w / 2
    yi = np.clip(np.round(cy + oy / zoom).astype(int), 0, sh - 1)
    xi = np.clip(np.round(cx + ox / zoom).astype(int), 0, sw - 1)
    big = scene[yi[:, None], xi[None, :]]  # (2h, 2w, 3)
    return big.reshape(h, 2, w, 2, 3).mean(axis=(1, 3))


def disc(img: np.ndarray, cx: float, cy: float, r: float, colour, soft: float = 1.0) -> np.ndarray:
    """`img` with a filled disc drawn on it (a copy); its edge ramps over `soft` pixels (1: just
    anti-aliased; wide: out of focus, as a subject close to the lens is)."""
    h, w = img.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    cover = np.clip((r + soft / 2 - np.sqrt((xs - cx) ** 2 + (ys - cy) ** 2)) / soft, 0, 1)[..., None]  # (h, w, 1)
    return img * (1 - cover) + np.asarray(colour, np.float32) * cover


def encode(path: Path, frames: Callable[[int, float], np.ndarray], n_frames: int, fps=25,
           times_s: np.ndarray | None = None, gop: int = 48, preset: str = "ultrafast") -> Path:
    """Encode frames(i, t) for i < n_frames to H.264 in `path`; `times_s` gives VFR frame times."""
    fps = Fraction(fps).limit_denominator(1001)
    w, h = SIZE
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"g": str(gop), "keyint_min": str(gop), "sc_threshold": "0", "preset": preset, "crf": "18"}
        if times_s is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
        for i in range(n_frames):
            t = float(times_s[i]) if times_s is not None else i / float(fps)
            frame = av.VideoFrame.from_ndarray(np.clip(frames(i, t), 0, 255).astype(np.uint8), format="rgb24")
            if times_s is not None:
                frame.pts, frame.time_base = int(round(t * 1000)), Fraction(1, 1000)
            else:
                frame.pts, frame.time_base = i, 1 / fps
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def _ease(x: float) -> float:
    x = min(max(x, 0.0), 1.0)
    return x * x * (3 - 2 * x)


def fast_zoom(path: Path, seconds: float = 4.0, fps: int = 25) -> Path:
    """A crash zoom in (1x to 4x in 0.4 s), a hold, and a zoom back out, on one scene."""
    w, h = SIZE
    scene = world(11, 3 * w, 3 * h)

    def frame(i, t):
        z = 1.0 + 3.0 * (_ease((t - 1.0) / 0.4) - _ease((t - 2.6) / 0.5))
        return view(scene, 1.5 * w + 6 * np.sin(t), 1.5 * h, z * 0.5, w, h)

    return encode(path, frame, int(seconds * fps), fps)


def whip_pan(path: Path, seconds: float = 4.0, fps: int = 25) -> Path:
    """The camera whips across a wide scene (5 frame-widths in 0.3 s) with motion blur, and back."""
    w, h = SIZE
    scene = world(12, 8 * w, 2 * h)

    def x_at(t: float) -> float:
        return w + 5 * w * (_ease((t - 1.2) / 0.3) - _ease((t - 2.8) / 0.3))

    def frame(i, t):
        subs = [view(scene, x_at(t + k / (8 * fps)), h, 1.0, w, h) for k in range(8)]  # shutter open a frame
        return np.mean(subs, axis=0)

    return encode(path, frame, int(seconds * fps), fps)


def flashes(path: Path, seconds: float = 4.0, fps: int = 25) -> Path:
    """Camera flashes on a slowly drifting shot: one full-white frame, and a flash that decays
    over three frames."""
    w, h = SIZE
    scene = world(13, 2 * w, 2 * h)
    single, decaying = int(1.2 * fps), int(2.6 * fps)

    def frame(i, t):
        img = view(scene, w + 10 * t, h, 1.0, w, h)
        if i == single:
            return np.full_like(img, 250.0)
        k = i - decaying
        if 0 <= k < 3:
            a = (0.9, 0.55, 0.25)[k]
            return img * (1 - a) + 255.0 * a
        return img

    return encode(path, frame, int(seconds * fps), fps)


def subject_close_to_lens(path: Path, seconds: float = 5.0, fps: int = 25) -> Path:
    """Someone walks past close to the lens: a large dark textured shape enters from the left,
    fills the whole frame for a few frames, and leaves on the right; then a second pass that
    fills most of the frame and pulls back, as a subject leaning into the lens does."""
    w, h = SIZE
    scene = world(14, 2 * w, 2 * h)
    coat = world(15, 4 * w, 2 * h) * 0.35 + 20  # dark, with its own texture

    def frame(i, t):
        img = view(scene, w + 4 * np.sin(t), h, 1.0, w, h)
        xs = np.arange(w, dtype=np.float32)[None, :]
        # Pass 1 (1.0-1.8 s): a body twice the frame wide crossing left to right.
        u = (t - 1.0) / 0.8
        if 0 <= u <= 1:
            cx = -1.2 * w + u * 3.4 * w
            cover = np.clip((1.1 * w - np.abs(xs - cx)) / 3.0, 0, 1)[..., None]
            body = coat[:h, int(2 * w - cx) % (2 * w) :][:, :w]
            body = body if body.shape[1] == w else coat[:h, :w]
            img = img * (1 - cover) + body * cover
        # Pass 2 (2.8-4.2 s): an out-of-focus head that leans in to fill the frame, then pulls back.
        v = (t - 2.8) / 1.4
        if 0 <= v <= 1:
            r = 0.2 * h + 0.75 * w * np.sin(np.pi * v)
            img = disc(img, w * (0.3 + 0.4 * v), 0.6 * h, r, (150, 110, 90), soft=0.3 * w + 0.5 * r)
        return img

    return encode(path, frame, int(seconds * fps), fps)


def handheld_walk(path: Path, seconds: float = 6.0, fps: int = 30) -> Path:
    """Walking with a hand-held camera: steps every 0.5 s bob the view, the hand shakes, and the
    view creeps forward (a slow zoom) through a scene with near objects."""
    w, h = SIZE
    scene = world(16, 3 * w, 3 * h)
    rng = np.random.default_rng(17)
    n = int(seconds * fps)
    shake = np.cumsum(rng.normal(0, 1.2, (n, 2)), axis=0)
    shake -= np.linspace(0, 1, n)[:, None] * shake[-1]  # the walk drifts back to centre

    def frame(i, t):
        bob = 5.0 * abs(np.sin(np.pi * t / 0.5))
        return view(scene, 1.5 * w + shake[i, 0] + 8 * np.sin(0.7 * t), 1.5 * h + shake[i, 1] + bob,
                    1.0 + 0.08 * t, w, h)

    return encode(path, frame, n, fps)


def bouncing_ball(path: Path, period_s: float = 0.6, seconds: float = 8.0, fps: int = 30,
                  first_impact_s: float = 0.47) -> tuple[Path, np.ndarray]:
    """A ball bouncing on the floor every `period_s` (a parabola between impacts) in a still shot.

    Returns the path and the impact times in seconds.
    """
    w, h = SIZE
    scene = world(18, w, h) * 0.5 + 20  # a dim room
    floor = 0.85 * h
    r = 0.09 * h

    def height(t: float) -> float:
        u = ((t - first_impact_s) % period_s) / period_s  # 0 at an impact
        return 4 * u * (1 - u) * 0.65 * h  # height above the floor

    def frame(i, t):
        return disc(scene, 0.5 * w + 0.1 * w * np.sin(t), floor - r - height(t), r, (235, 225, 70))  # a tennis ball

    impacts = np.arange(first_impact_s, seconds, period_s)
    return encode(path, frame, int(seconds * fps), fps), impacts


def calm_static(path: Path, seconds: float = 8.0, fps: int = 25) -> Path:
    """A locked-off shot where almost nothing moves."""
    w, h = SIZE
    scene = world(19, 2 * w, 2 * h)
    return encode(path, lambda i, t: view(scene, w + 0.3 * np.sin(t), h, 1.0, w, h), int(seconds * fps), fps)


def busy_motion(path: Path, seconds: float = 8.0, fps: int = 25) -> Path:
    """The same length, everything moving: a fast pan back and forth and several fast objects."""
    w, h = SIZE
    scene = world(20, 4 * w, 2 * h)
    rng = np.random.default_rng(21)
    balls = [(rng.uniform(2, 6), rng.uniform(0, 6.3), rng.uniform(0, 255, 3)) for _ in range(5)]

    def frame(i, t):
        img = view(scene, 2 * w + 1.3 * w * np.sin(1.7 * t), h + 0.3 * h * np.sin(2.3 * t), 1.0, w, h)
        for speed, phase, colour in balls:
            img = disc(img, w / 2 + 0.4 * w * np.sin(speed * t + phase), h / 2 + 0.4 * h * np.cos(1.3 * speed * t),
                       0.12 * h, colour)
        return img

    return encode(path, frame, int(seconds * fps), fps)
