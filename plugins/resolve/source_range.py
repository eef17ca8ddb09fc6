"""What part of its media file a Resolve timeline item plays, in seconds of that file.

Resolve's quirks this follows (measured on Resolve Studio 21.0 over 167 camera clips):
- `GetSourceStartFrame()` counts frames from the file's first frame, in the media's own rate;
  `GetSourceStartTime()` is in seconds *including the media's start timecode* ("Start TC", e.g.
  14:23:11:05 on a time-of-day camera file), so it is right only for files starting at 00:00:00:00.
  The plugin reads frames, converts them with the media's exact rate (23.976 is 24000/1001), and
  cross-checks them against Start TC and the source time.
- The played length is the item's timeline duration: `GetSourceEndFrame() - GetSourceStartFrame()`
  is off by a frame on about a third of clips, so it only tells a speed change (or a freeze frame)
  from normal speed.
- A clip at another rate than the timeline (25 fps on a 24 fps timeline) plays in real time, its
  frames counted in its own rate.
- Stills have no frames to follow: they are one picture for as long as they are on the timeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from .errors import ResolveScoreError
from .timecode import parse_frame_rate, timecode_to_frames

SPEED_SLACK_FRAMES = 1.5  # source span this close to the played length is normal speed
STILL_TYPES = ("still",)  # the media pool "Type" of images (PNG, TIFF, DPX, ...)


@dataclass(frozen=True)
class Media:
    """A media pool item's properties, read in one call."""

    name: str
    path: str  # "" for compound, multicam and Fusion clips
    kind: str  # the "Type" property: "Video + Audio", "Still", "Compound", ...
    fps: Fraction | None  # exact media rate; None when Resolve gives none
    frames: int | None  # the file's length in its own frames
    start_tc: str  # "Start TC": the file's first frame as a timecode, "" when unknown

    @property
    def still(self) -> bool:
        return self.kind.strip().lower() in STILL_TYPES


def _number(value) -> float | None:
    try:
        return float(str(value).strip())
    except (TypeError, ValueError):
        return None


def read_media(media_pool_item, item_name: str) -> Media:
    """The properties the plugin needs; one round trip to Resolve."""
    props = media_pool_item.GetClipProperty() or {}
    fps_text = props.get("FPS", "")
    try:
        fps = parse_frame_rate(fps_text) if _number(fps_text) else None
    except ValueError:
        fps = None
    frames = _number(props.get("Frames"))
    return Media(name=item_name, path=str(props.get("File Path") or ""), kind=str(props.get("Type") or ""),
                 fps=fps, frames=int(frames) if frames is not None else None,
                 start_tc=str(props.get("Start TC") or "").strip())


def _call(obj, name: str, *args):
    """A call older versions lack: None when the method is not there."""
    try:
        method = getattr(obj, name)
    except AttributeError:
        return None
    return method(*args) if method is not None else None


def _start_tc_frames(media: Media) -> int | None:
    if not media.start_tc or media.fps is None:
        return None
    try:
        return timecode_to_frames(media.start_tc, media.fps)
    except ValueError:
        return None


def source_seconds(item, media: Media, record_frames: int, timeline_fps: Fraction) -> tuple[float, float]:
    """(in, out) seconds into the media file of the whole item; out exclusive.

    record_frames: the item's length on the timeline (GetEnd - GetStart), the length it plays.
    """
    fps = media.fps or timeline_fps
    one_frame = float(1 / fps)
    if media.still:
        return 0.0, one_frame  # one picture, held: the server reads its only frame
    played_s = Fraction(record_frames) / timeline_fps
    start = _call(item, "GetSourceStartFrame")
    if start is None:  # before the file-relative frame calls: the media frames before the in point
        start, end = item.GetLeftOffset(), None
    else:
        end = _call(item, "GetSourceEndFrame")
    start = Fraction(str(start))
    _cross_check(item, media, "in", "GetSourceStartTime", start)
    if end is not None:
        _cross_check(item, media, "out", "GetSourceEndTime", Fraction(str(end)))
    source_in = start / fps
    speed = Fraction(1)
    if end is not None:
        span = Fraction(str(end)) - start  # source frames the item runs over
        nominal = played_s * fps  # what it would run over at normal speed
        if span <= 1:  # a freeze frame: one source frame for the whole item
            return float(source_in), float(source_in) + one_frame
        if abs(span - nominal) > SPEED_SLACK_FRAMES:
            speed = span / nominal
    if media.frames is not None and start >= media.frames:
        raise ResolveScoreError(f"Resolve says {media.name!r} starts at frame {int(start)} of its file, but the "
                                f"file has {media.frames} frames; check Clip Attributes (frame rate) for that "
                                "clip and score again")
    return float(source_in), float(source_in + played_s * speed)


def _cross_check(item, media: Media, which: str, call: str, frame: Fraction) -> None:
    """Source time (start TC included) and the file-relative frame must name the same frame."""
    tc_frames = _start_tc_frames(media)
    seconds = _number(_call(item, call))
    if tc_frames is None or seconds is None or media.fps is None:
        return
    from_time = Fraction(str(seconds)) * media.fps - tc_frames
    if abs(from_time - frame) > SPEED_SLACK_FRAMES:  # a frame of rounding, one of end slip
        raise ResolveScoreError(
            f"Resolve gives two different {which} points for {media.name!r}: frame {int(frame)} of the file, and "
            f"{seconds:.3f} s with the clip's Start TC {media.start_tc} (frame {float(from_time):.0f}); check "
            "the clip's Start TC and frame rate in Clip Attributes, then score again")
