"""Blender's side of a take: read movie strips into `StripInfo`s (placing a take: take_strips).

Only this module and the UI modules touch bpy data; they run on the main thread only.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import bpy

from .compat import channel_muted, editor_of, top_strips
from .strips_to_request import NothingToScore, Segment, StripInfo, build_segment, content_rate, scene_fps
from .take_strips import STEM_KEY, TAKE_KEY, place_take  # noqa: F401 - placing lives there; callers use these names

OUTPUT_FOLDER = "scorecut"  # //scorecut/<take>/ beside the .blend


def fps_of(scene) -> float:
    return scene_fps(scene.render.fps, scene.render.fps_base)


def _media_frames(path: str) -> int:
    """Frames in the movie file, as Blender's own decoder counts them (0 when unknown)."""
    before = set(bpy.data.movieclips)
    try:
        clip = bpy.data.movieclips.load(path, check_existing=True)
    except RuntimeError:
        return 0
    frames = int(clip.frame_duration)
    if clip not in before:
        bpy.data.movieclips.remove(clip)
    return frames


def strip_info(strip, timeline_fps: float) -> StripInfo:
    path = bpy.path.abspath(strip.filepath)
    if not Path(path).is_file():
        raise NothingToScore(f"the movie of strip {strip.name!r} is missing ({path}); relink it or deselect the strip")
    movie_fps = float(strip.fps) or timeline_fps
    return StripInfo(
        name=strip.name,
        path=str(Path(path).resolve()),
        channel=int(strip.channel),
        frame_start=float(strip.frame_start),
        frame_final_start=int(strip.frame_final_start),
        frame_final_end=int(strip.frame_final_end),
        animation_offset_start=float(strip.animation_offset_start),
        fps=movie_fps,
        rate=content_rate(_media_frames(path), strip.animation_offset_start + strip.animation_offset_end,
                          strip.frame_duration, movie_fps, timeline_fps),
    )


def scope_range(scene, scope: str) -> tuple[int, int] | None:
    """[start, end) frames of RANGE scope: the preview range when set, else the scene range."""
    if scope != "RANGE":
        return None
    if scene.use_preview_range:
        return scene.frame_preview_start, scene.frame_preview_end + 1  # Blender's end frame is inclusive
    return scene.frame_start, scene.frame_end + 1


def _plays(editor, strip) -> bool:
    return not strip.mute and not channel_muted(editor, strip.channel)


def _not_read(editor, in_scope: list, movies: list, scope: str) -> list[str]:
    """What in the scope the music does not follow, one line each, for the user's report."""
    notes = []
    speeds = [s for s in top_strips(editor) if s.type == "SPEED" and _plays(editor, s)
              and (s in in_scope or getattr(s, "input_1", None) in movies)]
    for s in in_scope:
        if s.type == "MOVIE" and not _plays(editor, s) and scope == "SELECTED":
            notes.append(f"{s.name!r} is muted, so it is not scored")
        elif s.type == "META" and _plays(editor, s):
            notes.append(f"meta strip {s.name!r} is not read: ungroup it to score the movies inside")
        elif s.type == "MOVIE" and _plays(editor, s) and s.use_reverse_frames:
            notes.append(f"{s.name!r} plays reversed; the music follows it as if it played forward")
    notes += [f"speed effect {s.name!r} is not read: the music follows the movie under it at its own speed"
              for s in speeds]
    return notes


def collect_segment(scene, scope: str) -> tuple[Segment, list[str]]:
    """The segment to score: selected movie strips (SELECTED) or the picture in the range (RANGE),
    and what in that scope the music does not follow (muted, meta, reversed, speed effects)."""
    editor = editor_of(scene)
    if editor is None:
        raise NothingToScore("this scene has no sequencer strips: add movie strips first")
    fps = fps_of(scene)
    frame_range = scope_range(scene, scope)
    in_scope = [s for s in top_strips(editor) if (scope != "SELECTED" or s.select)
                and (frame_range is None
                     or (s.frame_final_start < frame_range[1] and s.frame_final_end > frame_range[0]))]
    movies = [s for s in in_scope if s.type == "MOVIE" and _plays(editor, s)]
    notes = _not_read(editor, in_scope, movies, scope)
    if not movies and frame_range is not None:
        raise NothingToScore("; ".join([f"no movie strip plays in frames {frame_range[0]}-{frame_range[1] - 1}",
                                        *notes]))
    if not movies and notes:
        raise NothingToScore("; ".join(["none of the selected strips is a movie that plays", *notes]))
    return build_segment([strip_info(s, fps) for s in movies], fps, frame_range), notes


def output_dir() -> tuple[Path, str]:
    """Where takes are written, and a warning when that is a temporary folder."""
    if bpy.data.filepath:
        return Path(bpy.path.abspath(f"//{OUTPUT_FOLDER}")), ""
    folder = Path(tempfile.gettempdir()) / "scorecut-blender"
    return folder, (f"the .blend file is not saved, so the music went to a temporary folder ({folder}); "
                    "save the file before scoring to keep the music beside it")
