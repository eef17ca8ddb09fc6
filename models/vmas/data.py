"""Training data: a folder of videos with their soundtracks -> cached shards of training windows.

Each video is decoded once: its soundtrack at the codec rate (mono) to codec codes and tracked
music beats; its picture to the video encoder's per-frame input (features.py: the frozen
backbone's features, or letterboxed pixels for the debug CNN); its visual beats by the analysis
the server runs on every request (models/analysis: cuts and motion peaks), so the beat stream
the model learns from is the one it is given when serving. It is cut into windows of `window_s`
and written to shards (`shard-*.pt`, a list of windows each) under a cache folder keyed by the
config, the backbone's sha256 and the files' sizes and times, so a second run reads the shards
instead of decoding again. A file that cannot be used is named with the reason and left out;
the others train.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

import av
import numpy as np
import torch

from ..analysis import analyze_file
from ..analysis.probe import _short, open_media
from ..interface import VIDEO_SUFFIXES, MediaError, Segment
from .beats import activation, track_music_beats, visual_beat_times
from .codec import Codec
from .config import VideoConfig, VmasConfig
from .features import FrameInput, load_frame_input, sample_frames  # noqa: F401 - sample_frames: data's API

SHARD_WINDOWS = 256  # windows per shard file
CACHE_VERSION = 6  # bump when what a window holds or how it is made changes (6: backbone features)


def decode_audio(path: str, sample_rate: int) -> np.ndarray:
    """The first audio stream, mono float32 (N,) at sample_rate; empty when there is none.

    MediaError names the file and says why its sound cannot be used.
    """
    name = Path(path).name
    with open_media(path) as container:
        if not container.streams.audio:
            return np.zeros(0, np.float32)
        try:
            resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
            chunks = [f.to_ndarray().reshape(-1) for frame in container.decode(audio=0)
                      for f in resampler.resample(frame)]
            chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
        except (av.FFmpegError, ValueError) as exc:
            codec = container.streams.audio[0].codec_context.name
            raise MediaError(f"{name}: its sound ({codec}) cannot be decoded ({_short(exc)}); the file may be "
                             "damaged: export it again or take it out of the training folder") from None
    return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)


def segment_frames(segment: Segment, fps: float, size: int, cancel: threading.Event | None = None) -> np.ndarray:
    """A timeline segment's picture as the debug CNN reads it -> (N, 3, size, size) uint8."""
    return FrameInput(VideoConfig(fps=fps, frame_size=size)).segment(segment, cancel).numpy()


def _fingerprint(files: list[Path], cfg: VmasConfig) -> str:
    v = cfg.video
    picture = {"backbone_sha256": v.backbone_sha256} if v.backbone else {"size": v.frame_size}
    h = hashlib.sha256(json.dumps({"version": CACHE_VERSION, "codec": cfg.codec.__dict__, "fps": v.fps,
                                   "picture": picture, "window": cfg.window_s,
                                   "sigma": cfg.beat_sigma_s}, sort_keys=True).encode())
    for f in files:
        st = f.stat()
        h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def video_files(data_dir: Path) -> list[Path]:
    return sorted(p for p in Path(data_dir).rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())


