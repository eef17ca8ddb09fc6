"""Install Scorecut into DaVinci Resolve's Scripts menu (Workspace > Scripts > Utility > Scorecut).

    python packaging/install_resolve.py                 # install for this user
    python packaging/install_resolve.py --dry-run       # show what would be written, write nothing
    python packaging/install_resolve.py --target DIR    # install into DIR instead
    python packaging/install_resolve.py --python PY     # check this Python (the one Resolve runs)
    python packaging/install_resolve.py --resolve-dir D # Resolve is installed in D, not the default

Writes, into the per-OS user Scripts/Utility folder:
- Scorecut.py and scorecut_lib.zip (the client library, the Resolve plugin and the generated wire
  contract, all pure Python): the panel, for Resolve Studio (and free Resolve before 19.1);
- "Scorecut Free.lua": the free edition's script (no panel, no Python in Resolve), set to run its
  jobs in the Python running this installer, which must have Scorecut installed.
Then it finds the Python Resolve loads (the one inside the Resolve installation when there is
one, as from 21.1; else the system Python Resolve looks for on this OS) and checks that it can
import grpcio and protobuf, printing the one command that fixes it.
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LIB_NAME = "scorecut_lib.zip"
SCRIPT_NAME = "Scorecut.py"
LUA_NAME = "Scorecut Free.lua"
# Where Resolve itself is installed, per OS (the installer's defaults).
RESOLVE_DIRS = {
    "darwin": "/Applications/DaVinci Resolve/DaVinci Resolve.app",
    "win32": r"C:\Program Files\Blackmagic Design\DaVinci Resolve",
    "linux": "/opt/resolve",
}
# A Python shipped inside the Resolve installation (21.1 and later bring their own), relative to it.
BUNDLED_PYTHON = (
    "Contents/Libraries/Python*/bin/python3*", "Contents/Frameworks/Python.framework/Versions/3*/bin/python3*",
    "Contents/Libraries/python*/bin/python3*",  # macOS
    "python*/python.exe", "Python*/python.exe", "libs/python*/python.exe",  # Windows
    "libs/python*/bin/python3*", "libs/Python*/bin/python3*", "python*/bin/python3*",  # Linux
)
# zip folder -> source folder (files taken: *.py, and the .proto the generated code comes from)
PACKAGES = {
    "scorecut": REPO / "proto" / "scorecut",
    "scorecut/v1": REPO / "proto" / "scorecut" / "v1",
    "scorecut/plugins": REPO / "plugins",
    "scorecut/plugins/client": REPO / "plugins" / "client",
    "scorecut/plugins/resolve": REPO / "plugins" / "resolve",
}
CHECK = ("import sys\n"
         "print('python', '.'.join(map(str, sys.version_info[:3])))\n"
         "try:\n    import grpc\n    print('grpcio', grpc.__version__)\n"
         "except Exception as e:\n    print('grpcio', '-')\n"
         "try:\n    import google.protobuf as p\n    print('protobuf', p.__version__)\n"
         "except Exception as e:\n    print('protobuf', '-')\n")
MIN_PYTHON = (3, 9)  # the oldest Python grpcio publishes wheels for


def user_scripts_dir(platform: str = sys.platform, env: dict | None = None, home: Path | None = None) -> Path:
    """Resolve's per-user Fusion/Scripts/Utility folder on `platform`."""
    env = os.environ if env is None else env
    home = Path.home() if home is None else home
    if platform == "darwin":
        return home / "Library/Application Support/Blackmagic Design/DaVinci Resolve/Fusion/Scripts/Utility"
    if platform.startswith("win"):
        appdata = Path(env.get("APPDATA") or home / "AppData" / "Roaming")
        return appdata / "Blackmagic Design" / "DaVinci Resolve" / "Support" / "Fusion" / "Scripts" / "Utility"
    return home / ".local/share/DaVinciResolve/Fusion/Scripts/Utility"


def _platform_key(platform: str) -> str:
    return "linux" if platform.startswith("linux") else ("win32" if platform.startswith("win") else platform)


