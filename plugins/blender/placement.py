"""Where a take's audio goes on the timeline, and what it is called. Plain Python (no bpy).

A take is one scoring of one segment: one sound strip per stem (or only the mix), each on its
own new channel above the picture, all starting at the segment's first frame.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

MAX_CHANNEL = 128  # Blender's highest sequencer channel
STEM_ORDER = ("drums", "bass", "harmony", "melody")  # bottom channel first: rhythm under the tune


@dataclass(frozen=True)
class Occupant:
    """A strip already on the timeline: its channel and visible frames `[start, end)`."""

    channel: int
    start: int
    end: int
    take: str = ""  # the Scorecut take it belongs to, "" for the user's own strips
    muted: bool = False


def overlaps(a_start: int, a_end: int, b_start: int, b_end: int) -> bool:
    return a_start < b_end and b_start < a_end


def takes_over(occupants: list[Occupant], start: int, end: int) -> set[str]:
    """Takes playing over `[start, end)` (a strip there that is not muted): the ones a new take of
    this segment replaces or mutes. Takes kept earlier, muted, are left as they are."""
    return {o.take for o in occupants if o.take and not o.muted and overlaps(o.start, o.end, start, end)}


def choose_channels(occupants: list[Occupant], start: int, end: int, count: int) -> list[int]:
    """`count` consecutive channels above everything over `[start, end)`; new and empty there."""
    top = max((o.channel for o in occupants if overlaps(o.start, o.end, start, end)), default=0)
    first = top + 1
    if first + count - 1 > MAX_CHANNEL:
        raise ValueError(f"no room for {count} new channels above channel {top} (Blender has {MAX_CHANNEL}); "
                         "free some channels above the picture or place only the mix")
    return list(range(first, first + count))


def stems_to_place(stems: dict[str, Path], mix: Path, place_stems: bool) -> list[tuple[str, Path]]:
    """(name, wav) to place, bottom channel first: every stem, or only the mix."""
    if not place_stems or not stems:
        return [("mix", Path(mix))]
    rank = {name: i for i, name in enumerate(STEM_ORDER)}
    names = sorted(stems, key=lambda n: (rank.get(n, len(rank)), n))
    return [(name, Path(stems[name])) for name in names]


def take_name(scene_name: str, first_frame: int) -> str:
    """A take's base folder name: scene and first frame. The client library's land_take lands it
    there, or at <name>-2, ... when another request's take holds it (one naming policy)."""
    base = re.sub(r"[^A-Za-z0-9_-]+", "_", scene_name).strip("_") or "scene"
    return f"{base}_f{first_frame}"