def _windows(path: Path, cfg: VmasConfig, codec: Codec, frame_input: FrameInput | None = None) -> list[dict]:
    """One file's training windows; MediaError says why a file gives none.

    frame_input: the config's, loaded once by the caller (None: loaded here).
    """
    frame_input = frame_input or load_frame_input(cfg.video)
    wav = decode_audio(str(path), codec.sample_rate)
    if len(wav) == 0:
        raise MediaError(f"{path.name}: has no soundtrack; training needs videos with their music")
    if len(wav) < cfg.window_s * codec.sample_rate:
        raise MediaError(f"{path.name}: its soundtrack is {len(wav) / codec.sample_rate:.2f} s, shorter than one "
                         f"{cfg.window_s:g} s training window")
    video = frame_input.clip(str(path))  # (N, ...) at the video fps
    codes = codec.encode(torch.from_numpy(wav)[None, None])[0]  # (K, T)
    music_beats = track_music_beats(wav, codec.sample_rate)
    visual_beats = visual_beat_times(analyze_file(str(path)))
    t_win, f_win = cfg.window_frames, round(cfg.window_s * cfg.video.fps)
    fr = codec.frame_rate
    out = []
    for w in range(min(codes.shape[1] // t_win, len(video) // f_win)):
        start_s = w * cfg.window_s
        out.append({
            "source": path.name, "start_s": start_s,
            frame_input.key: video[w * f_win : (w + 1) * f_win].clone(),  # (F, 3, S, S) uint8 | (F, width)
            "codes": codes[:, w * t_win : (w + 1) * t_win].to(torch.int16),  # (K, T)
            "music_beat": torch.from_numpy(activation(music_beats - start_s, t_win, fr, cfg.beat_sigma_s)),
            "visual_beat": torch.from_numpy(activation(visual_beats - start_s, t_win, fr, cfg.beat_sigma_s)),
        })
    return out


def _backbone_record(video: VideoConfig) -> dict | None:
    return {"name": Path(video.backbone).name, "sha256": video.backbone_sha256} if video.backbone else None


class ShardMismatch(MediaError):
    """Shards made for another per-frame input (another backbone, or pixels) than the model's."""


def check_shards(folder: Path, video: VideoConfig) -> dict:
    """The shard folder's index; ShardMismatch when its per-frame input is not what `video` reads."""
    index = json.loads((Path(folder) / "index.json").read_text())
    have, want = index.get("backbone"), _backbone_record(video)
    if (have or {}).get("sha256") != (want or {}).get("sha256"):
        def says(r):
            return f"the image backbone {r['name']!r} (sha256 {r['sha256'][:12]}…)" if r else "the scratch CNN's pixels"
        raise ShardMismatch(f"the training shards in {folder} hold {says(have)}, but this model reads {says(want)}: "
                            "delete that folder or give another cache folder, and they are made again")
    return index


def build_cache(data_dir: Path, cfg: VmasConfig, codec: Codec, cache_root: Path, log=print,
                device: str | torch.device = "cpu") -> Path:
    """Decode every video under data_dir once into shards; returns the shard folder.

    device: where the image backbone computes features (the first time only).
    """
    if not (cfg.video.backbone or cfg.video.scratch_cnn):
        raise ValueError(f"the {cfg.name} config's video encoder stands on a pretrained image backbone: train "
                         "with --video-backbone DIR (a local CLIP or SigLIP folder); only the debug config "
                         "trains a CNN from scratch")
    files = video_files(data_dir)
    if not files:
        raise MediaError(f"no videos under {data_dir}: put video files with soundtracks there "
                         f"({', '.join(VIDEO_SUFFIXES)})")
    folder = Path(cache_root) / _fingerprint(files, cfg)
    if (folder / "index.json").is_file():
        check_shards(folder, cfg.video)
        return folder
    frame_input = load_frame_input(cfg.video, device)
    folder.mkdir(parents=True, exist_ok=True)
    buffer, shards, counts, skipped = [], [], [], {}
    for i, path in enumerate(files):
        try:
            buffer += _windows(path, cfg, codec, frame_input)
        except MediaError as exc:
            skipped[path.name] = str(exc)
            log(f"skipping {exc}")
        while len(buffer) >= SHARD_WINDOWS or (buffer and i == len(files) - 1):
            name = f"shard-{len(shards):05d}.pt"
            torch.save(buffer[:SHARD_WINDOWS], folder / name)
            shards.append(name)
            counts.append(len(buffer[:SHARD_WINDOWS]))
            buffer = buffer[SHARD_WINDOWS:]
    if not counts:
        reasons = "; ".join(skipped.values())
        raise MediaError(f"none of the {len(files)} videos under {data_dir} can be trained on ({reasons}); "
                         f"training needs videos with their music, at least {cfg.window_s:g} s long")
    if skipped:
        log(f"{len(skipped)} of {len(files)} videos left out (named above); training on the other "
            f"{len(files) - len(skipped)}")
    index = {"shards": shards, "counts": counts, "input": frame_input.key, "backbone": _backbone_record(cfg.video),
             "skipped": skipped}
    (folder / "index.json").write_text(json.dumps(index, indent=1))
    return folder


class WindowDataset:
    """The cached windows, read from memory-mapped shards (only the windows used are paged in).

    Training draws each micro-batch from one shard (chosen in proportion to its size), the usual
    shard-local shuffle that keeps reads sequential; `batch` takes global window indices.
    `video`: the config of the model that reads them; shards of another backbone are refused.
    """

    OPEN_SHARDS = 2  # shards kept mapped at once

    def __init__(self, folder: Path, video: VideoConfig | None = None):
        self.folder = Path(folder)
        index = check_shards(self.folder, video) if video is not None else \
            json.loads((self.folder / "index.json").read_text())
        self.shards, self.counts = index["shards"], index["counts"]
        self.input_key = index.get("input", "frames")
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
            # (B, F, 3, S, S) uint8 pixels, or (B, F, width) backbone features
            self.input_key: torch.stack([w[self.input_key] for w in pick]).to(device),
            "codes": torch.stack([w["codes"] for w in pick]).long().to(device),  # (B, K, T)
            "music_beat": torch.stack([w["music_beat"] for w in pick]).to(device),  # (B, T)
            "visual_beat": torch.stack([w["visual_beat"] for w in pick]).to(device),  # (B, T)
        }
