"""A finished job in wire form, the result cache that keeps it, and the events that stream it.

A result is the Analysis, Plan and Manifest messages plus one PCM blob per stem (mix first). The
cache stores each under `results/<key>/`, written into a temporary folder and renamed into place,
so an entry is always whole; a cached stream is byte-for-byte the one first sent.
"""

from __future__ import annotations

import hashlib
import json
import logging
import mmap
import os
import shutil
import tempfile
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from scorecut import __version__
from scorecut.models.interface import MIX, STEMS, FinishedScore
from scorecut.v1 import scorecut_pb2 as pb

from . import pcm, wire

log = logging.getLogger("scorecut.server")
_ENCODERS = ThreadPoolExecutor(max(2, min(5, os.cpu_count() or 2)), thread_name_prefix="scorecut-encode")


@dataclass
class WireResult:
    analysis: pb.Analysis
    plan: pb.Plan
    manifest: pb.Manifest  # its sha256 fields are filled once every pending stem is encoded
    pcm: dict[str, bytes | Path | Future]  # PCM bytes, the cached file holding them, or (bytes, sha256) to come
    _settle_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def settle(self) -> "WireResult":
        """Wait for stems still being encoded; then every pcm value is bytes or a Path and the
        manifest carries every sha256. Safe to call from several threads."""
        with self._settle_lock:
            pending = {name: f for name, f in self.pcm.items() if isinstance(f, Future)}
        done = {name: f.result() for name, f in pending.items()}  # waited for without the lock
        with self._settle_lock:
            for info in self.manifest.stems:
                if info.name in done and isinstance(self.pcm[info.name], Future):
                    self.pcm[info.name], info.sha256 = done[info.name]
        return self

    def stems(self) -> list[tuple[str, int, int, str, "bytes | Path | Future"]]:
        """(name, channels, sample_rate, sample_format, pcm source) per stem, in stream order."""
        with self._settle_lock:
            return [(i.name, i.channels, i.sample_rate, i.sample_format, self.pcm[i.name]) for i in self.manifest.stems]

    def manifest_event(self, job_id: str) -> pb.ScoreEvent:
        self.settle()
        with self._settle_lock:
            return pb.ScoreEvent(job_id=job_id, manifest=self.manifest)


def analysis_message(analysis) -> pb.Analysis:
    """Everything a client draws or places from the analysis, so it never decodes the video again."""
    return pb.Analysis(duration_s=float(analysis.duration_s), analysis_fps=float(analysis.analysis_fps),
                       cuts_s=analysis.cuts_s.tolist(), cut_strength=analysis.cut_strength.tolist(),
                       cut_kinds=list(analysis.cut_kinds), visual_beats_s=analysis.visual_beats_s.tolist(),
                       visual_beat_strength=analysis.visual_beat_strength.tolist(),
                       times_s=analysis.times_s.tolist(), motion=analysis.motion.tolist(),
                       pace=analysis.pace.tolist(), speech_times_s=analysis.speech_times_s.tolist(),
                       speech=analysis.speech.tolist())


def plan_message(plan) -> pb.Plan:
    return pb.Plan(tempo_bpm=plan.tempo_bpm, meter=plan.meter, key=plan.key, beats_s=list(plan.beats_s),
                   downbeats_s=list(plan.downbeats_s), style=plan.style, mood=plan.mood,
                   sections=[pb.Section(start_s=s.start_s, end_s=s.end_s, intensity=s.intensity, label=s.label)
                             for s in plan.sections])


def score_json(finished: FinishedScore) -> str:
    """The model-specific score.json fields; the plan, cuts and stems travel in their own messages
    and the client writes score.json from them (plugins.client.score_document)."""
    return json.dumps({key: value for key, value in (finished.extra or {}).items()}, sort_keys=False)


def encode_result(analysis, finished: FinishedScore, stems_wanted: tuple[str, ...], sample_format: str,
                  duration_s: float) -> WireResult:
    """Start encoding every stem to PCM (mix first, then STEMS order) and describe them.

    Returns at once: the stems encode side by side in threads (numpy and hashlib release the GIL on
    large buffers), so the mix can stream while the other stems are still being encoded.
    """
    order = [MIX] + [s for s in STEMS if s in stems_wanted and s in finished.stems]
    audio = {name: finished.mix if name == MIX else finished.stems[name] for name in order}  # (channels, frames)

    def encode(name: str) -> tuple[bytes, str]:
        data = pcm.encode(audio[name], sample_format)
        return data, hashlib.sha256(data).hexdigest()

    pending = {name: _ENCODERS.submit(encode, name) for name in order}  # submitted in stream order
    infos = [pb.StemInfo(name=name, frames=int(audio[name].shape[1]), channels=int(audio[name].shape[0]),
                         sample_rate=int(finished.sample_rate), sample_format=sample_format) for name in order]
    manifest = pb.Manifest(stems=infos, model=finished.model, seed=int(finished.seed), version=__version__,
                           loudness_lufs=float(finished.loudness_lufs),
                           true_peak_dbtp=float(finished.true_peak_dbtp),
                           score_json=score_json(finished))
    return WireResult(analysis_message(analysis), plan_message(finished.plan), manifest, pending)


