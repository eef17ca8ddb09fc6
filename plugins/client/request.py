"""ClipSpec / JobOptions -> scorecut.v1.ScoreRequest.

Unknown ranges are left for the server, which knows the media: `source_out_s = 0` means the end
of the media, and `record_start_s = record_end_s = 0` means "right after the previous clip, at
normal speed". Ranges the caller gives are passed through unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from scorecut.v1 import scorecut_pb2 as pb

from .types import DEFAULT_OPTIONS, ClipSpec, InvalidRequest, JobOptions

SEED_MAX = 2**64 - 1  # ScoreOptions.seed is a uint64


def check_seed(seed) -> int | None:
    """The seed as the wire carries it (a whole number 0..2**64-1), or None; raises InvalidRequest."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, int):
        try:
            as_int = int(seed)
        except (TypeError, ValueError, OverflowError):
            as_int = None
        if as_int is None or as_int != seed:
            raise InvalidRequest(f"the seed {seed!r} is not a whole number; give a seed from 0 to {SEED_MAX}")
        seed = as_int
    if not 0 <= seed <= SEED_MAX:
        raise InvalidRequest(f"the seed {seed} is out of range; give a seed from 0 to {SEED_MAX}")
    return seed


def build_options(options: JobOptions) -> pb.ScoreOptions:
    msg = pb.ScoreOptions(
        model=options.model,
        style=options.style,
        mood=options.mood,
        tempo_min_bpm=float(options.tempo_min_bpm or 0),
        tempo_max_bpm=float(options.tempo_max_bpm or 0),
        stems=list(options.stems),
        sample_rate=int(options.sample_rate or 0),
        duck_dialogue=bool(options.duck_dialogue),
        duck_amount_lu=float(options.duck_amount_lu or 0),
        duck_fade_s=float(options.duck_fade_s or 0),
        meter=options.meter,
        checkpoint=options.checkpoint,
        sample_format=options.sample_format,
        hits=[pb.HitPoint(time_s=float(t), kind=kind) for t, kind in options.hits],
        loop=bool(options.loop),
        tail_s=float(options.tail_s or 0),
    )
    if options.reroll is not None:
        msg.reroll_start_s, msg.reroll_end_s = (float(t) for t in options.reroll)
        msg.reroll_seed = int(options.reroll_seed)
    seed = check_seed(options.seed)
    if seed is not None:
        msg.seed = seed
    if options.loudness_lufs is not None:
        msg.loudness_lufs = float(options.loudness_lufs)
    return msg


def build_clip(spec: ClipSpec, media_id: str | None, previous_end_s: float | None) -> tuple[pb.Clip, float | None]:
    """The wire clip and its record end (None when only the server can know it)."""
    clip = pb.Clip(source_in_s=float(spec.source_in_s), name=spec.name or os.path.basename(spec.path))
    if media_id:
        clip.media_id = media_id
    else:
        clip.path = os.path.abspath(spec.path)
    if spec.source_out_s is not None:
        clip.source_out_s = float(spec.source_out_s)
    start = spec.record_start_s if spec.record_start_s is not None else previous_end_s
    end = spec.record_end_s
    if end is None and start is not None and spec.source_out_s is not None:
        end = start + (spec.source_out_s - spec.source_in_s)
    if start is not None and end is not None:
        clip.record_start_s, clip.record_end_s = float(start), float(end)
        return clip, end
    return clip, None  # the server places it after the previous clip


def build_request(
    clips: Sequence[ClipSpec],
    options: JobOptions = DEFAULT_OPTIONS,
    *,
    duration_s: float | None = None,
    media_ids: Mapping[str, str] | None = None,
) -> pb.ScoreRequest:
    """A ScoreRequest; `media_ids` maps a clip's path to its uploaded media id (remote servers)."""
    if not clips:
        raise ValueError("give at least one clip")
    request = pb.ScoreRequest(options=build_options(options), duration_s=float(duration_s or 0))
    previous_end: float | None = 0.0
    for spec in clips:
        media_id = (media_ids or {}).get(spec.path)
        clip, previous_end = build_clip(spec, media_id, previous_end)
        request.clips.append(clip)
    return request


def _fields(message) -> dict:
    """The fields set in a protobuf message, as plain JSON values (defaults left out, as on the wire)."""
    from google.protobuf.message import Message

    out: dict = {}
    for field, value in message.ListFields():
        if isinstance(value, Message):
            out[field.name] = _fields(value)
        elif isinstance(value, (str, bytes, int, float, bool)):
            out[field.name] = value
        else:  # a repeated field
            out[field.name] = [_fields(v) if isinstance(v, Message) else v for v in value]
    return out


def request_record(
    clips: Sequence[ClipSpec],
    options: JobOptions = DEFAULT_OPTIONS,
    *,
    duration_s: float | None = None,
) -> dict:
    """What identifies a request, as score.json records it under "request": the clips (local paths and
    ranges), the output duration, the options that were set, and each media file's size and
    modification time ("media"), so a file replaced by other content is another request (its take
    lands beside the earlier one, never over it). The same request gives the same record."""
    record = _fields(build_request(clips, options, duration_s=duration_s))
    record["media"] = [_identity(clip.path) for clip in clips]
    return record


def _identity(path: str) -> dict:
    try:
        st = os.stat(path)
    except OSError:  # refused later, with words, when the job is built
        return {}
    return {"size": st.st_size, "modified_ns": st.st_mtime_ns}

