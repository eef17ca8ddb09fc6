"""Re-roll Section: the request of the last take again, new music only in the section under the
playhead. Plain functions (no bpy), so they are tested without Blender."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from .client_api import JobOptions, section_at
from .job_runner import JobRequest
from .strips_to_request import Segment


def take_sections(folder: Path) -> list[dict]:
    """The sections of the take in `folder`, from its score.json."""
    path = Path(folder) / "score.json"
    try:
        sections = json.loads(path.read_text()).get("sections") or []
    except (OSError, ValueError) as e:
        raise ValueError(f"cannot read the last take's {path} ({e}); score the range again") from None
    if not sections:
        raise ValueError(f"the last take's {path} lists no sections; score the range again")
    return sections


def next_reroll_seed(previous: JobOptions) -> int:
    """A seed neither the take nor an earlier re-roll of it used: each press brings other music."""
    return max(int(previous.seed or 0), int(previous.reroll_seed)) + 1  # no seed: the server uses 0


def reroll_request(request: JobRequest, sections: list[dict], segment: Segment, frame: int,
                   reroll_seed: int) -> JobRequest:
    """`request` (the last take's) with the section playing at `frame` re-rolled with `reroll_seed`."""
    if not segment.first_frame <= frame < segment.end_frame:
        raise ValueError(f"the playhead (frame {frame}) is not over the last take (frames {segment.first_frame}"
                         f"-{segment.end_frame - 1}): move it into the section to re-roll")
    section = section_at(sections, (frame - segment.first_frame) / segment.scene_fps)
    options = dataclasses.replace(request.options, reroll=section, reroll_seed=int(reroll_seed))
    return dataclasses.replace(request, options=options)