def stream_events(job_id: str, result: WireResult, with_analysis: bool = True) -> Iterator[pb.ScoreEvent | bytes]:
    """analysis (unless sent earlier), plan, each stem's chunks in manifest order, the manifest."""
    if with_analysis:
        yield pb.ScoreEvent(job_id=job_id, analysis=result.analysis)
    yield pb.ScoreEvent(job_id=job_id, plan=result.plan)
    prefix = wire.job_prefix(job_id)
    for name, channels, rate, fmt, source in result.stems():
        if isinstance(source, Future):
            source = source.result()[0]  # this stem's encoding; later ones go on meanwhile
        step = pcm.chunk_frames(channels, fmt)
        frame_bytes = channels * pcm.SAMPLE_FORMATS[fmt]

        def encode(offset: int, data: memoryview, name=name, channels=channels, rate=rate, fmt=fmt,
                   frame_bytes=frame_bytes) -> bytes:
            return wire.chunk_event(prefix, name, channels, rate, offset // frame_bytes, fmt,
                                    data)  # pre-encoded: the PCM is copied once

        yield from _encoded_chunks(source, step * frame_bytes, encode)
    yield result.manifest_event(job_id)


def _encoded_chunks(source: bytes | Path, size: int, encode) -> Iterator[bytes]:
    """encode(offset, view) for each `size`-byte slice of the PCM, read without a copy (a cached
    file is memory-mapped), so the only copy is the one into the event."""
    if isinstance(source, Path):
        with open(source, "rb") as f:
            if os.fstat(f.fileno()).st_size == 0:
                return
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                yield from _slices(memoryview(mapped), size, encode)
        return
    yield from _slices(memoryview(source), size, encode)


def _slices(view: memoryview, size: int, encode) -> Iterator[bytes]:
    with view:
        for offset in range(0, len(view), size):
            with view[offset : offset + size] as part:  # released before the map may close
                event = encode(offset, part)
            yield event


class ResultCache:
    """Finished results on disk under `root/<key>/`, the least recently used dropped past a size."""

    def __init__(self, root: Path, max_bytes: int):
        self.root = Path(root)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()

    def get(self, key: str) -> WireResult | None:
        folder = self.root / key
        try:
            analysis = pb.Analysis.FromString((folder / "analysis.pb").read_bytes())
            plan = pb.Plan.FromString((folder / "plan.pb").read_bytes())
            manifest = pb.Manifest.FromString((folder / "manifest.pb").read_bytes())
        except (FileNotFoundError, NotADirectoryError):
            return None
        files = {s.name: folder / f"{s.name}.pcm" for s in manifest.stems}
        if not all(p.is_file() for p in files.values()):
            return None
        os.utime(folder)  # recently used
        manifest.cached = True
        return WireResult(analysis, plan, manifest, files)

    def put(self, key: str, result: WireResult) -> None:
        """Store atomically: a half-written entry is never visible under its key."""
        result.settle()
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.root))
        try:
            (tmp / "analysis.pb").write_bytes(result.analysis.SerializeToString())
            (tmp / "plan.pb").write_bytes(result.plan.SerializeToString())
            for name, data in result.pcm.items():
                (tmp / f"{name}.pcm").write_bytes(data if isinstance(data, bytes) else Path(data).read_bytes())
            (tmp / "manifest.pb").write_bytes(result.manifest.SerializeToString())  # last: marks it whole
            try:
                os.rename(tmp, self.root / key)
            except OSError:
                pass  # the same result landed meanwhile from a twin request; keep that one
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        self._evict()

    def clear_partial(self) -> None:
        """Remove temporary folders a killed server left behind."""
        if self.root.is_dir():
            for entry in self.root.glob(".tmp-*"):
                shutil.rmtree(entry, ignore_errors=True)

    def _evict(self) -> None:
        with self._lock:
            entries = []
            for folder in self.root.iterdir():
                if folder.name.startswith(".") or not folder.is_dir():
                    continue
                size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
                entries.append((folder.stat().st_mtime, size, folder))
            total = sum(e[1] for e in entries)
            for _, size, folder in sorted(entries):
                if total <= self.max_bytes:
                    break
                shutil.rmtree(folder, ignore_errors=True)
                total -= size
                log.info("result cache: dropped %s (%.1f MB) to stay under %.0f MB", folder.name,
                         size / 1e6, self.max_bytes / 1e6)
