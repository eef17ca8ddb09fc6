"""The scorecut.v1.Scorecut service: each RPC checks, then hands work to the queue or the cache."""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing

import grpc

from scorecut import __version__
from scorecut.models.events import AnalysisReady, Progress, Started
from scorecut.models.interface import ModelInfo
from scorecut.v1 import scorecut_pb2 as pb
from scorecut.v1 import scorecut_pb2_grpc as pb_grpc

from .config import ServerConfig
from .errors import RpcFailure, invalid, log_file, rpc_errors
from .jobs import Done, Failed, JobQueue
from .media import FileHasher, OpenedFiles, UploadStore
from .policy import is_loopback_peer
from .request import MediaProber, build_job_spec
from .results import ResultBudget, ResultCache, analysis_message, encode_result, stream_events

log = logging.getLogger("scorecut.server")
LIVENESS_POLL_S = 0.5  # how often a waiting call checks that its client is still there
CATALOG_TTL_S = 5.0  # how long the model list is reused before looking again


def _event(job_id: str, **kwargs) -> pb.ScoreEvent:
    return pb.ScoreEvent(job_id=job_id, **kwargs)


def _progress(job_id: str, stage: str, fraction: float, message: str = "") -> pb.ScoreEvent:
    return _event(job_id, progress=pb.Progress(stage=stage, fraction=fraction, message=message))


def clip_media(spec) -> list[pb.ClipMedia]:
    """What each clip's file says that a client would otherwise open it for: its start timecode."""
    return [pb.ClipMedia(start_timecode_s=tc) if tc is not None else pb.ClipMedia() for tc in spec.start_timecodes_s]


def model_message(info: ModelInfo) -> pb.ModelInfo:
    """A model as GetInfo tells it: availability, and what it accepts (the server checks the same)."""
    return pb.ModelInfo(name=info.name, available=info.available, unavailable_reason=info.unavailable_reason,
                        stems=list(info.stems), native_output=info.native_output, description=info.description,
                        styles=list(info.styles), moods=list(info.moods), meters=list(info.meters),
                        tempo_min_bpm=info.tempo_range_bpm[0], tempo_max_bpm=info.tempo_range_bpm[1],
                        sample_rates=list(info.sample_rates), max_duration_s=info.max_duration_s,
                        directions=list(info.directions))


