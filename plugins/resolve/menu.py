"""Scorecut: the Workspace > Scripts > Utility > Scorecut entry in DaVinci Resolve.

packaging/install_resolve.py installs this file as Scorecut.py in Resolve's Scripts/Utility
folder, with LIBRARY set to the scorecut library zip beside it. Resolve runs it with the
`resolve`, `fusion` and `bmd` globals; run from a terminal (`python Scorecut.py`) it connects to
a running Resolve Studio from outside.
"""

import os
import sys

LIBRARY = None  # set by the installer: the path of scorecut_lib.zip


def _library():
    if LIBRARY:
        return LIBRARY
    try:
        here = os.path.dirname(os.path.abspath(__file__))
    except NameError:  # Resolve may run the script without __file__
        return None
    candidate = os.path.join(here, "scorecut_lib.zip")
    return candidate if os.path.exists(candidate) else None


def main(namespace) -> int:
    library = _library()
    if library and library not in sys.path:
        sys.path.insert(0, library)
    try:
        from scorecut.plugins.resolve.connect import connect
        from scorecut.plugins.resolve.panel import run_panel
    except ImportError as e:
        print(f"Scorecut cannot start: {e}. The Python that Resolve runs ({sys.executable}) needs grpcio and "
              "protobuf: run `python packaging/install_resolve.py` again; it prints the command that installs "
              "them.")
        return 1
    try:
        run_panel(connect(namespace))
    except Exception as e:  # the console shows words, not a traceback
        print(f"Scorecut: {e}")
        return 1
    return 0


if __name__ == "__main__" or any(name in globals() for name in ("resolve", "fu", "bmd")):
    main(globals())
