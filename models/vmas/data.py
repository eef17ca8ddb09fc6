"""Training data: a folder of videos with their soundtracks -> cached shards of training windows.

Each video is decoded once: frames at the video fps (letterboxed to a square of `frame_size`),
its soundtrack at the codec rate (mono), codec codes, beats tracked in the soundtrack and visual
beats from the frames. It is cut into windows of `window_s` and written to shards (`shard-*.pt`,
a list of windows each) under a cache folder keyed by the config and the files' sizes and times,
so a second run reads the shards instead of decoding again. Serving uses `segment_frames` to
get the frames of a timeline segment the same way.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import torch

from ..analysis.decode import DecodeOptions, iter_video
from ..interface import MediaError, Segment, check_cancelled
from .beats import activation, track_music_beats, visual_beats_from_frames
from .codec import Codec
from .config import VmasConfig

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".m4v", ".avi")
SHARD_WINDOWS = 256  # windows per shard file
CACHE_VERSION = 5  # bump when what a window holds or how it is made changes


def _letterbox(rgb: np.ndarray, size: int) -> np.ndarray:
    """(h, w, 3) uint8 -> (3, size, size): centred on black; a side longer than size is cropped."""
    h, w = rgb.shape[:2]
    y0, x0 = max(0, (h - size) // 2), max(0, (w - size) // 2)
    rgb = rgb[y0 : y0 + size, x0 : x0 + size]
    h, w = rgb.shape[:2]
    out = np.zeros((3, size, size), np.uint8)
    y, x = (size - h) // 2, (size - w) // 2
    out[:, y : y + h, x : x + w] = rgb.transpose(2, 0, 1)
    return out


def sample_frames(path: str, fps: float, size: int, in_s: float = 0.0, out_s: float | None = None,
                  n_frames: int | None = None, cancel: threading.Event | None = None) -> np.ndarray:
    """Frames at times in_s + i / fps -> (N, 3, size, size) uint8, each the frame shown then.

    N is n_frames when given, else ceil((out_s - in_s) * fps), else up to the last frame.
    """
    want = n_frames if n_frames is not None else (
        None if out_s is None else int(np.ceil((out_s - in_s) * fps - 1e-9)))
    out: list[np.ndarray] = []
    last, last_t = None, 0.0
    for t, rgb in iter_video(path, in_s, out_s, cancel=cancel, options=DecodeOptions(width=size)):
        img = _letterbox(rgb, size)
        while (want is None or len(out) < want) and in_s + len(out) / fps < t - 1e-6:
            out.append(last if last is not None else img)  # the frame on screen at that time
        last, last_t = img, t
        if want is not None and len(out) >= want:
            break
    if last is None:
        raise MediaError(f"{path}: no video frames in the range asked for")
    while (len(out) < want) if want is not None else (in_s + len(out) / fps <= last_t + 1e-6):
        out.append(last)  # hold the last frame to the end of the range
    return np.stack(out)


def decode_audio(path: str, sample_rate: int) -> np.ndarray:
    """The first audio stream, mono float32 (N,) at sample_rate; empty when there is none."""
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return np.zeros(0, np.float32)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        chunks = [f.to_ndarray().reshape(-1) for frame in container.decode(audio=0) for f in resampler.resample(frame)]
        chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)


def segment_frames(segment: Segment, fps: float, size: int, cancel: threading.Event | None = None) -> np.ndarray:
    """A timeline segment's picture at fps -> (N, 3, size, size) uint8, N = ceil(duration * fps).

    Each clip is sampled at its record times mapped to source times (speed changes included);
    record time no clip covers is black.
    """
    n = int(np.ceil(segment.duration_s * fps - 1e-9))
    out = np.zeros((n, 3, size, size), np.uint8)
    for clip in segment.clips:
        check_cancelled(cancel)
        i0 = int(np.ceil(clip.record_start_s * fps - 1e-9))
        i1 = min(n, int(np.ceil(clip.record_end_s * fps - 1e-9)))
        if i1 <= i0:
            continue
        # Record steps of 1/fps are source steps of speed/fps: sample the source at fps / speed.
        src_fps = fps / clip.speed
        src_in = clip.source_in_s + (i0 / fps - clip.record_start_s) * clip.speed
        frames = sample_frames(clip.path, src_fps, size, src_in, clip.source_out_s, n_frames=i1 - i0, cancel=cancel)
        out[i0:i1] = frames
    return out


@dataclass(frozen=True)
class ClipItem:
    """One file's worth of decoded data before windowing."""

    frames: np.ndarray  # (N, 3, S, S) uint8 at the video fps
    codes: torch.Tensor  # (K, T) codec codes
    music_beats_s: np.ndarray  # beats tracked in the soundtrack
    visual_beats_s: np.ndarray  # peaks of frame-to-frame change


def _fingerprint(files: list[Path], cfg: VmasConfig) -> str:
    h = hashlib.sha256(json.dumps({"version": CACHE_VERSION, "codec": cfg.codec.__dict__, "fps": cfg.video.fps,
                                   "size": cfg.video.frame_size, "window": cfg.window_s,
                                   "sigma": cfg.beat_sigma_s}, sort_keys=True).encode())
    for f in files:
        st = f.stat()
        h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def video_files(data_dir: Path) -> list[Path]:
    return sorted(p for p in Path(data_dir).rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())


