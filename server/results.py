"""A finished job in wire form, the result cache that keeps it, and the events that stream it.

A result is the Analysis, Plan and Manifest messages plus one PCM file per stem (mix first). The
cache stores each under `results/<key>/`, written into a temporary folder and renamed into place,
so an entry is always whole; a cached stream is byte-for-byte the one first sent.

Memory stays flat however long the result and however slow its readers: a finished job's stems
are encoded to PCM files block by block, and every stream reads its stems from open files one
chunk at a time. What all streams hold at once is counted against one budget (ResultBudget); a
stream that would exceed it is refused with RESOURCE_EXHAUSTED instead of growing the server.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from scorecut import __version__
from scorecut.models.interface import MIX, STEMS, FinishedScore, check_cancelled
from scorecut.v1 import scorecut_pb2 as pb

from . import pcm, wire
from .errors import RpcFailure
from .files import disk_full, is_disk_full, write_all

log = logging.getLogger("scorecut.server")
_ENCODERS = ThreadPoolExecutor(max(2, min(5, os.cpu_count() or 2)), thread_name_prefix="scorecut-encode")
ENCODE_BLOCK_S = 2  # seconds of a stem encoded at a time: a few MB per stem, whatever the length
CANCEL_POLL_S = 0.1  # how often a stream waiting for a stem's encoding looks for a cancel
STREAM_WINDOW_BYTES = 2 * pcm.CHUNK_BYTES + 64 * 1024  # a stream's PCM read + its event, in memory at once


class PcmFile:
    """One stem's PCM in a file, open for as long as a stream needs it (eviction or a rename of
    its folder meanwhile does not disturb a stream that has it open)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._file = open(path, "rb")
        self.size = os.fstat(self._file.fileno()).st_size

    def read(self, offset: int, size: int) -> bytes:
        return os.pread(self._file.fileno(), size, offset)

    def close(self) -> None:
        self._file.close()


def _close_encoded(done: Future) -> None:
    if done.exception() is None:
        done.result()[0].close()


class ResultBudget:
    """Bytes of result data all streams may hold in memory at once; refuses past it."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self._used = 0
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def hold(self, nbytes: int = STREAM_WINDOW_BYTES):
        with self._lock:
            if self._used + nbytes > self.max_bytes:
                streams = self._used // max(nbytes, 1)
                raise RpcFailure(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                 f"the server is sending {streams} results at once, all the memory it keeps "
                                 f"for them ({self.max_bytes / 1e6:.0f} MB); ask again in a moment (a finished "
                                 "result comes from the cache)")
            self._used += nbytes
        try:
            yield
        finally:
            with self._lock:
                self._used -= nbytes


@dataclass
class WireResult:
    analysis: pb.Analysis
    plan: pb.Plan
    manifest: pb.Manifest  # its sha256 fields are filled once every pending stem is encoded
    pcm: dict[str, bytes | PcmFile | Future]  # PCM bytes, the open file holding them, or (PcmFile, sha256) to come
    folder: Path | None = None  # where a fresh result's files are staged until the cache takes them
    _settle_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def close(self) -> None:
        """Close the stems' files; one still being encoded is closed when it is done (a cancelled
        stream does not wait for it, and the cache still gets the whole result)."""
        with self._settle_lock:
            sources = list(self.pcm.values())
        for source in sources:
            if isinstance(source, PcmFile):
                source.close()
            elif isinstance(source, Future):
                source.add_done_callback(_close_encoded)

    def settle(self) -> WireResult:
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

    def stems(self) -> list[tuple[str, int, int, str, bytes | PcmFile | Future]]:
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
                  duration_s: float, folder: Path) -> WireResult:
    """Start encoding every stem to a PCM file in `folder` (mix first, then STEMS order) and
    describe them.

    Returns at once: the stems encode side by side in threads (numpy and hashlib release the GIL on
    large buffers), so the mix can stream while the other stems are still being encoded. Each is
    encoded ENCODE_BLOCK_S at a time, so encoding holds a few MB, not a second copy of the stems.
    """
    order = [MIX] + [s for s in STEMS if s in stems_wanted and s in finished.stems]
    audio = {name: finished.mix if name == MIX else finished.stems[name] for name in order}  # (channels, frames)
    block = ENCODE_BLOCK_S * int(finished.sample_rate)  # frames

    def encode(name: str) -> tuple[PcmFile, str]:
        path = folder / f"{name}.pcm"
        digest = hashlib.sha256()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            for start in range(0, audio[name].shape[1], block):
                data = pcm.encode(audio[name][:, start : start + block], sample_format)  # (channels, <=block) -> bytes
                digest.update(data)
                write_all(fd, data, folder.parent)
        finally:
            os.close(fd)
        return PcmFile(path), digest.hexdigest()

    pending = {name: _ENCODERS.submit(encode, name) for name in order}  # submitted in stream order
    infos = [pb.StemInfo(name=name, frames=int(audio[name].shape[1]), channels=int(audio[name].shape[0]),
                         sample_rate=int(finished.sample_rate), sample_format=sample_format) for name in order]
    manifest = pb.Manifest(stems=infos, model=finished.model, seed=int(finished.seed), version=__version__,
                           loudness_lufs=float(finished.loudness_lufs),
                           true_peak_dbtp=float(finished.true_peak_dbtp),
                           score_json=score_json(finished))
    return WireResult(analysis_message(analysis), plan_message(finished.plan), manifest, pending, folder)


def stream_events(job_id: str, result: WireResult, with_analysis: bool = True,
                  cancel: threading.Event | None = None) -> Iterator[pb.ScoreEvent | bytes]:
    """analysis (unless sent earlier), plan, each stem's chunks in manifest order, the manifest.

    `cancel` set (CancelJob) ends the stream with Cancelled, also while a stem is still encoding."""
    if with_analysis:
        yield pb.ScoreEvent(job_id=job_id, analysis=result.analysis)
    yield pb.ScoreEvent(job_id=job_id, plan=result.plan)
    prefix = wire.job_prefix(job_id)
    for name, channels, rate, fmt, source in result.stems():
        if isinstance(source, Future):
            source = _encoded(source, cancel)  # this stem's encoding; later ones go on meanwhile
        frame_bytes = channels * pcm.SAMPLE_FORMATS[fmt]
        step = pcm.chunk_frames(channels, fmt) * frame_bytes
        for offset, data in _chunks(source, step):
            check_cancelled(cancel)
            # Pre-encoded wire bytes; the chunk read and its event are all this stream holds.
            yield wire.chunk_event(prefix, name, channels, rate, offset // frame_bytes, fmt, data)
    yield result.manifest_event(job_id)


def _encoded(pending: Future, cancel: threading.Event | None) -> PcmFile:
    """The stem's file once encoded, waited for a moment at a time so a cancel is not held up."""
    while True:
        check_cancelled(cancel)
        try:
            return pending.result(timeout=CANCEL_POLL_S)[0]
        except FutureTimeout:
            continue


