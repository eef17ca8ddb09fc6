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
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent / "services"


def render(template: str, folder: Path, scorecut: str) -> str:
    # A short hash keeps one unit per folder even when two folders share a name.
    tag = f"{folder.name or 'root'}-{hashlib.sha256(str(folder).encode()).hexdigest()[:6]}"
    return (template.replace("@FOLDER_NAME@", tag).replace("@FOLDER@", str(folder))
            .replace("@SCORECUT@", scorecut)), tag


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--print", action="store_true", help="print the unit instead of installing it")
    parser.add_argument("--target", type=Path, help="write the unit here and do not activate it")
    parser.add_argument("--platform", default=sys.platform, help=argparse.SUPPRESS)
    args = parser.parse_args()

    folder = args.folder.expanduser().resolve()
    if not folder.is_dir():
        print(f"{folder} is not a folder; create it first", file=sys.stderr)
        return 2
    scorecut = shutil.which("scorecut") or str(Path(sys.executable).with_name("scorecut"))
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

    text, tag = render(template.read_text(), folder, scorecut)
    if args.print:
        print(text)
        return 0
    target = args.target or default_dir / filename.format(tag=tag)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-16" if target.suffix == ".xml" else "utf-8")
    print(f"wrote {target}")
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
