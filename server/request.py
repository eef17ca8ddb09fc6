"""A ScoreRequest, checked and normalised into a Segment, ScoreOptions and the cache keys.

Every check here runs before a job is queued, so a bad request is answered at once with a status
a person can act on: INVALID_ARGUMENT for bad values and undecodable media, NOT_FOUND for missing
media, PERMISSION_DENIED for paths the policy forbids, FAILED_PRECONDITION for a model that cannot
run here.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import grpc

from scorecut import __version__
from scorecut.models import directing
from scorecut.models.interface import (
    DEFAULT_LOUDNESS_LUFS,
    DEFAULT_SAMPLE_RATE,
    Clip,
    Hit,
    MediaError,
    ModelInfo,
    RequestError,
    ScoreOptions,
    Segment,
)

from .config import ServerConfig
from .errors import RpcFailure, invalid, shown
from .media import FileHasher, OpenedFiles, UploadStore, check_path_text, resolve_reference
from .pcm import DEFAULT_SAMPLE_FORMAT, SAMPLE_FORMATS
from .policy import is_loopback_peer, under_roots
from .stat_cache import StatKeyedCache

DEFAULT_STYLE = ScoreOptions.style
DEFAULT_METER = ScoreOptions.meter
END_TOLERANCE_S = 0.05  # an out point this far past the media's end is its end (about one frame)


@dataclass(frozen=True)
class ScoreJobSpec:
    """What the worker needs, plus the keys that name its result."""

    segment: Segment
    options: ScoreOptions
    sample_format: str
    result_key: str  # names the finished result: options, ranges and media content
    analysis_key: str  # names the analysis: ranges and media content only
    start_timecodes_s: tuple[float | None, ...] = ()  # per clip: its file's start timecode (ClipMedia)


class MediaProber:
    """probe_media, remembered per (path, size, mtime): requests often repeat the same files."""

    def __init__(self):
        self._known: StatKeyedCache = StatKeyedCache()

    def probe(self, path: Path):
        from scorecut.models.analysis.probe import probe_media

        # The file itself (a link to an open descriptor leads to it).
        return self._known.get(os.stat(path), lambda: probe_media(str(path)))


def _finite(value: float, what: str) -> float:
    if not math.isfinite(value):
        raise invalid(f"{what} must be a finite number of seconds")
    return value


def _clip_label(clip, index: int) -> str:
    return clip.name or (Path(clip.path).name if clip.path else "") or f"clip {index + 1}"


def _resolve_clips(request, peer: str, config: ServerConfig, uploads: UploadStore, prober: MediaProber,
                   hasher: FileHasher, held: OpenedFiles | None = None
                   ) -> tuple[list[Clip], list[str], list[float | None]]:
    clips: list[Clip] = []
    shas: list[str] = []
    timecodes: list[float | None] = []  # read by the probe: clients need not open the media for them
    cursor = 0.0  # record time where the next unplaced clip starts
    for index, pc in enumerate(request.clips):
        label = _clip_label(pc, index)
        path = resolve_reference(pc, peer, config.media_roots, uploads, held)
        try:
            info = prober.probe(path)
        except MediaError as error:
            raise invalid(f"{label}: {error}") from None
        media_end = float(info.duration_s)
        src_in = _finite(pc.source_in_s, "source_in_s")
        src_out = _finite(pc.source_out_s, "source_out_s") or media_end  # 0 = the end of the media
        fps = float(getattr(info, "fps", 0) or 0)
        tolerance = max(END_TOLERANCE_S, 1.0 / fps if fps > 0 else 0.0)
        out_given = pc.source_out_s != 0
        if src_in < 0:
            raise invalid(f"{label}: the in point {src_in:g} s is negative; times are seconds from the "
                          "start of the media, 0 or more")
        if src_out < 0:
            raise invalid(f"{label}: the out point {src_out:g} s is negative; times are seconds from the "
                          "start of the media, 0 or more")
        if src_in > media_end + tolerance:
            raise invalid(f"{label}: the in point {src_in:g} s is beyond the end of the media "
                          f"({media_end:.3f} s); use an in point before the end")
        if out_given and src_in > src_out:
            raise invalid(f"{label}: the in point {src_in:g} s is after the out point {src_out:g} s; "
                          "swap them")
        if src_out > media_end + tolerance:
            raise invalid(f"{label}: the out point {src_out:g} s is beyond the end of the media "
                          f"({media_end:.3f} s); use an out point at or before the end")
        src_out = min(src_out, media_end)
        if src_out - src_in <= 1e-6:
            fix = ("give an out point after the in point" if out_given else
                   f"use an in point before the end of the media ({media_end:.3f} s)")
            raise invalid(f"{label}: the clip has zero length (in {src_in:g} s, out {src_out:g} s); {fix}")
        rec_start = _finite(pc.record_start_s, "record_start_s")
        rec_end = _finite(pc.record_end_s, "record_end_s")
        if rec_start < 0:
            raise invalid(f"{label}: the record start {rec_start:g} s is negative; record times are "
                          "seconds from the start of the output, 0 or more")
        if rec_end <= 0:  # unset: right after the previous clip, at the source's own speed
            rec_start = rec_start if rec_start > 0 else cursor
            rec_end = rec_start + (src_out - src_in)
        if rec_start < 0 or rec_end <= rec_start:
            raise invalid(f"{label}: the record range {rec_start:g}-{rec_end:g} s is empty or "
                          "negative; record end must be after record start")
        if rec_start < cursor - 1e-3:
            raise invalid(f"{label}: the record range starts at {rec_start:g} s, before the previous "
                          f"clip ends ({cursor:g} s); clips must be in timeline order without overlap")
        clips.append(Clip(str(path), src_in, src_out, rec_start, rec_end, label))
        shas.append(hasher.sha256(path))
        timecodes.append(info.start_timecode_s)
        cursor = rec_end
    return clips, shas, timecodes


def _options(request, peer: str, config: ServerConfig, infos: dict[str, ModelInfo]) -> tuple[ScoreOptions, str]:
    o = request.options
    model = o.model or "composer"
    if model not in infos:
        raise invalid(f"unknown model {model!r}; choose one of: {', '.join(infos)}")
    info = infos[model]
    if not info.available and not o.checkpoint:
        raise RpcFailure(grpc.StatusCode.FAILED_PRECONDITION,
                         f"the {model} model is not available on this server: {info.unavailable_reason}")
    fmt = o.sample_format or DEFAULT_SAMPLE_FORMAT
    if fmt not in SAMPLE_FORMATS:
        raise invalid(f"unknown sample format {fmt!r}; use one of: {', '.join(SAMPLE_FORMATS)}")
    loudness = o.loudness_lufs if o.HasField("loudness_lufs") else DEFAULT_LOUDNESS_LUFS
    if not -60.0 <= loudness <= -1.0:
        raise invalid(f"loudness target {loudness:g} LUFS is out of range; use -60 to -1 (-16 is usual)")
    stems = tuple(o.stems) or tuple(info.stems)
    if not 0.0 <= o.duck_amount_lu <= 40.0:
        raise invalid(f"duck amount {o.duck_amount_lu:g} LU is out of range; use 1 to 40 (10 is usual)")
    if not 0.0 <= o.duck_fade_s <= 5.0:
        raise invalid(f"duck fade {o.duck_fade_s:g} s is out of range; use 0.05 to 5 (0.4 is usual)")
    checkpoint = o.checkpoint
    if checkpoint:
        if not is_loopback_peer(peer):
            raise RpcFailure(grpc.StatusCode.PERMISSION_DENIED,
                             "a checkpoint path is only accepted from this machine; install the "
                             "checkpoint on the server with `scorecut models add`")
        check_path_text(checkpoint)
        if not Path(checkpoint).is_absolute():  # as for a clip's path: the server's cwd means nothing
            raise invalid(f"the checkpoint path {shown(checkpoint)} is relative; send an absolute path")
        if not under_roots(Path(checkpoint), (*config.media_roots, config.model_dir)):
            raise RpcFailure(grpc.StatusCode.PERMISSION_DENIED,
                             f"{shown(checkpoint)} is outside the folders this server may read; put it in "
                             f"{config.model_dir} or under a --media-root")
        if not Path(checkpoint).exists():
            raise RpcFailure(grpc.StatusCode.NOT_FOUND, f"no checkpoint at {shown(checkpoint)} on the server")
    options = ScoreOptions(model=model, style=o.style or DEFAULT_STYLE, mood=o.mood,
                           tempo_min_bpm=o.tempo_min_bpm or None, tempo_max_bpm=o.tempo_max_bpm or None,
                           seed=int(o.seed) if o.HasField("seed") else 0, stems=stems,
                           sample_rate=o.sample_rate or DEFAULT_SAMPLE_RATE, loudness_lufs=float(loudness),
                           duck_dialogue=o.duck_dialogue, meter=o.meter or DEFAULT_METER, checkpoint=checkpoint,
                           hits=tuple(Hit(float(h.time_s), h.kind or "hit") for h in o.hits),
                           reroll=(float(o.reroll_start_s), float(o.reroll_end_s)) if o.reroll_end_s else None,
                           reroll_seed=int(o.reroll_seed), loop=o.loop, tail_s=float(o.tail_s),
                           duck_amount_lu=float(o.duck_amount_lu) or 10.0, duck_fade_s=float(o.duck_fade_s) or 0.4)
    try:
        info.check(options)  # what the model accepts: the model says (ModelInfo), nobody else
    except RequestError as error:
        raise invalid(str(error)) from None
    # The model's order, no repeats.
    return replace(options, stems=tuple(s for s in info.stems if s in options.stems)), fmt


def _key(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _checkpoint_identity(path: str) -> list:
    if not path:
        return []
    st = os.stat(path)
    return [os.path.realpath(path), st.st_size, st.st_mtime_ns]


def build_job_spec(request, peer: str, config: ServerConfig, infos: dict[str, ModelInfo],
                   uploads: UploadStore, prober: MediaProber, hasher: FileHasher,
                   held: OpenedFiles | None = None) -> ScoreJobSpec:
    """Check `request` (a scorecut.v1.ScoreRequest) for `peer`; raises RpcFailure."""
    if not request.clips:
        raise invalid("the request has no clips; send at least one clip")
    if len(request.clips) > config.max_clips:
        raise invalid(f"the request has {len(request.clips)} clips, over this server's limit of "
                      f"{config.max_clips}; split the timeline or start the server with a larger --max-clips")
    options, fmt = _options(request, peer, config, infos)  # cheap checks before touching media
    clips, shas, timecodes = _resolve_clips(request, peer, config, uploads, prober, hasher, held)
    duration = _finite(request.duration_s, "duration_s") or clips[-1].record_end_s
    if duration <= 0:
        raise invalid("the output duration must be positive")
    if duration * options.sample_rate < 1:  # would round to an empty result
        raise invalid(f"the output duration {duration:g} s is shorter than one sample at "
                      f"{options.sample_rate} Hz; give a duration of at least {1 / options.sample_rate:.6f} s")
    if duration > config.max_duration_s:
        raise invalid(f"the segment is {duration:.1f} s long, over this server's limit of "
                      f"{config.max_duration_s:g} s; score it in parts or start the server with a "
                      "larger --max-duration")
    try:
        infos[options.model].check(options, duration)  # the model's own longest segment
        directing.check(options, duration)  # hits inside the segment, re-roll range, tail
    except RequestError as error:
        raise invalid(str(error)) from None
    segment = Segment(tuple(clips), float(duration))
    ranges = [[sha, round(c.source_in_s, 6), round(c.source_out_s, 6), round(c.record_start_s, 6),
               round(c.record_end_s, 6)] for sha, c in zip(shas, clips, strict=True)]
    named = {"version": __version__, "clips": ranges, "duration_s": round(duration, 6)}
    if config.decode == "cuda":
        # NVDEC deblocks where the CPU path skips it, so its frames, and the cuts, motion and music
        # made from them, may differ slightly: a GPU analysis is never served as a CPU one. The
        # server settles "cuda" when it starts (server/picture_decoder.py: "cpu" on a machine with
        # no NVDEC at all); a file whose codec NVDEC lacks falls back alike every time on this
        # machine. CPU keys stay as they were, shared with `scorecut batch`.
        named["decoder"] = "cuda"
    analysis_key = _key(named)
    opts = asdict(replace(options, checkpoint=""))
    result_key = _key({"analysis": analysis_key, "options": opts, "sample_format": fmt,
                       "checkpoint": _checkpoint_identity(options.checkpoint)})
    return ScoreJobSpec(segment, options, fmt, result_key, analysis_key, tuple(timecodes))
