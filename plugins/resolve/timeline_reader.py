"""Reading a Resolve timeline into a Scorecut timeline segment.

Resolve exposes no timeline selection, so a scope picks the frames to score:
- "inout":    the timeline's In/Out marks (the whole timeline when they are unset);
- "current":  the clip under the playhead;
- "timeline": the whole timeline.
Inside that range the picture is what the top-most enabled video item shows at each frame
(titles and generators, which have no media pool item, are see-through), and each visible piece
becomes one ClipSpec: source in/out in seconds of its media (see source_range), record start/end
in seconds from the range start. Compound, multicam and Fusion clips have a media pool item but no
file: where one shows, the user is told its name and how to make it readable. All frame numbers
here are absolute timeline frames (they include the timeline's start frame, often 86400 =
01:00:00:00 at 24 fps).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction

from scorecut.plugins.client import ClipSpec

from .errors import ResolveScoreError
from .source_range import Media, read_media, source_seconds
from .timecode import frames_to_timecode, parse_frame_rate, timecode_to_frames
from .version import ResolveVersion, parse_version

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


def timeline_rate(timeline) -> tuple[Fraction, bool]:
    fps_text = timeline.GetSetting("timelineFrameRate")
    try:
        fps = parse_frame_rate(fps_text)
    except ValueError as e:
        raise ResolveScoreError(f"{e}; check Project Settings > Timeline frame rate") from None
    drop = str(_call(timeline, "GetSetting", "timelineDropFrameTimecode", default="0")).strip() in ("1", "true")
    return fps, drop


@dataclass(frozen=True)
class _Entry:
    """One enabled video item: its track, frames [start, end) and media (None: title, generator)."""

    track: int
    item: object
    start: int
    end: int
    media: Media | None

    @property
    def readable(self) -> bool:
        return self.media is not None and bool(self.media.path)


def _video_items(timeline) -> list[_Entry]:
    """Every enabled item on every enabled video track.

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
                pool_item = _call(item, "GetMediaPoolItem")
                media = read_media(pool_item, str(item.GetName())) if pool_item is not None else None
                found.append(_Entry(track, item, start, end, media))
    return found


def _marks(timeline, version: ResolveVersion, start: int, end: int) -> tuple[int, int]:
    if not version.has_marks:
        raise ResolveScoreError(f"Resolve {version} does not tell scripts where the In/Out marks are (that "
                                "needs Resolve 19.1 or newer); update Resolve, or score the clip under the "
                                "playhead or the whole timeline instead")
    marks = _call(timeline, "GetMarkInOut", default=None)
    if marks is None:
        raise ResolveScoreError("this Resolve does not tell scripts where the In/Out marks are (that needs "
                                "Resolve 19.1 or newer); update Resolve, or score the clip under the playhead "
                                "or the whole timeline instead")
    mark = marks.get("video") or marks.get("audio") or {}
    if "in" not in mark and "out" not in mark:
        return start, end  # no marks: the whole timeline
    # Marks count from the timeline start; Out is the last frame inside the range.
    mark_in = start + int(mark.get("in", 0))
    mark_out = start + int(mark["out"]) + 1 if "out" in mark else end
    return mark_in, mark_out


def _range(timeline, scope: str, fps: Fraction, drop: bool, items: list[_Entry],
           version: ResolveVersion) -> tuple[int, int]:
    start, end = int(timeline.GetStartFrame()), int(timeline.GetEndFrame())
    if scope == "timeline":
        return start, end
    if scope == "inout":
        return _marks(timeline, version, start, end)
    # "current": the top-most item with picture under the playhead.
    timecode = timeline.GetCurrentTimecode()
    try:
        playhead = timecode_to_frames(str(timecode), fps, drop)
    except ValueError:
        raise ResolveScoreError(f"cannot read the playhead position {timecode!r}; click in the timeline "
                                "and try again") from None
    under = [e for e in items if e.start <= playhead < e.end and e.media is not None]
    if not under:
        raise ResolveScoreError(f"there is no video clip under the playhead ({timecode}); move the "
                                "playhead onto a clip, or score the In/Out range instead")
    top = max(under, key=lambda e: e.track)
    return top.start, top.end