def _chunks(source: bytes | PcmFile, size: int) -> Iterator[tuple[int, bytes | memoryview]]:
    """(offset, data) for each `size`-byte slice of the PCM, read from its file one at a time
    (never mapped or read whole: a slow reader must not hold a whole stem in memory)."""
    if isinstance(source, PcmFile):
        for offset in range(0, source.size, size):
            yield offset, source.read(offset, size)
        return
    with memoryview(source) as view:
        for offset in range(0, len(view), size):
            yield offset, view[offset : offset + size]


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
        files: dict[str, PcmFile] = {}
        try:
            for s in manifest.stems:  # opened now: an eviction meanwhile cannot cut the stream short
                files[s.name] = PcmFile(folder / f"{s.name}.pcm")
        except OSError:
            for f in files.values():
                f.close()
            return None
        os.utime(folder)  # recently used
        manifest.cached = True
        return WireResult(analysis, plan, manifest, files)

    def staging(self) -> Path:
        """A new temporary folder for a result's files; `put` renames it into place."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            return Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.root))
        except OSError as error:
            if is_disk_full(error):
                raise disk_full(self.root) from None
            raise

    def put(self, key: str, result: WireResult) -> None:
        """Store atomically: a half-written entry is never visible under its key."""
        tmp = result.folder or self.staging()
        try:
            result.settle()
            (tmp / "analysis.pb").write_bytes(result.analysis.SerializeToString())
            (tmp / "plan.pb").write_bytes(result.plan.SerializeToString())
            for name, data in result.pcm.items():
                target = tmp / f"{name}.pcm"
                if isinstance(data, bytes):
                    target.write_bytes(data)
                elif data.path != target:
                    shutil.copyfile(data.path, target)
            (tmp / "manifest.pb").write_bytes(result.manifest.SerializeToString())  # last: marks it whole
            try:
                os.rename(tmp, self.root / key)
            except OSError:
                pass  # the same result landed meanwhile from a twin request; keep that one
        finally:
            shutil.rmtree(tmp, ignore_errors=True)  # gone after a rename; open stems stay readable
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