def _windows(path: Path, cfg: VmasConfig, codec: Codec) -> list[dict]:
    v = cfg.video
    wav = decode_audio(str(path), codec.sample_rate)
    if len(wav) < cfg.window_s * codec.sample_rate:
        return []  # no soundtrack, or shorter than one window
    frames = sample_frames(str(path), v.fps, v.frame_size)
    codes = codec.encode(torch.from_numpy(wav)[None, None])[0]  # (K, T)
    music_beats = track_music_beats(wav, codec.sample_rate)
    visual_beats = visual_beats_from_frames(frames, v.fps)
    t_win, f_win = cfg.window_frames, int(round(cfg.window_s * v.fps))
    out = []
    for w in range(min(codes.shape[1] // t_win, len(frames) // f_win)):
        start_s = w * cfg.window_s
        rel = lambda beats: np.asarray(beats) - start_s  # noqa: E731 - times relative to the window
        out.append({
            "source": path.name, "start_s": start_s,
            "frames": torch.from_numpy(frames[w * f_win : (w + 1) * f_win].copy()),  # (F, 3, S, S)
            "codes": codes[:, w * t_win : (w + 1) * t_win].to(torch.int16),  # (K, T)
            "music_beat": torch.from_numpy(activation(rel(music_beats), t_win, codec.frame_rate, cfg.beat_sigma_s)),
            "visual_beat": torch.from_numpy(activation(rel(visual_beats), t_win, codec.frame_rate, cfg.beat_sigma_s)),
        })
    return out


def build_cache(data_dir: Path, cfg: VmasConfig, codec: Codec, cache_root: Path, log=print) -> Path:
    """Decode every video under data_dir once into shards; returns the shard folder."""
    files = video_files(data_dir)
    if not files:
        raise MediaError(f"no videos under {data_dir}: put video files with soundtracks there "
                         f"({', '.join(VIDEO_SUFFIXES)})")
    folder = Path(cache_root) / _fingerprint(files, cfg)
    if (folder / "index.json").is_file():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    buffer, shards, counts = [], [], []
    for i, path in enumerate(files):
        try:
            buffer += _windows(path, cfg, codec)
        except (MediaError, av.FFmpegError) as exc:
            log(f"skipping {path.name}: {exc}")
        while len(buffer) >= SHARD_WINDOWS or (buffer and i == len(files) - 1):
            name = f"shard-{len(shards):05d}.pt"
            torch.save(buffer[:SHARD_WINDOWS], folder / name)
            shards.append(name)
            counts.append(len(buffer[:SHARD_WINDOWS]))
            buffer = buffer[SHARD_WINDOWS:]
    if not counts:
        raise MediaError(f"none of the {len(files)} videos under {data_dir} has a soundtrack of at least "
                         f"{cfg.window_s:g} s; training needs videos with their music")
    (folder / "index.json").write_text(json.dumps({"shards": shards, "counts": counts}))
    return folder


class WindowDataset:
    """The cached windows, read from memory-mapped shards (only the windows used are paged in).

    Training draws each micro-batch from one shard (chosen in proportion to its size), the usual
    shard-local shuffle that keeps reads sequential; `batch` takes global window indices.
    """

    OPEN_SHARDS = 2  # shards kept mapped at once

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        index = json.loads((self.folder / "index.json").read_text())
        self.shards, self.counts = index["shards"], index["counts"]
        self.starts = np.concatenate([[0], np.cumsum(self.counts)])  # global index of each shard's first
        self._open: dict[int, list] = {}

    def __len__(self) -> int:
        return int(self.starts[-1])

    def _shard(self, i: int) -> list:
        if i not in self._open:
            if len(self._open) >= self.OPEN_SHARDS:
                self._open.pop(next(iter(self._open)))
            self._open[i] = torch.load(self.folder / self.shards[i], weights_only=True, mmap=True)
        return self._open[i]

    def sample(self, batch_size: int, generator: torch.Generator) -> list[int]:
        """Global indices of one micro-batch: one shard, windows drawn with replacement."""
        weights = torch.tensor(self.counts, dtype=torch.float64)
        shard = int(torch.multinomial(weights, 1, generator=generator))
        local = torch.randint(self.counts[shard], (batch_size,), generator=generator)
        return [int(self.starts[shard]) + int(i) for i in local]

    def batch(self, indices, device: str | torch.device = "cpu") -> dict:
        pick = []
        for i in indices:
            shard = int(np.searchsorted(self.starts, i, side="right")) - 1
            pick.append(self._shard(shard)[i - int(self.starts[shard])])
        return {
            "frames": torch.stack([w["frames"] for w in pick]).to(device),  # (B, F, 3, S, S) uint8
            "codes": torch.stack([w["codes"] for w in pick]).long().to(device),  # (B, K, T)
            "music_beat": torch.stack([w["music_beat"] for w in pick]).to(device),  # (B, T)
            "visual_beat": torch.stack([w["visual_beat"] for w in pick]).to(device),  # (B, T)
        }
