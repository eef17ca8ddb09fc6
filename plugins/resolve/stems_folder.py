"""Where a Resolve take's WAVs are written: the folder the user chose, else beside the project's
renders, and never inside a camera card's folder structure (cards are copied, checksummed and
reformatted; files added there break the copy's verification and are lost with the card).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path, PurePath

from .errors import ResolveScoreError

FOLDER_NAME = "Scorecut Stems"
# Folder names that only camera cards have (Sony XDCAM/XAVC, AVCHD, Canon, DCIM, Blackmagic),
# compared case-blind against every part of a path.
CARD_FOLDERS = frozenset(name.lower() for name in (
    "PRIVATE", "M4ROOT", "XDROOT", "BPAV", "AVCHD", "DCIM", "CLIPS001", "CANONMXF", "AVF_INFO", "PROAV",
    "MP_ROOT",
))


def on_camera_card(path: str | os.PathLike) -> bool:
    """Whether `path` lies inside a camera card's folder structure (or a copy of one)."""
    parts = [p.lower() for p in PurePath(path).parts]
    if any(p in CARD_FOLDERS for p in parts):
        return True
    # CONTENTS/CLIP is the P2 / XF card layout; CLIP alone is too common a word to go by.
    return any(a == "contents" and b in {"clip", "video", "audio"} for a, b in zip(parts, parts[1:], strict=False))


def _render_folder(project) -> str | None:
    """The target folder of the project's newest render job, when it has one."""
    try:
        jobs = project.GetRenderJobList() or []
    except AttributeError:
        return None
    if isinstance(jobs, dict):  # the bridge may give a 1-based table
        jobs = [jobs[k] for k in sorted(jobs)]
    for job in reversed(list(jobs)):
        target = str((job or {}).get("TargetDir") or "").strip()
        if target:
            return target
    return None


def home_videos() -> Path:
    return Path.home() / ("Movies" if sys.platform == "darwin" else "Videos")


def stems_folder(project, chosen: str | os.PathLike | None = None) -> Path:
    """The folder takes go into: `chosen`, else `<render folder>/Scorecut Stems`, else
    ~/Movies (macOS) or ~/Videos /Scorecut Stems. Raises ResolveScoreError for a card folder."""
    if chosen:
        folder = Path(chosen).expanduser()
        if on_camera_card(folder):
            raise ResolveScoreError(f"{folder} is inside a camera card's folders; choose a stems folder on "
                                    "your project drive instead (cards are copied and reformatted)")
        return folder
    render = _render_folder(project)
    if render and not on_camera_card(render):
        return Path(render) / FOLDER_NAME
    return home_videos() / FOLDER_NAME