def _unreadable(pieces) -> str:
    """The message for compound, multicam and Fusion clips that show in the range."""
    shown: dict[str, str] = {}
    for entry, _, _ in pieces:
        if not entry.readable:
            shown.setdefault(entry.media.name, entry.media.kind or "clip without a media file")
    names = ", ".join(f"{name!r} ({kind})" for name, kind in sorted(shown.items()))
    return (f"Scorecut reads the picture from media files, and these clips have none: {names}. "
            "Decompose compound clips in place, flatten multicam clips, or render Fusion clips in place "
            "(right-click the clip on the timeline), then score again")


def read_segment(timeline, scope: str = "inout", version=None) -> TimelineSegment:
    """The visible video pieces of `scope`; raises ResolveScoreError for what the user must fix.

    version: a ResolveVersion (or GetVersion()'s answer); None = tell from the calls there are.
    """
    if scope not in SCOPES:
        raise ResolveScoreError(f"unknown scope {scope!r}; use one of: {', '.join(SCOPES)}")
    version = version if isinstance(version, ResolveVersion) else parse_version(version)
    name = str(timeline.GetName())
    fps, drop = timeline_rate(timeline)
    items = _video_items(timeline)
    start, end = _range(timeline, scope, fps, drop, items, version)
    where = f"{frames_to_timecode(start, fps, drop)}-{frames_to_timecode(max(start, end), fps, drop)}"
    if end <= start:
        raise ResolveScoreError(f"the range to score on {name!r} is empty ({where}); set an Out mark after "
                                "the In mark, or score the whole timeline")
    pieces = _visible_pieces([e for e in items if e.media is not None], start, end)
    if not pieces:
        raise ResolveScoreError(f"there is no video with media between {where} on {name!r}; move the "
                                "In/Out marks over clips, or choose another scope")
    if any(not entry.readable for entry, _, _ in pieces):
        raise ResolveScoreError(_unreadable(pieces))
    offline = sorted({e.media.name for e, _, _ in pieces if not os.path.isfile(e.media.path)})
    if offline:
        raise ResolveScoreError("these clips are offline (their media files are missing): "
                                f"{', '.join(offline)}; relink them in the Media Pool, then score again")
    clips = []
    sources: dict[int, tuple[float, float]] = {}
    for entry, a, b in pieces:
        s, e = entry.start, entry.end
        if id(entry) not in sources:
            sources[id(entry)] = source_seconds(entry.item, entry.media, e - s, fps)
        src_in, src_out = sources[id(entry)]
        per_frame = (src_out - src_in) / (e - s)  # source seconds per record frame (speed changes)
        still = src_out - src_in <= float(1 / (entry.media.fps or fps)) + 1e-9  # a held picture
        clips.append(ClipSpec(
            path=entry.media.path,
            source_in_s=src_in if still else src_in + (a - s) * per_frame,
            source_out_s=src_out if still else src_in + (b - s) * per_frame,
            record_start_s=float((a - start) / fps),
            record_end_s=float((b - start) / fps),
            name=entry.media.name,
        ))
    return TimelineSegment(name, fps, drop, start, end, tuple(clips), scope)


def _visible_pieces(items: list[_Entry], start: int, end: int) -> list[tuple[_Entry, int, int]]:
    """(item entry, from, to) runs where one item is the top-most in [start, end), in order."""
    cuts = {start, end}
    for e in items:
        cuts.update(f for f in (e.start, e.end) if start < f < end)
    bounds = sorted(cuts)
    pieces: list[list] = []
    for a, b in zip(bounds, bounds[1:], strict=False):
        covering = [e for e in items if e.start <= a and b <= e.end]
        if not covering:
            continue  # a gap: black, the music plays on
        item = max(covering, key=lambda e: e.track)  # the highest track shows
        if pieces and pieces[-1][0] is item and pieces[-1][2] == a:
            pieces[-1][2] = b
        else:
            pieces.append([item, a, b])
    return [tuple(p) for p in pieces]
