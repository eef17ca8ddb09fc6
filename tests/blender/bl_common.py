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
    except BaseException as e:  # the pytest side shows it
        facts["ok"] = False
        facts["error"] = "".join(traceback.format_exception(e))
    with open(out, "w") as f:
        json.dump(facts, f, indent=1, default=str)
    sys.stdout.flush()
    os._exit(0 if facts["ok"] else 1)  # no atexit: Blender's module teardown is slow and noisy


class RecordingLayout:
    """Stands in for bpy.types.UILayout when drawing a panel without a window: every call and
    attribute is checked against UILayout's real RNA (function names, keyword names, property
    names), operators against bpy.ops, prop() against the data's RNA; texts are recorded."""

    def __init__(self, log: list):
        object.__setattr__(self, "_log", log)

    def __setattr__(self, name, value):
        if name not in bpy.types.UILayout.bl_rna.properties:
            raise AttributeError(f"UILayout has no property {name!r}")

    def __getattr__(self, name):
        functions = bpy.types.UILayout.bl_rna.functions
        if name not in functions:
            raise AttributeError(f"UILayout has no function {name!r}")
        params = {p.identifier for p in functions[name].parameters}

        def call(*args, **kwargs):
            unknown = set(kwargs) - params
            if unknown:
                raise TypeError(f"UILayout.{name}() has no keyword(s) {sorted(unknown)}")
            if name == "prop":
                data, prop = args[:2]
                if prop not in data.bl_rna.properties:
                    raise AttributeError(f"{data!r} has no property {prop!r}")
            if name == "operator":
                category, op = args[0].split(".")
                if (not hasattr(getattr(bpy.ops, category), op)
                        or getattr(getattr(bpy.ops, category), op).idname_py() != args[0]):
                    raise AttributeError(f"no operator {args[0]!r}")
                self._log.append(("operator", args[0], kwargs.get("text", "")))
                return _OperatorProps(args[0], self._log)
            if "text" in kwargs:
                self._log.append((name, kwargs["text"]))
            return RecordingLayout(self._log)

        return call


class _OperatorProps:
    def __init__(self, idname, log):
        object.__setattr__(self, "_idname", idname)
        object.__setattr__(self, "_log", log)

    def __setattr__(self, name, value):
        category, op = self._idname.split(".")
        rna = getattr(getattr(bpy.ops, category), op).get_rna_type()
        if name not in rna.properties:
            raise AttributeError(f"{self._idname} has no property {name!r}")
        self._log.append(("operator_prop", self._idname, name, value))


def draw_panel(panel_cls, context) -> list:
    """Draw `panel_cls` into a RecordingLayout; returns the recorded calls."""
    log: list = []

    class Host:
        layout = RecordingLayout(log)

    panel_cls.draw(Host(), context)
    return log
