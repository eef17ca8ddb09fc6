"""Reading a Resolve timeline into a Scorecut timeline segment.

Resolve exposes no timeline selection, so a scope picks the frames to score:
- "inout":    the timeline's In/Out marks (the whole timeline when they are unset);
- "current":  the clip under the playhead;
- "timeline": the whole timeline.
Inside that range the picture is what the top-most enabled video item shows at each frame
(items with no media file, such as titles and generators, are see-through), and each visible
piece becomes one ClipSpec: source in/out in seconds of its media, record start/end in seconds
from the range start. All frame numbers here are absolute timeline frames (they include the
timeline's start frame, often 86400 = 01:00:00:00 at 24 fps).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction

from scorecut.plugins.client import ClipSpec

from .errors import ResolveScoreError
from .timecode import frames_to_timecode, parse_frame_rate, timecode_to_frames

SCOPES = ("inout", "current", "timeline")


@dataclass(frozen=True)
class TimelineSegment:
    """The frames to score and the clips that show in them."""

    timeline_name: str
    fps: Fraction  # exact timeline rate, e.g. 24000/1001
    drop_frame: bool
    start: int  # absolute frame where the range starts
    end: int  # absolute frame where it ends (exclusive)
    clips: tuple[ClipSpec, ...]  # visible pieces in record order
    scope: str

    @property
    def frames(self) -> int:
        return self.end - self.start

    @property
    def duration_s(self) -> float:
        return float(self.frames / self.fps)

    def timecode(self, frame: int) -> str:
        return frames_to_timecode(frame, self.fps, self.drop_frame)

    def describe(self) -> str:
        return f"{self.timecode(self.start)}-{self.timecode(self.end)}"


def _call(obj, name: str, *args, default=None):
    """A call that older Resolve versions lack: `default` when the method is not there."""
    try:
        method = getattr(obj, name)
    except AttributeError:
        return default
    if method is None:  # the scripting bridge answers None for names it does not know
        return default
    try:
        return method(*args)
    except TypeError:
        return default


def _number(value) -> float | None:
    try:
        return float(str(value).strip())
    except (TypeError, ValueError):
        return None


def timeline_rate(timeline) -> tuple[Fraction, bool]:
    fps_text = timeline.GetSetting("timelineFrameRate")
    try:
        fps = parse_frame_rate(fps_text)
    except ValueError as e:
        raise ResolveScoreError(f"{e}; check Project Settings > Timeline frame rate") from None
    drop = str(_call(timeline, "GetSetting", "timelineDropFrameTimecode", default="0")).strip() in ("1", "true")
    return fps, drop


def _video_items(timeline) -> list[tuple[int, object, int, int, str | None]]:
    """(track, item, start, end, media path) of every enabled item on every enabled video track.

    Each Resolve call is a round trip to the app, so every value is asked for once here.
    """
    found = []
    for track in range(1, int(timeline.GetTrackCount("video") or 0) + 1):
        if _call(timeline, "GetIsTrackEnabled", "video", track, default=True) is False:
            continue
        for item in timeline.GetItemListInTrack("video", track) or []:
            if _call(item, "GetClipEnabled", default=True) is False:
                continue
            start, end = int(item.GetStart()), int(item.GetEnd())
            if end > start:
                found.append((track, item, start, end, _media_path(item)))
    return found


def _media_path(item) -> str | None:
    media = _call(item, "GetMediaPoolItem")
    if media is None:
        return None
    path = media.GetClipProperty("File Path")
    return str(path) if path else None


def _range(timeline, scope: str, fps: Fraction, drop: bool, items) -> tuple[int, int]:
    start, end = int(timeline.GetStartFrame()), int(timeline.GetEndFrame())
    if scope == "timeline":
        return start, end
    if scope == "inout":
        marks = _call(timeline, "GetMarkInOut", default=None) or {}
        mark = marks.get("video") or marks.get("audio") or {}
        if "in" in mark or "out" in mark:
            # Marks count from the timeline start; Out is the last frame inside the range.
            mark_in = start + int(mark.get("in", 0))
            mark_out = start + int(mark["out"]) + 1 if "out" in mark else end
            return mark_in, mark_out
        return start, end
    # "current": the top-most visible item under the playhead.
    timecode = timeline.GetCurrentTimecode()
    try:
        playhead = timecode_to_frames(str(timecode), fps, drop)
    except ValueError:
        raise ResolveScoreError(f"cannot read the playhead position {timecode!r}; click in the timeline "
                                "and try again") from None
    under = [(track, s, e) for track, _, s, e, path in items if s <= playhead < e and path]
    if not under:
        raise ResolveScoreError(f"there is no video clip under the playhead ({timecode}); move the "
                                "playhead onto a clip, or score the In/Out range instead")
    _, s, e = max(under)
    return s, e


def _source_seconds(item, start: int, end: int, fps: Fraction) -> tuple[float, float]:
    """Source in/out of the whole item, seconds into its media (out exclusive)."""
    start_s = _call(item, "GetSourceStartTime")
    end_s = _call(item, "GetSourceEndTime")
    if _number(start_s) is not None and _number(end_s) is not None:
        return float(start_s), float(end_s)
    # Before Resolve 19.0.2: the left offset is the media frames before the in point.
    media = item.GetMediaPoolItem()
    media_fps = _number(media.GetClipProperty("FPS"))
    if not media_fps:
        raise ResolveScoreError(f"cannot read the frame rate of {item.GetName()!r}; update Resolve to 19.0.2 "
                                "or newer")
    source_in = float(item.GetLeftOffset()) / media_fps
    return source_in, source_in + float((end - start) / fps)


def read_segment(timeline, scope: str = "inout") -> TimelineSegment:
    """The visible video pieces of `scope`; raises ResolveScoreError for empty ranges and offline media."""
    if scope not in SCOPES:
        raise ResolveScoreError(f"unknown scope {scope!r}; use one of: {', '.join(SCOPES)}")
    name = str(timeline.GetName())
    fps, drop = timeline_rate(timeline)
    items = _video_items(timeline)
    start, end = _range(timeline, scope, fps, drop, items)
    where = f"{frames_to_timecode(start, fps, drop)}-{frames_to_timecode(max(start, end), fps, drop)}"
    if end <= start:
        raise ResolveScoreError(f"the range to score on {name!r} is empty ({where}); set an Out mark after "
                                "the In mark, or score the whole timeline")
    pieces = _visible_pieces([entry for entry in items if entry[4]], start, end)
    if not pieces:
        raise ResolveScoreError(f"there is no video with media between {where} on {name!r}; move the "
                                "In/Out marks over clips, or choose another scope")
    names = {id(entry): str(entry[1].GetName()) for entry, _, _ in pieces}
    offline = sorted({names[id(entry)] for entry, _, _ in pieces if not os.path.isfile(entry[4])})
    if offline:
        raise ResolveScoreError("these clips are offline (their media files are missing): "
                                f"{', '.join(offline)}; relink them in the Media Pool, then score again")
    clips = []
    sources: dict[int, tuple[float, float]] = {}
    for entry, a, b in pieces:
        _, item, s, e, path = entry
        if id(entry) not in sources:
            sources[id(entry)] = _source_seconds(item, s, e, fps)
        src_in, src_out = sources[id(entry)]
        per_frame = (src_out - src_in) / (e - s)  # source seconds per record frame (speed changes)
        clips.append(ClipSpec(
            path=path,
            source_in_s=src_in + (a - s) * per_frame,
            source_out_s=src_in + (b - s) * per_frame,
            record_start_s=float((a - start) / fps),
            record_end_s=float((b - start) / fps),
            name=names[id(entry)],
        ))
    return TimelineSegment(name, fps, drop, start, end, tuple(clips), scope)


def _visible_pieces(items, start: int, end: int) -> list[tuple[tuple, int, int]]:
    """(item entry, from, to) runs where one item is the top-most in [start, end), in order."""
    cuts = {start, end}
    for _, _, s, e, _ in items:
        cuts.update(f for f in (s, e) if start < f < end)
    bounds = sorted(cuts)
    pieces: list[list] = []
    for a, b in zip(bounds, bounds[1:]):
        covering = [entry for entry in items if entry[2] <= a and b <= entry[3]]
        if not covering:
            continue  # a gap: black, the music plays on
        item = max(covering, key=lambda entry: entry[0])  # the highest track shows
        if pieces and pieces[-1][0] is item and pieces[-1][2] == a:
            pieces[-1][2] = b
        else:
            pieces.append([item, a, b])
    return [tuple(p) for p in pieces]
