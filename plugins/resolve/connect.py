"""Finding Resolve: inside it (the `resolve`, `fusion`, `bmd` globals a Scripts-menu entry gets)
or from outside (the DaVinciResolveScript module, found through RESOLVE_SCRIPT_API and loading
RESOLVE_SCRIPT_LIB, as Resolve's scripting README describes).
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import ResolveScoreError

# Where Resolve installs its scripting module and library, per OS (the README's defaults).
DEFAULT_API = {
    "darwin": "/Library/Application Support/Blackmagic Design/DaVinci Resolve/Developer/Scripting",
    "win32": os.path.join(os.environ.get("PROGRAMDATA", r"C:\ProgramData"),
                          "Blackmagic Design", "DaVinci Resolve", "Support", "Developer", "Scripting"),
    "linux": "/opt/resolve/Developer/Scripting",
}
DEFAULT_LIB = {
    "darwin": "/Applications/DaVinci Resolve/DaVinci Resolve.app/Contents/Libraries/Fusion/fusionscript.so",
    "win32": r"C:\Program Files\Blackmagic Design\DaVinci Resolve\fusionscript.dll",
    "linux": "/opt/resolve/libs/Fusion/fusionscript.so",
}
NOT_RUNNING = ("DaVinci Resolve did not answer: start Resolve, open a project, and set Preferences > "
               "System > General > External scripting using to Local (external scripts need Resolve "
               "Studio; in the free version run Scorecut from Workspace > Scripts instead)")


@dataclass(frozen=True)
class Host:
    """The three scripting objects: the app, Fusion (for its UIManager), and bmd (UIDispatcher)."""

    resolve: object
    fusion: object | None
    bmd: object | None


def _platform() -> str:
    return "linux" if sys.platform.startswith("linux") else sys.platform


def from_namespace(namespace: Mapping) -> Host | None:
    """The host objects a script run by Resolve finds in its globals, or None outside Resolve."""
    resolve = namespace.get("resolve")
    fusion = namespace.get("fusion") or namespace.get("fu")
    bmd = namespace.get("bmd")
    if resolve is None and bmd is not None:
        resolve = bmd.scriptapp("Resolve")
    if resolve is None:
        return None
    if fusion is None:
        fusion = resolve.Fusion()
    return Host(resolve, fusion, bmd)


def scripting_module():
    """Import DaVinciResolveScript from RESOLVE_SCRIPT_API/Modules (or the per-OS default)."""
    api = os.environ.get("RESOLVE_SCRIPT_API") or DEFAULT_API.get(_platform(), "")
    lib = os.environ.get("RESOLVE_SCRIPT_LIB") or DEFAULT_LIB.get(_platform(), "")
    if lib and "RESOLVE_SCRIPT_LIB" not in os.environ and os.path.exists(lib):
        os.environ["RESOLVE_SCRIPT_LIB"] = lib  # the module loads fusionscript from here
    modules = os.path.join(api, "Modules")
    if modules not in sys.path:
        sys.path.append(modules)
    try:
        return importlib.import_module("DaVinciResolveScript")
    except ImportError:
        raise ResolveScoreError(f"cannot find Resolve's scripting module in {modules}; install DaVinci Resolve, "
                                "or set RESOLVE_SCRIPT_API to its Developer/Scripting folder and "
                                "RESOLVE_SCRIPT_LIB to its fusionscript library") from None


def from_outside() -> Host:
    """Connect to a running Resolve from a separate Python process."""
    dvr = scripting_module()
    resolve = dvr.scriptapp("Resolve")
    if resolve is None:
        raise ResolveScoreError(NOT_RUNNING)
    return Host(resolve, resolve.Fusion(), dvr)  # the module doubles as bmd (it has UIDispatcher)


def connect(namespace: Mapping | None = None) -> Host:
    """Inside Resolve when `namespace` carries its globals; otherwise from outside."""
    host = from_namespace(namespace) if namespace is not None else None
    return host or from_outside()
