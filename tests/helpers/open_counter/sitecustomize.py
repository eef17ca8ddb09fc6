"""Counts PyAV opens in every process that starts with this folder on PYTHONPATH.

With SCORECUT_COUNT_OPENS=FILE set, each `av.open(path)` for reading appends one JSON line to
FILE: the process id, the path, a fingerprint of the file's bytes (the server may read a link or
copy of the media under its own folder), and the names of the functions on the stack (which tell
a probe, a picture decode and an audio decode apart). A test starts the server and the CLI with it and
counts, across both processes, how often the video was opened to decode its pictures.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import json
import os
import sys
import traceback

_LOG = os.environ.get("SCORECUT_COUNT_OPENS")


def fingerprint(path) -> str:
    """Size and sha256 of the first MiB: names the content, whatever the file is called."""
    try:
        with open(path, "rb") as f:
            head = f.read(1 << 20)
        return f"{os.path.getsize(path)}:{hashlib.sha256(head).hexdigest()}"
    except OSError:
        return ""


def _patch(av) -> None:
    original = av.open

    def counted_open(file, mode="r", *args, **kwargs):
        if mode == "r" and isinstance(file, (str, os.PathLike)):
            stack = [frame.name for frame in traceback.extract_stack()[:-1]]
            line = json.dumps({"pid": os.getpid(), "path": os.fspath(file), "content": fingerprint(file),
                               "stack": stack}) + "\n"
            with open(_LOG, "a", encoding="utf-8") as f:  # one short append per open: lines never interleave
                f.write(line)
        return original(file, mode, *args, **kwargs)

    av.open = counted_open


class _PatchAvOnImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name != "av":
            return None
        sys.meta_path.remove(self)
        try:
            import importlib.util

            spec = importlib.util.find_spec("av")
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        exec_module = loader.exec_module

        def exec_and_patch(module):
            exec_module(module)
            _patch(module)

        loader.exec_module = exec_and_patch
        return spec


if _LOG:
    sys.meta_path.insert(0, _PatchAvOnImport())
