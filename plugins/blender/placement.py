"""Where a take's audio goes on the timeline, and what it is called. Plain Python (no bpy).

A take is one scoring of one segment: one sound strip per stem (or only the mix), each on its
own channel above the picture, all starting at the segment's first frame. A new take over part
of an earlier one (Score Range on one scene after scoring the film) cuts the earlier take at the
new range's edges: outside it the earlier music plays on untouched, inside it gives way (or is
muted, with Keep Takes), and both sides of each seam get a short fade. Replacing reuses the
earlier take's channels; channels that hold the user's own strips are never renamed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .client_api import STEMS

MAX_CHANNEL = 128  # Blender's highest sequencer channel
SEAM_FADE_S = 0.08  # fade at a seam between takes: short enough to keep the beat, long enough not to click
STEM_ORDER = STEMS  # bottom channel first: rhythm under the tune


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


@dataclass(frozen=True)
class Cut:
    """How a strip `[start, end)` of an earlier take meets a new take over `[cut_start, cut_end)`."""

    left: tuple[int, int] | None  # the part before the new take, kept as it is
    middle: tuple[int, int]  # the part under the new take: removed, or muted with Keep Takes
    right: tuple[int, int] | None  # the part after it, kept as it is


def cut(start: int, end: int, cut_start: int, cut_end: int) -> Cut | None:
    """The pieces of `[start, end)` around `[cut_start, cut_end)`; None when they do not overlap."""
    if not overlaps(start, end, cut_start, cut_end):
        return None
    left = (start, cut_start) if start < cut_start else None
    right = (cut_end, end) if cut_end < end else None
    return Cut(left, (max(start, cut_start), min(end, cut_end)), right)


def fade_frames(fps: float) -> int:
    """Frames of a seam fade at `fps` (at least one)."""
    return max(1, round(SEAM_FADE_S * fps))


def reuse_channels(stems: list[str], earlier: dict[str, int], occupants: list[Occupant], start: int, end: int,
                   ) -> list[int]:
    """Channels for `stems`: the earlier take's channel of the same stem where it is free over
    `[start, end)`, new channels above everything there for the rest."""
    taken = {o.channel for o in occupants if overlaps(o.start, o.end, start, end)}
    chosen: dict[str, int] = {}
    for stem in stems:
        channel = earlier.get(stem)
        if channel is not None and channel not in taken and channel not in chosen.values():
            chosen[stem] = channel
    rest = [s for s in stems if s not in chosen]
    if rest:
        busy = occupants + [Occupant(c, start, end) for c in chosen.values()]
        chosen.update(zip(rest, choose_channels(busy, start, end, len(rest)), strict=False))
    return [chosen[s] for s in stems]


def nameable(channel: int, occupants: list[Occupant]) -> bool:
    """A channel may be named after a stem only when none of the user's strips is on it."""
    return not any(o.channel == channel and not o.take for o in occupants)


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
