"""Install a user service that runs `scorecut watch DIR` at login.

    python packaging/install_watch_service.py DIR            # install for this OS
    python packaging/install_watch_service.py DIR --print    # only show the unit file
    python packaging/install_watch_service.py DIR --target F # write the unit to F (no activation)

Linux: a systemd user unit (~/.config/systemd/user/), enabled with `systemctl --user`.
macOS: a launchd agent (~/Library/LaunchAgents/), loaded with `launchctl`.
Windows: a scheduled task at logon, created with `schtasks`.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

HERE = Path(__file__).resolve().parent / "services"


def render(template: str, folder: Path, scorecut: str) -> str:
    # A short hash keeps one unit per folder even when two folders share a name.
    tag = f"{folder.name or 'root'}-{hashlib.sha256(str(folder).encode()).hexdigest()[:6]}"
    return (template.replace("@FOLDER_NAME@", tag).replace("@FOLDER@", str(folder))
            .replace("@SCORECUT@", scorecut)), tag


def find_scorecut(explicit: Path | None) -> Path | None:
    """The `scorecut` command of the environment Scorecut is installed in, or None.

    The unit runs at login, long after this script: a command that merely happens to be on PATH
    now (another venv, another user's install) or that does not exist would fail silently then.
    So: an explicit --scorecut; else the console script of the Python running this script, when
    Scorecut is installed in it; else a `scorecut` on PATH.
    """
    if explicit is not None:
        return explicit.expanduser().resolve() if explicit.is_file() else None
    name = "scorecut.exe" if sys.platform.startswith("win") else "scorecut"
    if importlib.util.find_spec("scorecut") is not None:
        for folder in (Path(sysconfig.get_path("scripts")), Path(sys.executable).parent):
            if (folder / name).is_file():
                return folder / name
    found = shutil.which("scorecut")
    return Path(found) if found else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--print", action="store_true", help="print the unit instead of installing it")
    parser.add_argument("--target", type=Path, help="write the unit here and do not activate it")
    parser.add_argument("--scorecut", type=Path, help="the scorecut command the service runs "
                        "(default: the one installed beside this Python)")
    parser.add_argument("--platform", default=sys.platform, help=argparse.SUPPRESS)
    args = parser.parse_args()

    folder = args.folder.expanduser().resolve()
    if not folder.is_dir():
        print(f"{folder} is not a folder; create it first", file=sys.stderr)
        return 2
    scorecut = find_scorecut(args.scorecut)
    if scorecut is None:
        where = f"{args.scorecut} does not exist" if args.scorecut else (
            f"Scorecut is not installed for {sys.executable} and no `scorecut` is on PATH")
        print(f"no scorecut command to run at login: {where}. Run this script with the Python of the "
              "environment Scorecut is installed in (for example `.venv/bin/python "
              "packaging/install_watch_service.py DIR`), or pass --scorecut PATH", file=sys.stderr)
        return 2
    if args.platform.startswith("linux"):
        template, filename = HERE / "scorecut-watch.service", "scorecut-watch-{tag}.service"
        default_dir = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config")) / "systemd/user"
    elif args.platform == "darwin":
        template, filename = HERE / "com.scorecut.watch.plist", "com.scorecut.watch.{tag}.plist"
        default_dir = Path.home() / "Library/LaunchAgents"
    elif args.platform.startswith("win"):
        template, filename = HERE / "scorecut-watch-task.xml", "scorecut-watch-{tag}.xml"
        default_dir = Path(os.environ.get("APPDATA", Path.home())) / "Scorecut"
    else:
        print(f"no user service for {args.platform}; run `scorecut watch {folder}` from your session",
              file=sys.stderr)
        return 2

    text, tag = render(template.read_text(), folder, str(scorecut))
    if args.print:
        print(text)
        return 0
    target = args.target or default_dir / filename.format(tag=tag)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-16" if target.suffix == ".xml" else "utf-8")
    print(f"wrote {target} (runs {scorecut})")
    if args.target:
        return 0
    if args.platform.startswith("linux"):
        commands = [["systemctl", "--user", "daemon-reload"], ["systemctl", "--user", "enable", "--now", target.name]]
    elif args.platform == "darwin":
        commands = [["launchctl", "load", "-w", str(target)]]
    else:
        commands = [["schtasks", "/Create", "/TN", f"Scorecut watch {tag}", "/XML", str(target), "/F"]]
    for cmd in commands:
        print("$", " ".join(cmd))
        if subprocess.run(cmd).returncode != 0:
            print("that command failed; run it yourself once the problem it printed is fixed", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
