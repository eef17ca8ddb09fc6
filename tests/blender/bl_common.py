"""Shared by the Blender driver scripts (run with the bpy venv's Python, one subprocess each).

Each driver installs the built extension zip into the scratch HOME the test gave it, does its
part, and writes what it saw as JSON for the pytest side (tests/test_blender.py) to check.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import traceback

import bpy

EXTENSION = "bl_ext.user_default.scorecut"


def install(zip_path: str):
    """Install and enable the extension zip; returns its package module."""
    if not os.environ.get("HOME", "").startswith(os.environ.get("SCORECUT_TEST_SCRATCH", "\0")):
        raise SystemExit("refusing to install into a real HOME: run through tests/test_blender.py")
    result = bpy.ops.extensions.package_install_files(filepath=zip_path, repo="user_default", enable_on_install=True)
    if result != {"FINISHED"}:
        raise SystemExit(f"package_install_files returned {result}")
    return importlib.import_module(EXTENSION)


def submodule(name: str):
    return importlib.import_module(f"{EXTENSION}.{name}")


def run(main) -> None:
    """Call main(args) -> dict and write the dict to the JSON path given as the last argument."""
    out = sys.argv[-1]
    facts: dict = {}
    try:
        facts = main(json.loads(sys.argv[-2]))
        facts["ok"] = True
    except BaseException as e:  # noqa: BLE001 - the pytest side shows it
        facts["ok"] = False
        facts["error"] = "".join(traceback.format_exception(e))
    with open(out, "w") as f:
        json.dump(facts, f, indent=1, default=str)
    sys.stdout.flush()
    os._exit(0 if facts["ok"] else 1)  # no atexit: Blender's module teardown is slow and noisy