def resolve_version(resolve_dir: Path) -> tuple[int, ...]:
    """The installed Resolve's version from its bundle's Info.plist (macOS); () when unknown."""
    plist = resolve_dir / "Contents" / "Info.plist"
    try:
        text = plist.read_text(errors="replace")
    except OSError:
        return ()
    match = re.search(r"<key>CFBundleShortVersionString</key>\s*<string>([\d.]+)", text)
    return _version(match.group(1)) if match else ()


def bundled_python(resolve_dir: Path) -> str | None:
    """The Python inside the Resolve installation (21.1 and later ship one), when there is one."""
    for pattern in BUNDLED_PYTHON:
        found = sorted((p for p in resolve_dir.glob(pattern) if p.is_file() and os.access(p, os.X_OK)
                        and re.fullmatch(r"python3?(\.\d+)?(\.exe)?", p.name)), key=lambda p: _version_key(str(p)))
        if found:
            return str(found[-1])
    return None


def find_resolve_python(platform: str = sys.platform, resolve_dir: Path | None = None) -> tuple[str | None, str]:
    """(the Python Resolve loads, why that one): its own bundled Python when the installation has
    one, else the system Python Resolve looks for on `platform`."""
    folder = Path(resolve_dir or RESOLVE_DIRS.get(_platform_key(platform), "/opt/resolve"))
    own = bundled_python(folder)
    version = resolve_version(folder)
    named = f"Resolve {'.'.join(map(str, version))}" if version else "Resolve"
    if own:
        return own, f"the Python that {named} ships in {folder}"
    if version and version >= (21, 1):
        return None, (f"{named} in {folder} should ship its own Python, and none was found there; pass it with "
                      "--python (look inside the Resolve installation for python3 / python.exe)")
    return resolve_python(platform), f"the system Python {named} loads on this OS (none inside {folder})"


def resolve_python(platform: str = sys.platform) -> str | None:
    """The system Python 3 Resolve (before 21.1) is most likely to run: the newest python.org
    install, else python3 on PATH."""
    if platform == "darwin":
        found = sorted(glob.glob("/Library/Frameworks/Python.framework/Versions/3.*/bin/python3"), key=_version_key)
        if found:
            return found[-1]
    if platform.startswith("win"):
        local = os.environ.get("LOCALAPPDATA", "")
        found = sorted(glob.glob(os.path.join(local, "Programs", "Python", "Python3*", "python.exe")),
                       key=_version_key)
        if found:
            return found[-1]
        return shutil.which("python") or shutil.which("py")
    return shutil.which("python3")


