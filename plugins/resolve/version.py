"""Which Resolve this is, and the rules that changed between versions.

`resolve.GetVersion()` answers [major, minor, patch, build, suffix]. Two things the plugin relies
on date from 19.1: `Timeline.GetMarkInOut()` (before it a script cannot see the In/Out marks) and
the exclusive `endFrame` of `MediaPool.AppendToTimeline` clip infos (before it `endFrame` is the
last frame placed, inclusive).
"""

from __future__ import annotations

from dataclasses import dataclass

MARKS_SINCE = (19, 1, 0)  # Timeline.GetMarkInOut
EXCLUSIVE_END_SINCE = (19, 1, 0)  # AppendToTimeline's endFrame is one past the last frame
UNKNOWN = (0, 0, 0)


@dataclass(frozen=True)
class ResolveVersion:
    """The running Resolve's version and what follows from it."""

    number: tuple[int, int, int]  # (major, minor, patch); UNKNOWN when Resolve did not say

    @property
    def known(self) -> bool:
        return self.number != UNKNOWN

    @property
    def has_marks(self) -> bool:
        return not self.known or self.number >= MARKS_SINCE

    @property
    def exclusive_end(self) -> bool:
        return not self.known or self.number >= EXCLUSIVE_END_SINCE

    def __str__(self) -> str:
        return ".".join(str(n) for n in self.number) if self.known else "an unknown version"


def parse_version(answer) -> ResolveVersion:
    """From GetVersion()'s list (or a "19.1.3" string); UNKNOWN when unreadable."""
    if isinstance(answer, str):
        answer = answer.replace("-", ".").split(".")
    if isinstance(answer, dict):  # the scripting bridge may hand Lua-style tables as {1: .., 2: ..}
        answer = [answer[k] for k in sorted(answer)]
    numbers = []
    for part in list(answer or [])[:3]:
        try:
            numbers.append(int(str(part).strip()))
        except ValueError:
            break
    if not numbers:
        return ResolveVersion(UNKNOWN)
    return ResolveVersion(tuple((numbers + [0, 0])[:3]))


def resolve_version(resolve) -> ResolveVersion:
    """The version of the Resolve behind `resolve`; UNKNOWN when it cannot say."""
    try:
        return parse_version(resolve.GetVersion())
    except (AttributeError, TypeError):
        return ResolveVersion(UNKNOWN)
