#!/usr/bin/env python3
"""Build the Scorecut Blender extension: one zip per platform and Blender Python, both in the name.

    python packaging/build_blender_extension.py --out DIR [--platform linux-x64 ...] [--python 3.11 ...]
                                                [--cache DIR]

Each zip holds the add-on (plugins/blender), its own copy of the client library and the wire
contract (under the add-on's private `vendor` package, imports rewritten, so nothing clashes with
what Blender's Python has installed), and the grpcio + protobuf wheels of one platform for one of
the Pythons Blender ships: `-py311` for Python 3.11 (Blender 4.2-5.0), `-py313` for 3.13 (5.1+).

Why not both Pythons in one zip: Blender 4.2 picks an extension's wheels by platform only ("TODO:
Match Python & ABI tags" in its bl_extension_ops.py) and keeps one wheel per distribution, the one
whose file name sorts last when versions tie, so from a zip with grpcio cp311 and cp313 it would
unpack the cp313 one into Python 3.11. With one Python per zip there is nothing to choose. Wheels
are downloaded once with pip into the cache folder.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ADDON = REPO / "plugins" / "blender"
CLIENT = REPO / "plugins" / "client"
CONTRACT = REPO / "proto" / "scorecut" / "v1"

# The generated contract needs grpcio >= 1.85.1 and protobuf 7.x >= 7.35.1; grpcio needs
# typing-extensions ~= 4.12 (pure Python), which Blender's Python does not have.
REQUIREMENTS = ("grpcio==1.85.3", "protobuf==7.36.2", "typing_extensions==4.16.0")
PYTHON_VERSIONS = ("3.11", "3.13")  # Blender 4.2-5.0, Blender 5.1+
# The oldest Blender each zip may install into: a Python 3.13 zip never into a 3.11 Blender.
BLENDER_MIN = {"3.11": "4.2.0", "3.13": "5.1.0"}
# Blender platform -> pip platform tags (pip widens them to the older compatible tags itself).
PLATFORM_TAGS = {
    "linux-x64": ("manylinux_2_17_x86_64", "manylinux2014_x86_64"),
    "macos-arm64": ("macosx_11_0_arm64",),
    "macos-x64": ("macosx_11_0_x86_64",),
    "windows-x64": ("win_amd64",),
}
# The wheel file name's platform part that Blender accepts on each platform.
WHEEL_PLATFORM = {
    "linux-x64": re.compile(r"manylinux.*_x86_64"),
    "macos-arm64": re.compile(r"macosx_.*_(arm64|universal2)"),
    "macos-x64": re.compile(r"macosx_.*_(x86_64|universal2)"),
    "windows-x64": re.compile(r"win_amd64"),
}
_IMPORT_CONTRACT = re.compile(r"^(\s*)from scorecut\.v1 import", re.M)
_ABSOLUTE_SCORECUT = re.compile(r"^\s*(from|import)\s+scorecut\b", re.M)


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "scorecut" / "blender-wheels"


def _python_tag(version: str) -> str:
    return "cp" + version.replace(".", "")


def _wheel_fits(filename: str, requirement: str, python: str, platform: str) -> bool:
    name, version = requirement.split("==")
    parts = filename[:-4].split("-")
    if len(parts) < 5 or parts[0].lower() != name.lower() or parts[1] != version:
        return False
    py_tag, abi_tag, plat_tag = parts[-3:]
    if not WHEEL_PLATFORM[platform].search(plat_tag) and plat_tag != "any":
        return False
    if abi_tag == "abi3":  # stable ABI: any Python at or after its tag
        return int(py_tag[3:]) <= int(_python_tag(python)[3:])
    return py_tag == _python_tag(python) or py_tag.startswith("py3")


def wheels_for(platform: str, cache: Path, pythons: tuple[str, ...] = PYTHON_VERSIONS) -> list[Path]:
    """grpcio and protobuf wheels of `platform` for each of `pythons` (downloads only what is missing)."""
    folder = cache / platform
    folder.mkdir(parents=True, exist_ok=True)
    found: list[Path] = []
    for python in pythons:
        for requirement in REQUIREMENTS:
            have = [p for p in sorted(folder.glob("*.whl")) if _wheel_fits(p.name, requirement, python, platform)]
            if not have:
                cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                       "--python-version", python, "--implementation", "cp", "--dest", str(folder)]
                for tag in PLATFORM_TAGS[platform]:
                    cmd += ["--platform", tag]
                cmd.append(requirement)
                done = subprocess.run(cmd, capture_output=True, text=True)
                if done.returncode != 0:
                    raise SystemExit(f"could not download {requirement} for {platform} / Python {python}:\n"
                                     f"{done.stderr.strip()}\ncheck the network or pip's index settings")
                have = [p for p in sorted(folder.glob("*.whl")) if _wheel_fits(p.name, requirement, python, platform)]
                if not have:
                    raise SystemExit(f"pip gave no {requirement} wheel for {platform} / Python {python} in {folder}")
            found.append(have[-1])
    return sorted(set(found))


def manifest_for(platform: str, wheels: list[Path], python: str = "3.11") -> str:
    """The source manifest with this zip's `platforms`, `wheels` and oldest Blender, as top-level keys."""
    text = (ADDON / "blender_manifest.toml").read_text()
    text = re.sub(r'^blender_version_min\s*=.*$', f'blender_version_min = "{BLENDER_MIN[python]}"', text, flags=re.M)
    extra = (f'platforms = ["{platform}"]\n'
             "wheels = [\n" + "".join(f'  "./wheels/{w.name}",\n' for w in wheels) + "]\n\n")
    first_table = re.search(r"^\[", text, re.M)  # keys after a [table] header would belong to it
    cut = first_table.start() if first_table else len(text)
    return text[:cut] + extra + text[cut:]


