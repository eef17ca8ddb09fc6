"""Putting finished stems on a Resolve timeline: bin, import, one named audio track per stem.

Resolve's quirks this follows: `AppendToTimeline` takes an absolute `recordFrame` (timeline start
included), counts `startFrame`/`endFrame` in the media pool item's own frame rate (its "FPS"
property: Resolve reads an imported WAV at 24 frames per second whatever the timeline's rate),
and `endFrame` is exclusive from 19.1 (before, it is the last frame placed). A WAV even a
fraction of a sample shorter than the segment can come out one timeline frame short at 29.97 or
59.94, so the stems are asked for at most the segment's length (a longer WAV is trimmed there)
and a placement one frame short is accepted. Placement is read back and checked frame for frame;
on any other difference everything this module added to the project (timeline items, tracks,
clips, bins) is removed again. The stems of one take are linked and colour-tagged, so they move
and read as one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from .errors import ResolveScoreError
from .last_take import OldItem, clear_range, last_take_tracks
from .media_import import import_into, path_key
from .take_midi import TakeMidi, offer_midi
from .timecode import frames_to_timecode as tc
from .version import UNKNOWN, ResolveVersion

ROOT_BIN = "Scorecut"
AUDIO_ONLY = 2  # clipInfo "mediaType": 1 video only, 2 audio only
TAKE_COLOR = "Orange"  # clip colour of placed stems: one of Resolve's named clip colours
SHORT_BY_ONE = 1  # timeline frames a stem may come out short (WAVs are read at 24 fps)


@dataclass
class _Undo:
    """What this placement added, so a failure can take it all back."""

    items: list = field(default_factory=list)
    tracks: list[int] = field(default_factory=list)
    clips: list = field(default_factory=list)
    bins: list = field(default_factory=list)
    removed: list[OldItem] = field(default_factory=list)  # the last take's items this one replaced


def _float(value) -> float | None:
    try:
        return float(str(value).strip())
    except (TypeError, ValueError):
        return None


def _same(a, b) -> bool:
    return a is b or (a is not None and b is not None and a.GetUniqueId() == b.GetUniqueId())


def _bin(media_pool, parent, name: str, undo: _Undo, reuse: bool):
    if reuse:
        for folder in parent.GetSubFolderList() or []:
            if folder.GetName() == name:
                return folder
    folder = media_pool.AddSubFolder(parent, name)
    if not folder:
        raise ResolveScoreError(f"Resolve did not create the media pool bin {name!r}; close any open dialog "
                                "in Resolve and try again")
    undo.bins.append(folder)
    return folder


def _import(media_pool, folder, paths: list[Path], undo: _Undo) -> dict[str, object]:
    """Import `paths` into `folder`; {path: MediaPoolItem}."""
    by_path = import_into(media_pool, folder, paths)
    undo.clips.extend(by_path.values())
    found = {}
    for p in paths:
        clip = by_path.get(path_key(p))
        if clip is None:
            raise ResolveScoreError(f"Resolve did not import {p}; check that the file is readable and that "
                                    "Resolve can read WAV files, then try again")
        found[str(p)] = clip
    return found


def _undo(timeline, media_pool, undo: _Undo) -> None:
    """Best effort: every step runs even when an earlier one fails."""
    steps = []
    if undo.items:
        steps.append(lambda: timeline.DeleteClips(undo.items, False))
    for track in sorted(undo.tracks, reverse=True):  # highest first: indices below stay valid
        steps.append(lambda track=track: timeline.DeleteTrack("audio", track))
    if undo.clips:
        steps.append(lambda: media_pool.DeleteClips(undo.clips))
    if undo.bins:
        steps.append(lambda: media_pool.DeleteFolders(list(reversed(undo.bins))))
    for old in undo.removed:  # the replaced take's items go back where they were, one by one
        steps.append(lambda old=old: media_pool.AppendToTimeline([old.clip_info]))
    for step in steps:
        try:
            step()
        except Exception:  # cleaning up after a failure must not hide it
            pass


def end_frame(length_s: Fraction, segment_s: Fraction, clip_fps: Fraction, version: ResolveVersion) -> float:
    """clipInfo "endFrame" for a WAV of `length_s` on a segment of `segment_s`, in the clip's rate.

    Never past the file's end nor the segment's end; exclusive from 19.1, inclusive before.
    """
    end = min(length_s, segment_s) * clip_fps
    return float(end if version.exclusive_end else end - 1)


@dataclass(frozen=True)
class Placed:
    """A take on the timeline."""

    items: list  # the placed TimelineItems in stem order, linked and colour-tagged
    midi: TakeMidi | None = None  # what became of the take's score.mid (None: it has none)


def place_stems(project, timeline, stems: dict[str, Path], *, record_frame: int, frames: int,
                fps: Fraction, job: str, lengths_s: dict[str, Fraction] | None = None,
                version: ResolveVersion | None = None, replace_last: bool = False,
                midi: Path | None = None) -> Placed:
    """Place each stem WAV on a new stereo audio track named after it, at `record_frame`.

    replace_last: put each stem on the track holding that stem of the last take (removing that
    take's items over the segment; they come back if this placement fails), adding tracks only
    for stems the last take did not have.

    record_frame: absolute timeline frame of the segment start; frames: its length in timeline
    frames; fps: the timeline's exact rate; lengths_s: each WAV's exact length (samples / rate),
    so endFrame never asks for audio past the file's end; version: the running Resolve (its
    endFrame rule); midi: the take's score.mid, offered to the take's bin once the stems are placed
    (take_midi.py: Resolve is expected to refuse it; that is no failure).
    """
    if version is None:
        version = ResolveVersion(UNKNOWN)
    media_pool = project.GetMediaPool()
    undo = _Undo()
    try:
        current = project.GetCurrentTimeline()
        if not _same(current, timeline) and not project.SetCurrentTimeline(timeline):
            raise ResolveScoreError(f"cannot switch back to the timeline {timeline.GetName()!r}; open it and "
                                    "score again")
        root = _bin(media_pool, media_pool.GetRootFolder(), ROOT_BIN, undo, reuse=True)
        last = last_take_tracks(root, timeline) if replace_last else {}
        job_bin = _bin(media_pool, root, job, undo, reuse=False)
        clips = _import(media_pool, job_bin, list(stems.values()), undo)
        segment_s = Fraction(frames) / fps
        infos, tracks = [], []
        for name, path in stems.items():
            clip = clips[str(path)]
            clip_fps = _float(clip.GetClipProperty("FPS"))
            if not clip_fps:
                raise ResolveScoreError(f"Resolve reports no frame rate for {path.name}; try again")
            if name in last:
                track, old_items = last[name]
                undo.removed.extend(clear_range(timeline, track, old_items, record_frame, record_frame + frames, fps,
                                                version.exclusive_end))
            else:
                if not timeline.AddTrack("audio", "stereo"):
                    raise ResolveScoreError("Resolve did not add an audio track; unlock the timeline and try again")
                track = int(timeline.GetTrackCount("audio"))
                undo.tracks.append(track)
                timeline.SetTrackName("audio", track, name)
            tracks.append(track)
            infos.append({
                "mediaPoolItem": clip,
                "startFrame": 0,
                # Counted in the clip's own rate (24 for WAVs), not the timeline's.
                "endFrame": end_frame((lengths_s or {}).get(name, segment_s), segment_s,
                                      Fraction(str(clip_fps)), version),
                "trackIndex": track,
                "recordFrame": record_frame,  # absolute: includes the timeline's start frame
                "mediaType": AUDIO_ONLY,
            })
        placed = list(media_pool.AppendToTimeline(infos) or [])
        undo.items.extend(placed)
        if len(placed) != len(infos):
            raise ResolveScoreError(f"Resolve placed {len(placed)} of {len(infos)} stems; nothing was added. "
                                    "Unlock the timeline's tracks and try again")
        for name, item, track in zip(stems, placed, tracks, strict=False):
            _verify(timeline, name, item, track, record_frame, frames, fps)
        _tag(timeline, placed)
        return Placed(placed, offer_midi(media_pool, job_bin, midi) if midi is not None else None)
    except BaseException:
        _undo(timeline, media_pool, undo)
        raise


def _verify(timeline, stem: str, item, track: int, record_frame: int, frames: int, fps: Fraction) -> None:
    start, end = int(item.GetStart()), int(item.GetEnd())
    on_track = any(_same(item, other) for other in timeline.GetItemListInTrack("audio", track) or [])
    if start == record_frame and record_frame + frames - SHORT_BY_ONE <= end <= record_frame + frames and on_track:
        return
    where = f"{tc(start, fps)}-{tc(end, fps)}" + ("" if on_track else " on another track")
    raise ResolveScoreError(f"Resolve put the {stem} stem at {where} instead of {tc(record_frame, fps)}-"
                            f"{tc(record_frame + frames, fps)} on audio track {track}; nothing was added. "
                            "This needs Resolve 18 or newer (placement by record frame); update Resolve and "
                            "score again")


def _tag(timeline, items: list) -> None:
    """Link the take's stems (they move as one) and give them the take colour; cosmetic, so a
    Resolve that refuses either still keeps the placed stems."""
    if len(items) > 1:
        timeline.SetClipsLinked(items, True)
    for item in items:
        item.SetClipColor(TAKE_COLOR)
