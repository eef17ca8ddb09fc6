"""Benches that compare the code at a git revision with the working tree, in one run.

`extract(rev, into)` lays the tree at `rev` (the folders the package maps) out under `into` with
`git archive` (the working tree and the index are never touched); a child process then calls
`import_code_from(tree)` before its first `import scorecut`, so it runs that code, not the editable
install's.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAPPED = ("models", "server", "cli", "plugins")  # mapped under scorecut.* (setup.py), beside proto/scorecut


def extract(rev: str, into: Path) -> Path:
    """The tree at `rev` under `into`/tree."""
    archive = into / "tree.tar"
    with open(archive, "wb") as f:
        subprocess.run(["git", "-C", str(ROOT), "archive", rev, "proto", *MAPPED], stdout=f, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into / "tree", filter="data")
    return into / "tree"


def import_code_from(tree: Path) -> None:
    """Make `import scorecut...` load `tree`: the editable install's finder is taken off
    sys.meta_path and a package folder laid out as the wheel maps it goes first on sys.path."""
    pkg = tree / "_pkg"
    if not pkg.exists():
        pkg.mkdir()
        (pkg / "scorecut").symlink_to(tree / "proto" / "scorecut")
        for name in MAPPED:
            if (tree / name).exists() and not (tree / "proto" / "scorecut" / name).exists():
                (tree / "proto" / "scorecut" / name).symlink_to(tree / name)
    sys.meta_path[:] = [f for f in sys.meta_path if not getattr(f, "__module__", "").startswith("__editable__")]
    sys.path.insert(0, str(pkg))


def loaded_from(module) -> str:
    """Where a module was imported from (benches print it: proof of which code ran)."""
    return str(Path(module.__file__).resolve())
