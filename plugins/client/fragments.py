"""W3C Media Fragments (temporal dimension) on the command line: `clip.mp4#t=1.5,4`.

Supported forms (https://www.w3.org/TR/media-frags/#naming-time): `t=10`, `t=10,20`, `t=,20`,
an optional `npt:` prefix, and clock values `mm:ss(.fff)` / `hh:mm:ss(.fff)`. Other fragment
dimensions (`xywh=`, `track=`, `id=`) are ignored. A file whose real name contains `#` is taken
literally first, so `take#2.mp4` keeps working.
"""

from __future__ import annotations

import os

from .types import ClipSpec


def parse_clock(value: str) -> float:
    """Seconds from an npt value: `12.5`, `1:02.5` or `1:02:03.5`."""
    parts = value.split(":")
    if len(parts) > 3 or any(p == "" for p in parts):
        raise ValueError(value)
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + float(part)
    if seconds < 0 or seconds != seconds:
        raise ValueError(value)
    return seconds


def parse_time_range(fragment: str) -> tuple[float, float | None] | None:
    """(start_s, end_s or None) from a fragment like `t=1.5,4` (no leading '#'); None when it has no `t=`."""
    for part in fragment.split("&"):
        key, _, value = part.partition("=")
        if key != "t":
            continue
        if value.startswith("npt:"):
            value = value[4:]
        start_text, comma, end_text = value.partition(",")
        try:
            start = parse_clock(start_text) if start_text else 0.0
            end = parse_clock(end_text) if end_text else None
        except ValueError:
            raise ValueError(
                f"cannot read the time range '#{fragment}': write it as #t=START,END in seconds, "
                "e.g. clip.mp4#t=1.5,4 (or #t=1:02.5,1:10)"
            ) from None
        if comma and not end_text and not start_text:
            raise ValueError(f"the time range '#{fragment}' is empty: give a start, an end or both")
        if end is not None and end <= start:
            raise ValueError(f"the time range '#{fragment}' ends before it starts: END must be after START")
        return start, end
    return None


def parse_media_fragment(arg: str) -> ClipSpec:
    """A ClipSpec from `path` or `path#t=START,END`; an existing file named `arg` wins over a fragment."""
    if "#" not in arg or os.path.exists(arg):
        return ClipSpec(path=arg, name=os.path.basename(arg))
    path, _, fragment = arg.rpartition("#")
    time_range = parse_time_range(fragment)
    if time_range is None:
        # Not a temporal fragment: the '#' is part of a (missing) file's name; the caller reports it.
        return ClipSpec(path=arg, name=os.path.basename(arg))
    start, end = time_range
    return ClipSpec(path=path, source_in_s=start, source_out_s=end, name=os.path.basename(path))