_RELATIVE = re.compile(r"^\s*from \.(\w+) import|^\s*from \. import ([\w, ]+)", re.M)


def client_modules() -> list:
    """The client library's files the extension needs: __init__.py and what it imports, relatively,
    at any depth. Host-side extras (the CLI's plots and previews, on numpy and PyAV) stay out."""
    wanted, todo = set(), ["__init__"]
    while todo:
        name = todo.pop()
        if name in wanted or not (CLIENT / f"{name}.py").is_file():
            continue
        wanted.add(name)
        for single, several in _RELATIVE.findall((CLIENT / f"{name}.py").read_text()):
            todo.extend([single] if single else [n.strip() for n in several.split(",")])
    return sorted(CLIENT / f"{name}.py" for name in wanted)


def vendored_client() -> dict[str, str]:
    """archive name -> text of the client library and the contract, under vendor/."""
    files: dict[str, str] = {
        "vendor/__init__.py": '"""Private copies of the Scorecut client library and contract."""\n'}
    for path in client_modules():
        text = _IMPORT_CONTRACT.sub(r"\1from ..scorecut_v1 import", path.read_text())
        if _ABSOLUTE_SCORECUT.search(text):
            raise SystemExit(f"{path} imports `scorecut` absolutely; the vendored copy cannot: use a relative import")
        files[f"vendor/scorecut_client/{path.name}"] = text
    for name in ("__init__.py", "scorecut_pb2.py", "scorecut_pb2_grpc.py"):
        text = (CONTRACT / name).read_text()
        if _ABSOLUTE_SCORECUT.search(text):
            raise SystemExit(f"{CONTRACT / name} imports `scorecut` absolutely; regenerate it with relative imports")
        files[f"vendor/scorecut_v1/{name}"] = text
    return files


def addon_version() -> str:
    match = re.search(r'^version\s*=\s*"([^"]+)"', (ADDON / "blender_manifest.toml").read_text(), re.M)
    if not match:
        raise SystemExit("plugins/blender/blender_manifest.toml has no version")
    return match.group(1)


def zip_name(platform: str, python: str) -> str:
    return f"scorecut-{addon_version()}-{platform.replace('-', '_')}-py{python.replace('.', '')}.zip"


def build(platform: str, out_dir: Path, cache: Path, python: str = "3.11") -> Path:
    wheels = wheels_for(platform, cache, (python,))
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / zip_name(platform, python)
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", dir=out_dir)
    os.close(fd)
    with zipfile.ZipFile(temp, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("blender_manifest.toml", manifest_for(platform, wheels, python))
        for path in sorted(ADDON.glob("*.py")):
            zf.write(path, path.name)
        for name, text in vendored_client().items():
            zf.writestr(name, text)
        for wheel in wheels:
            zf.write(wheel, f"wheels/{wheel.name}", compress_type=zipfile.ZIP_STORED)  # already compressed
    os.chmod(temp, 0o644)  # mkstemp made it private; a zip to hand out is readable
    os.replace(temp, target)  # appears whole or not at all
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the Scorecut Blender extension zips.")
    parser.add_argument("--out", required=True, type=Path, help="folder for the zips")
    parser.add_argument("--platform", action="append", choices=sorted(PLATFORM_TAGS),
                        help="build only this platform (repeatable); default: all")
    parser.add_argument("--python", action="append", choices=PYTHON_VERSIONS,
                        help="build only for this Blender Python (repeatable); default: all")
    parser.add_argument("--cache", type=Path, default=default_cache(),
                        help="where downloaded wheels are kept between builds (default: %(default)s)")
    args = parser.parse_args(argv)
    for platform in args.platform or sorted(PLATFORM_TAGS):
        for python in args.python or PYTHON_VERSIONS:
            print(build(platform, args.out, args.cache, python))
    return 0


if __name__ == "__main__":
    sys.exit(main())
