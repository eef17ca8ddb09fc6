"""What the video encoder reads per frame, made one way for training shards and for serving.

Frames are sampled at the video fps: frame i is the picture on screen at in_s + i / fps. Then:
- the scratch CNN (`debug` config) reads pixels: letterboxed to a square of `frame_size`, uint8,
  (N, 3, S, S);
- with a pretrained backbone (`VideoConfig.backbone`), the encoder reads the frozen backbone's
  pooled features, (N, F) float16, computed once: frames are decoded near the backbone's native
  resolution (swscale reduces anything over twice its input size first, with an area filter),
  preprocessed by the backbone's own rules, and run through it in chunks of `chunk_frames`, so a
  10-minute video never holds its pictures in memory.
Training caches this in its shards (data.py); serving calls `FrameInput.segment` on the timeline
segment. A frame no clip covers is black, through the same path.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import av
import numpy as np
import torch
from av.video.reformatter import VideoReformatter

from ..analysis.decode import DecodeOptions, Thumbnailer, iter_decoded
from ..interface import MediaError, Segment, check_cancelled
from .backbone import ImageBackbone
from .config import VideoConfig

FEATURE_DTYPE = torch.float16  # cached features: half the bytes; pooled features are layer-normed, small


def letterbox(rgb: np.ndarray, size: int) -> np.ndarray:
    """(h, w, 3) uint8 -> (3, size, size): centred on black; a side longer than size is cropped."""
    h, w = rgb.shape[:2]
    y0, x0 = max(0, (h - size) // 2), max(0, (w - size) // 2)
    rgb = rgb[y0 : y0 + size, x0 : x0 + size]
    h, w = rgb.shape[:2]
    out = np.zeros((3, size, size), np.uint8)
    y, x = (size - h) // 2, (size - w) // 2
    out[:, y : y + h, x : x + w] = rgb.transpose(2, 0, 1)
    return out


def iter_sampled(path: str, fps: float, convert: Callable[[av.VideoFrame], np.ndarray], in_s: float = 0.0,
                 out_s: float | None = None, n_frames: int | None = None, cancel: threading.Event | None = None,
                 decode: DecodeOptions | None = None) -> Iterator[np.ndarray]:
    """Yield convert(frame on screen at in_s + i / fps) for i = 0, 1, ...

    N is n_frames when given, else ceil((out_s - in_s) * fps), else up to the last frame. Only the
    frames yielded are converted (a frame shown for several samples, once).
    """
    want = n_frames if n_frames is not None else (
        None if out_s is None else int(np.ceil((out_s - in_s) * fps - 1e-9)))
    n = 0
    last, last_t, last_img = None, 0.0, None

    def shown():  # the converted picture of the frame on screen
        nonlocal last_img
        if last_img is None:
            last_img = convert(last)
        return last_img

    for t, frame in iter_decoded(path, in_s, out_s, cancel=cancel, options=decode or DecodeOptions()):
        if last is None:  # samples before the first frame show the first frame
            last, last_t = frame, t
        while (want is None or n < want) and in_s + n / fps < t - 1e-6:
            yield shown()
            n += 1
        if frame is not last:
            last, last_t, last_img = frame, t, None
        if want is not None and n >= want:
            break
    if last is None:
        raise MediaError(f"{path}: no video frames in the range asked for")
    while (n < want) if want is not None else (in_s + n / fps <= last_t + 1e-6):
        yield shown()  # hold the last frame to the end of the range
        n += 1


class NativeSize:
    """av.VideoFrame -> (h, w, 3) uint8 RGB, reduced (area) only when over twice `short_edge`."""

    def __init__(self, short_edge: int):
        self.short_edge, self.scaler = short_edge, VideoReformatter()

    def __call__(self, frame: av.VideoFrame) -> np.ndarray:
        w, h = frame.width, frame.height
        limit = 2 * self.short_edge
        if min(w, h) > limit:
            scale = limit / min(w, h)
            w, h = max(1, round(w * scale)), max(1, round(h * scale))
        return self.scaler.reformat(frame, width=w, height=h, format="rgb24", interpolation="AREA").to_ndarray()


class FrameInput:
    """Per-frame encoder input of a video config: pixels (scratch CNN) or backbone features."""

    def __init__(self, video: VideoConfig, backbone: ImageBackbone | None = None):
        if bool(video.backbone) != (backbone is not None):
            raise ValueError("a video config with a backbone needs its loaded ImageBackbone, and one without none")
        self.video, self.backbone = video, backbone

    @property
    def key(self) -> str:
        """The name of this input in a training window and batch."""
        return "features" if self.backbone is not None else "frames"

    def item_shape(self) -> tuple[int, ...]:
        """Shape of one frame's input."""
        if self.backbone is not None:
            return (self.backbone.width,)
        return (3, self.video.frame_size, self.video.frame_size)

    def clip(self, path: str, fps: float | None = None, in_s: float = 0.0, out_s: float | None = None,
             n_frames: int | None = None, cancel: threading.Event | None = None) -> torch.Tensor:
        """One file's range sampled at fps (default: the config's) -> (N, ...) encoder input."""
        fps = self.video.fps if fps is None else fps
        if self.backbone is None:
            thumbnail = Thumbnailer(DecodeOptions(width=self.video.frame_size))
            size = self.video.frame_size
            frames = iter_sampled(path, fps, lambda f: letterbox(thumbnail(f), size), in_s, out_s, n_frames, cancel)
            return torch.from_numpy(np.stack(list(frames)))  # (N, 3, S, S) uint8
        native = NativeSize(self.backbone.preprocess.decode_short_edge)
        # At the backbone's resolution the deblocking filter's work is visible: keep it on.
        frames = iter_sampled(path, fps, native, in_s, out_s, n_frames, cancel, DecodeOptions(skip_loop_filter=False))
        return self._features(frames, cancel)

    def _features(self, frames: Iterator[np.ndarray], cancel) -> torch.Tensor:
        """Frames (h, w, 3) uint8 -> (N, F) FEATURE_DTYPE, through the backbone in chunks."""
        out, chunk = [], []

        def flush():
            check_cancelled(cancel)
            out.append(self.backbone.features(torch.from_numpy(np.stack(chunk))).to(FEATURE_DTYPE))
            chunk.clear()

        for img in frames:
            if chunk and (len(chunk) >= self.video.chunk_frames or img.shape != chunk[0].shape):
                flush()
            chunk.append(img)
        if chunk:
            flush()
        return torch.cat(out)

    def blank(self, n: int) -> torch.Tensor:
        """(n, ...) the input of n black frames."""
        if self.backbone is None or n == 0:
            return torch.zeros((n, *self.item_shape()), dtype=torch.uint8 if self.backbone is None else FEATURE_DTYPE)
        s = self.backbone.preprocess.decode_short_edge
        black = self._features(iter([np.zeros((s, s, 3), np.uint8)]), None)  # (1, F)
        return black.expand(n, -1).clone()

    def segment(self, segment: Segment, cancel: threading.Event | None = None) -> torch.Tensor:
        """A timeline segment's picture at the config's fps -> (N, ...), N = ceil(duration * fps).

        Each clip is sampled at its record times mapped to source times (speed changes included);
        record time no clip covers is black.
        """
        fps = self.video.fps
        n = int(np.ceil(segment.duration_s * fps - 1e-9))
        covered = np.zeros(n, bool)
        out = None
        for clip in segment.clips:
            check_cancelled(cancel)
            i0 = int(np.ceil(clip.record_start_s * fps - 1e-9))
            i1 = min(n, int(np.ceil(clip.record_end_s * fps - 1e-9)))
            if i1 <= i0:
                continue
            # Record steps of 1/fps are source steps of speed/fps: sample the source at fps / speed.
            src_in = clip.source_in_s + (i0 / fps - clip.record_start_s) * clip.speed
            x = self.clip(clip.path, fps / clip.speed, src_in, clip.source_out_s, n_frames=i1 - i0, cancel=cancel)
            if out is None:
                out = torch.zeros((n, *x.shape[1:]), dtype=x.dtype)
            out[i0:i1] = x
            covered[i0:i1] = True
        if out is None:
            return self.blank(n)
        if not covered.all():
            out[torch.from_numpy(~covered)] = self.blank(1)
        return out


def sample_frames(path: str, fps: float, size: int, in_s: float = 0.0, out_s: float | None = None,
                  n_frames: int | None = None, cancel: threading.Event | None = None) -> np.ndarray:
    """Frames at times in_s + i / fps as the debug CNN reads them -> (N, 3, size, size) uint8."""
    return FrameInput(VideoConfig(fps=fps, frame_size=size)).clip(path, fps, in_s, out_s, n_frames, cancel).numpy()


def load_frame_input(video: VideoConfig, device: str | torch.device = "cpu") -> FrameInput:
    """The FrameInput of a config, its backbone loaded (and checked against the config's sha256)."""
    if not video.backbone:
        return FrameInput(video)
    return FrameInput(video, ImageBackbone(Path(video.backbone), video.backbone_sha256).to(device))