def _version_key(path: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", path)[-2:])


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", text)[:3])


def requirements() -> tuple[str, str, tuple[int, ...], tuple[int, ...]]:
    """(grpcio spec, protobuf spec, grpcio minimum, protobuf minimum) the generated contract needs."""
    grpc_code = (REPO / "proto/scorecut/v1/scorecut_pb2_grpc.py").read_text()
    pb_code = (REPO / "proto/scorecut/v1/scorecut_pb2.py").read_text()
    grpc_min = re.search(r"GRPC_GENERATED_VERSION = '([\d.]+)'", grpc_code).group(1)
    pb_min = re.search(r"Protobuf Python Version: ([\d.]+)", pb_code).group(1)
    major = _version(pb_min)[0]
    return f"grpcio>={grpc_min}", f"protobuf>={pb_min},<{major + 1}", _version(grpc_min), _version(pb_min)


def library_files() -> list[tuple[str, Path]]:
    """(name in the zip, source file) for every file of the library."""
    files = []
    for folder, source in PACKAGES.items():
        for path in sorted(source.iterdir()):
            if path.is_file() and path.suffix in (".py", ".proto"):
                files.append((f"{folder}/{path.name}", path))
    return files


def write_library(target: Path) -> None:
    temp = target.with_name(target.name + ".tmp")
    with zipfile.ZipFile(temp, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, path in library_files():
            zf.write(path, name)
    os.replace(temp, target)  # atomic: Resolve never sees half a library


def menu_script(library: Path) -> str:
    text = (REPO / "plugins/resolve/menu.py").read_text()
    line = "LIBRARY = None  # set by the installer: the path of scorecut_lib.zip"
    if line not in text:
        raise RuntimeError("plugins/resolve/menu.py lost its LIBRARY line")
    return text.replace(line, f"LIBRARY = {str(library)!r}  # written by install_resolve.py")


def lua_script() -> str:
    """The free edition's script, set to run its jobs in this Python (which has Scorecut)."""
    text = (REPO / "plugins/resolve/lua/Scorecut.lua").read_text()
    line = '  python = "python3",       -- the Python with Scorecut installed'
    if line not in text:
        raise RuntimeError("plugins/resolve/lua/Scorecut.lua lost its CONFIG python line")
    quoted = sys.executable.replace("\\", "\\\\").replace('"', '\\"')
    return text.replace(line, f'  python = "{quoted}",  -- written by install_resolve.py: has Scorecut installed')


def check_python(python: str | None) -> tuple[bool, str]:
    """(ok, message) for whether `python` can import what the library needs."""
    grpc_spec, pb_spec, grpc_min, pb_min = requirements()
    if not python:
        return False, ("no Python 3 found, and Resolve needs one for Python scripts: install Python 3.11 "
                       "from python.org, then run this installer again")
    try:
        out = subprocess.run([python, "-c", CHECK], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, f"cannot run {python}: {e}; pass the Python that Resolve runs with --python"
    found = dict(line.split(" ", 1) for line in out.splitlines() if " " in line)
    if _version(found.get("python", "0")) < MIN_PYTHON:
        return False, (f"{python} is Python {found.get('python', '?')}; Scorecut needs {MIN_PYTHON[0]}.{MIN_PYTHON[1]} "
                       "or newer: install Python 3.11 from python.org, then run this installer again")
    grpc_ok = found.get("grpcio", "-") != "-" and _version(found["grpcio"]) >= grpc_min
    pb_version = _version(found.get("protobuf", "-")) if found.get("protobuf", "-") != "-" else ()
    pb_ok = bool(pb_version) and pb_min <= pb_version and pb_version[0] == pb_min[0]
    if grpc_ok and pb_ok:
        return True, f"{python} has grpcio {found['grpcio']} and protobuf {found['protobuf']}"
    have = f"grpcio {found.get('grpcio', '-')}, protobuf {found.get('protobuf', '-')}"
    command = f'"{python}" -m pip install --user "{grpc_spec}" "{pb_spec}"'
    return False, f"{python} has {have}; Scorecut needs {grpc_spec} and {pb_spec}. Fix it with:\n\n    {command}\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=Path, help="install here instead of Resolve's user Scripts/Utility folder")
    parser.add_argument("--dry-run", action="store_true", help="show what would be written; write nothing")
    parser.add_argument("--python", help="the Python that Resolve runs (default: found the way Resolve finds it)")
    parser.add_argument("--resolve-dir", type=Path,
                        help="where Resolve is installed (default: the OS's usual place), to find its own Python")
    args = parser.parse_args(argv)

    target = (args.target or user_scripts_dir()).expanduser().resolve()
    library, script, lua = target / LIB_NAME, target / SCRIPT_NAME, target / LUA_NAME
    files = library_files()
    if args.dry_run:
        print(f"would write {script}")
        print(f"would write {library} ({len(files)} files: the client library, the Resolve plugin, the "
              "scorecut.v1 contract)")
        print(f"would write {lua} (free Resolve; runs its jobs in {sys.executable})")
    else:
        target.mkdir(parents=True, exist_ok=True)
        write_library(library)
        for path, text in ((script, menu_script(library)), (lua, lua_script())):
            with tempfile.NamedTemporaryFile("w", dir=target, suffix=".tmp", delete=False) as f:
                f.write(text)
            os.replace(f.name, path)
            print(f"installed {path}")
        print(f"installed {library}")
    if args.python:
        python, why = args.python, "the Python given with --python"
    else:
        python, why = find_resolve_python(resolve_dir=args.resolve_dir)
    print(f"checking {python or '(none)'}: {why}")
    ok, message = check_python(python)
    print(("ready: " if ok else "not ready: ") + message)
    if ok and not args.dry_run:
        print("In Resolve: Workspace > Scripts > Scorecut (restart Resolve if the menu does not show it).")
    if not args.dry_run:
        print("Free Resolve 19.1 and later: Workspace > Scripts > Scorecut Free (Lua; progress in Workspace > "
              "Console). It needs no Python in Resolve.")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