class ScorecutServicer(pb_grpc.ScorecutServicer):
    def __init__(self, config: ServerConfig, device: str, jobs: JobQueue):
        self.config = config
        self.device = device
        self.jobs = jobs
        self.uploads = UploadStore(config.uploads, config.max_upload_bytes, config.upload_quota_bytes)
        self.uploads.clear_partial()
        self.cache = ResultCache(config.results, config.cache_max_bytes)
        self.budget = ResultBudget(config.result_memory_bytes)  # all results being sent, together
        self.cache.clear_partial()
        OpenedFiles.sweep(config.cache_dir / "open")
        self.prober = MediaProber()
        self.hasher = FileHasher()
        self.cache_writer = ThreadPoolExecutor(1, thread_name_prefix="scorecut-cache")  # off the stream path
        self._catalog: tuple[float, dict[str, ModelInfo] | None] = (0.0, None)
        self._catalog_lock = threading.Lock()

    def catalog(self) -> dict[str, ModelInfo]:
        """Every model with its availability, looked up again after CATALOG_TTL_S (a checkpoint
        may be added while the server runs)."""
        with self._catalog_lock:
            stamp, infos = self._catalog
            if infos is None or time.monotonic() - stamp > CATALOG_TTL_S:
                infos = {info.name: info for info in self._model_infos()}
                self._catalog = (time.monotonic(), infos)
            return infos

    def _model_infos(self) -> list[ModelInfo]:
        from scorecut.models.registry import model_infos

        return model_infos(device=self.device, model_dir=self.config.model_dir)

    def close(self) -> None:
        self.cache_writer.shutdown(wait=True)  # finish cache writes: no half-written entries

    @rpc_errors
    def GetInfo(self, request, context):
        infos = self.catalog()
        composer = infos.get("composer")
        c = self.config
        return pb.ServerInfo(
            version=__version__, device=self.device,
            models=[model_message(i) for i in infos.values()],
            limits=pb.Limits(max_duration_s=c.max_duration_s, max_clips=c.max_clips,
                             max_upload_bytes=c.max_upload_bytes, max_queue=c.max_queue),
            styles=list(composer.styles) if composer else [], moods=list(composer.moods) if composer else [],
            paths_allowed=is_loopback_peer(context.peer()))

    @rpc_errors
    def Score(self, request, context):
        with OpenedFiles(self.config.cache_dir / "open") as held:  # the media stay open until the call ends
            yield from self._score(request, context, held)

    def _score(self, request, context, held: OpenedFiles):
        began = time.monotonic()
        spec = build_job_spec(request, context.peer(), self.config, self.catalog(), self.uploads,
                              self.prober, self.hasher, held)
        cached = self.cache.get(spec.result_key)
        if cached is not None:
            job_id = uuid.uuid4().hex
            log.info("job %s served from the result cache (%s)", job_id, spec.result_key[:12])
            with closing(cached), self.budget.hold():
                yield _event(job_id, accepted=pb.Accepted(queue_position=0, cached=True))
                yield from stream_events(job_id, cached)
            return
        job, position = self.jobs.submit(spec)
        accepted_at = started = time.monotonic()
        context.add_callback(job.cancel.set)  # the call ended (client gone, or done): stop the work
        log.info("job %s accepted: %d clip(s), %.2f s, model %s, seed %d, %d ahead", job.id,
                 len(spec.segment.clips), spec.segment.duration_s, spec.options.model, spec.options.seed, position)
        try:
            yield _event(job.id, accepted=pb.Accepted(queue_position=position, cached=False))
            if position:
                yield _progress(job.id, "queued", 0.0, f"{position} job(s) ahead")
            while True:
                try:
                    event = job.events.get(timeout=LIVENESS_POLL_S)
                except queue.Empty:
                    if not context.is_active():
                        job.cancel.set()
                        return
                    if not self.jobs.worker_alive and job.events.empty():  # never wait on a dead worker
                        where = log_file()
                        raise RpcFailure(grpc.StatusCode.INTERNAL, "the server's model worker stopped"
                                         + (f" (the server log {where} says why)" if where else "")
                                         + "; restart the server (scorecut serve) and send the job again") from None
                    continue
                if isinstance(event, Started):
                    started = time.monotonic()
                    yield _progress(job.id, "decode", 0.0, "started")
                elif isinstance(event, Progress):
                    yield _progress(job.id, event.stage, event.fraction)
                elif isinstance(event, AnalysisReady):
                    analysis = analysis_message(event.analysis)
                    analysis.clip_media.extend(clip_media(spec))
                    yield _event(job.id, analysis=analysis)
                elif isinstance(event, Failed):
                    raise event.error
                elif isinstance(event, Done):
                    break
            ran = time.monotonic()
            yield _progress(job.id, "stream", 1.0)
            result = encode_result(event.analysis, event.finished, spec.options.stems, spec.sample_format,
                                   spec.segment.duration_s, self.cache.staging())
            result.analysis.clip_media.extend(clip_media(spec))  # as sent live; a cached take sends it too
            event = None  # the model's float stems go once encoded: the result is in files now
            stored = self.cache_writer.submit(self._store, spec.result_key, result)  # while streaming
            with closing(result), self.budget.hold():
                sent = stream_events(job.id, result, with_analysis=False,  # analysis went out already
                                     cancel=job.cancel)  # CancelJob while the result is sent stops it
                for out in sent:
                    if isinstance(out, pb.ScoreEvent) and out.HasField("manifest"):
                        stored.result()  # a client holding the manifest can count on the cache entry
                    yield out
            log.info("job %s streamed: %.3f s checks, %.3f s waiting, %.3f s running, %.3f s streaming",
                     job.id, accepted_at - began, started - accepted_at, ran - started, time.monotonic() - ran)
        finally:
            self.jobs.forget(job)

    def _store(self, key, result) -> None:
        try:
            self.cache.put(key, result)
        except Exception:  # noqa: BLE001 — a failed cache write costs a re-run later, nothing more
            log.exception("could not store result %s in the cache", key[:12])

    @rpc_errors
    def UploadMedia(self, request_iterator, context):
        first = next(request_iterator, None)
        if first is None or first.WhichOneof("part") != "header":
            raise invalid("an upload starts with a header (filename, size, sha256), then the data")

        def data():
            for chunk in request_iterator:
                if chunk.WhichOneof("part") != "data":
                    raise invalid("an upload has one header, then data chunks only")
                yield chunk.data

        media_id, size, present = self.uploads.receive(first.header, data())
        log.info("upload %s: %d bytes%s", media_id[:12], size, " (already present)" if present else "")
        return pb.MediaRef(media_id=media_id, size=size, already_present=present)

    @rpc_errors
    def HasMedia(self, request, context):
        found = self.uploads.find((request.sha256 or "").lower())
        return pb.HasMediaReply(present=found is not None, media_id=request.sha256.lower() if found else "")

    @rpc_errors
    def CancelJob(self, request, context):
        found, state = self.jobs.cancel(request.job_id)
        if found:
            log.info("job %s: cancel requested (%s)", request.job_id, state)
        return pb.CancelJobReply(found=found, state=state)
