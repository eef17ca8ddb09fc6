"""The last take on a timeline: which audio track holds each of its stems, so a new take can go
on those tracks instead of adding more, and the old take's items it covers can be put back if
the new placement fails.

A take is a bin under Scorecut/ in the media pool (one per job, in the order they were made);
its stems are the timeline items whose media pool item is one of that bin's clips.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import PurePath


@dataclass(frozen=True)
class OldItem:
    """An item of the last take removed to make room, and how to put it back."""

    track: int
    clip_info: dict  # for MediaPool.AppendToTimeline


def _clips_by_id(folder) -> dict[str, str]:
    """{media pool item id: stem name} of a take bin's clips (drums.wav -> "drums")."""
    found = {}
    for clip in folder.GetClipList() or []:
        found[clip.GetUniqueId()] = PurePath(str(clip.GetClipProperty("File Path"))).stem
    return found


def _items_of(timeline, ids: dict[str, str]) -> dict[str, tuple[int, list]]:
    """{stem: (audio track, [its items of the take])} on `timeline`."""
    tracks: dict[str, tuple[int, list]] = {}
    for track in range(1, int(timeline.GetTrackCount("audio") or 0) + 1):
        for item in timeline.GetItemListInTrack("audio", track) or []:
            media = item.GetMediaPoolItem()
            stem = ids.get(media.GetUniqueId()) if media is not None else None
            if stem is not None:
                tracks.setdefault(stem, (track, []))[1].append(item)
    return tracks


def last_take_tracks(root_bin, timeline) -> dict[str, tuple[int, list]]:
    """{stem: (track, items)} of the newest take that still has stems on `timeline`; {} if none."""
    for folder in reversed(list(root_bin.GetSubFolderList() or [])):
        found = _items_of(timeline, _clips_by_id(folder))
        if found:
            return found
    return {}


def clear_range(timeline, track: int, items: list, start: int, end: int, fps: Fraction,
                exclusive_end: bool) -> list[OldItem]:
    """Remove the take's `items` on `track` that overlap [start, end); returns how to restore them.

    fps: the timeline's exact rate."""
    removed = []
    for item in items:
        a, b = int(item.GetStart()), int(item.GetEnd())
        if not (a < end and start < b):
            continue
        media = item.GetMediaPoolItem()
        rate = Fraction(str(media.GetClipProperty("FPS") or 24))
        first = Fraction(str(item.GetSourceStartFrame()))
        last = first + Fraction(b - a) / fps * rate
        removed.append(OldItem(track, {"mediaPoolItem": media, "startFrame": float(first),
                                       "endFrame": float(last if exclusive_end else last - 1),
                                       "trackIndex": track, "recordFrame": a, "mediaType": 2}))
    doomed = [item for item in items if (int(item.GetStart()) < end and start < int(item.GetEnd()))]
    if doomed and not timeline.DeleteClips(doomed, False):
        return []
    return removed
