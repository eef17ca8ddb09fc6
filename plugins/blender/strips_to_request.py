"""From movie strips on a timeline to the clips of one Scorecut timeline segment.

Plain Python (no bpy): the Blender side reads each strip into a `StripInfo` and this module does
the arithmetic, so it is tested without Blender.

Timeline facts it relies on (checked against Blender 4.2-5.0):
- a strip shows `[frame_final_start, frame_final_end)` on the timeline; where strips overlap, the
  one on the higher channel is the one seen;
- timeline frame f of a movie strip shows source frame
  `(f - frame_start) * rate + animation_offset_start`, where `rate` is source frames per timeline
  frame: 1 for strips added with `strips.new_movie` (one source frame per timeline frame, so a
  23.976 fps movie in a 25 fps scene plays 4% fast), `strip_fps / scene_fps` when the playback
  rate was adjusted to play at normal speed;
- the source second of source frame k is k / strip_fps; the record second of timeline frame f is
  (f - segment_first_frame) / scene_fps with scene_fps = render.fps / render.fps_base.
The music follows the timeline, never the source: a record length that differs from the source
length is a speed change the server maps linearly.
"""

from __future__ import annotations

from dataclasses import dataclass

from .client_api import ClipSpec


class NothingToScore(ValueError):
    """The scope holds no visible movie strip; the message says what to select."""


@dataclass(frozen=True)
class StripInfo:
    """What the request needs of one movie strip (Blender's names, Blender's units: frames)."""

    name: str
    path: str  # absolute path of the movie file
    channel: int  # higher channels are drawn on top
    frame_start: float  # timeline frame of the (untrimmed) content's first frame
    frame_final_start: int  # first visible timeline frame
    frame_final_end: int  # one past the last visible timeline frame
    animation_offset_start: float = 0.0  # source frames cut from the media's head
    fps: float = 25.0  # the movie's own frame rate
    rate: float = 1.0  # source frames per timeline frame (see the module docstring)

    def source_seconds(self, timeline_frame: float) -> float:
        """Seconds into the media shown at `timeline_frame` (a frame edge, may be fractional)."""
        source_frame = (timeline_frame - self.frame_start) * self.rate + self.animation_offset_start
        return source_frame / self.fps


@dataclass(frozen=True)
class Piece:
    """A run of timeline frames `[start, end)` where `strip` is the picture seen."""

    strip: StripInfo
    start: int
    end: int


@dataclass(frozen=True)
class Segment:
    """One timeline segment: the clips sent and where the music goes."""

    first_frame: int  # the music starts here
    end_frame: int  # exclusive: the music ends here
    scene_fps: float  # frames per second of the timeline
    pieces: tuple[Piece, ...]  # the visible picture, in timeline order
    clips: tuple[ClipSpec, ...]  # one per piece, record times relative to first_frame

    @property
    def frames(self) -> int:
        return self.end_frame - self.first_frame

    @property
    def duration_s(self) -> float:
        return self.frames / self.scene_fps


def scene_fps(fps: int, fps_base: float) -> float:
    """Blender's timeline rate: render.fps / render.fps_base (e.g. 24 / 1.001 = 23.976)."""
    if fps <= 0 or fps_base <= 0:
        raise ValueError(f"the scene's frame rate {fps}/{fps_base} is not positive; set it in Output Properties")
    return fps / fps_base


def content_rate(media_frames: int, frames_cut: float, frame_duration: int, movie_fps: float,
                 timeline_fps: float) -> float:
    """Source frames per timeline frame of a movie strip.

    `media_frames` is the file's frame count, `frames_cut` the animation offsets at both ends,
    `frame_duration` the strip's content length on the timeline. Blender rounds that length to
    whole frames, so a measured rate near 1 (new_movie) or near movie/scene fps (playback rate
    adjusted) is taken as exact; anything else (retimed strips) is the strip's average speed.
    """
    used = media_frames - frames_cut
    if media_frames <= 0 or used <= 0 or frame_duration <= 0:
        return 1.0
    measured = used / frame_duration
    for candidate in (1.0, movie_fps / timeline_fps):
        if abs(measured - candidate) <= 0.01 * candidate:
            return candidate
    return measured


def visible_pieces(strips: list[StripInfo], start: int, end: int) -> list[Piece]:
    """The top-most strip over each run of frames in `[start, end)`; gaps give no piece."""
    edges = {start, end}
    for s in strips:
        for edge in (s.frame_final_start, s.frame_final_end):
            if start < edge < end:
                edges.add(edge)
    ordered = sorted(edges)
    pieces: list[Piece] = []
    for a, b in zip(ordered, ordered[1:], strict=False):
        covering = [s for s in strips if s.frame_final_start <= a and s.frame_final_end >= b]
        if not covering:
            continue
        # Ties on one channel cannot overlap in Blender; max() is deterministic anyway.
        top = max(covering, key=lambda s: (s.channel, s.frame_final_start))
        if pieces and pieces[-1].strip == top and pieces[-1].end == a:
            pieces[-1] = Piece(top, pieces[-1].start, b)
        else:
            pieces.append(Piece(top, a, b))
    return pieces


def clip_for(piece: Piece, first_frame: int, fps: float) -> ClipSpec:
    """The wire clip of one piece: source seconds of the media, record seconds of the segment."""
    s = piece.strip
    return ClipSpec(
        path=s.path,
        source_in_s=max(0.0, s.source_seconds(piece.start)),
        source_out_s=s.source_seconds(piece.end),
        record_start_s=(piece.start - first_frame) / fps,
        record_end_s=(piece.end - first_frame) / fps,
        name=s.name,
    )


def build_segment(strips: list[StripInfo], fps: float, frame_range: tuple[int, int] | None = None) -> Segment:
    """The segment of `strips` over `frame_range` ([start, end) frames), or over the strips' own span.

    With a frame range the music covers the whole range (RANGE scope); without one it covers the
    strips from the first one's first frame to the last one's end (SELECTED scope).
    """
    if not strips:
        raise NothingToScore("no movie strips to score: select one or more movie strips "
                             "(or use Score Range over a part of the timeline with movies)")
    if frame_range is None:
        start = min(s.frame_final_start for s in strips)
        end = max(s.frame_final_end for s in strips)
    else:
        start, end = frame_range
        if end <= start:
            raise NothingToScore(f"the frame range {start}-{end} is empty; set a preview or scene range")
    pieces = visible_pieces(strips, start, end)
    if not pieces:
        raise NothingToScore(f"no movie strip is visible in frames {start}-{end - 1}; "
                             "move the range over the picture")
    clips = tuple(clip_for(p, start, fps) for p in pieces)
    return Segment(first_frame=start, end_frame=end, scene_fps=fps, pieces=tuple(pieces), clips=clips)
