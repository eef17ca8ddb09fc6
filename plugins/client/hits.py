"""The editor's directions as front ends take them: hit points typed or marked, a re-roll range.

Pure Python (stdlib and the contract only), so the CLI, the watch folder, Blender and Resolve share
it. The server checks the directions against the segment (scorecut.models.directing); this only
reads them.
"""

from __future__ import annotations

from scorecut.v1 import HIT_KINDS  # the contract's HitPoint.kind values, as the server checks them


class DirectionError(ValueError):
    """A direction written in a form that cannot be read; the message shows the form."""


def parse_hit(text: str) -> tuple[float, str]:
    """'12.5', '12.5:stop' or '12.5:section' -> (seconds, kind)."""
    time_text, _, kind = str(text).strip().partition(":")
    kind = kind.strip().lower() or "hit"
    try:
        time_s = float(time_text)
    except ValueError:
        raise DirectionError(f"hit point {text!r} is not a time; write seconds from the segment start, "
                             "optionally with a kind: 12.5, 12.5:stop or 12.5:section") from None
    if kind not in HIT_KINDS:
        raise DirectionError(f"hit point {text!r} has an unknown kind {kind!r}; use one of: {', '.join(HIT_KINDS)}")
    return time_s, kind


def parse_reroll(text: str) -> tuple[float, float]:
    """'START,END' (seconds from the segment start) -> (start_s, end_s)."""
    parts = str(text).split(",")
    try:
        start, end = (float(p) for p in parts)
    except ValueError:
        raise DirectionError(f"re-roll range {text!r} is not START,END in seconds (for example 4,8.5)") from None
    return start, end


def marker_kind(name: str) -> str | None:
    """The hit kind a timeline marker's name asks for ("hit...", "stop...", "section..."), or None."""
    lowered = str(name).strip().lower()
    return next((k for k in HIT_KINDS if lowered.startswith(k)), None)


def marker_hits(markers, start_s: float, end_s: float) -> tuple[tuple[float, str], ...]:
    """Hit points from (time_s, name) markers on a timeline: those named hit/stop/section inside
    the scored range [start_s, end_s), in seconds from its start, in time order."""
    out = []
    for time_s, name in markers:
        kind = marker_kind(name)
        if kind is not None and start_s <= time_s < end_s:
            out.append((round(float(time_s) - start_s, 6), kind))
    return tuple(sorted(out))


def section_at(sections, time_s: float) -> tuple[float, float]:
    """(start_s, end_s) of the section (score.json `sections` entries) that plays at `time_s`
    seconds from the segment's start: the range a "Re-roll section" re-rolls."""
    for s in sections:
        if float(s["start_s"]) <= time_s < float(s["end_s"]):
            return float(s["start_s"]), float(s["end_s"])
    raise DirectionError(f"no section of the take plays at {time_s:.2f} s; put the playhead inside the take")
