"""Maps the top-level folders onto one import namespace, `scorecut.*`.

pyproject.toml holds the metadata; only the folder-to-package mapping lives here, because it is
derived from the tree (every folder with an __init__.py under a mapped root) rather than listed
by hand, so a new subpackage can never be left out of the wheel.
"""

from pathlib import Path

from setuptools import setup

ROOTS = {
    "scorecut": "proto/scorecut",  # the package root and the generated wire contract (scorecut.v1)
    "scorecut.server": "server",
    "scorecut.cli": "cli",
    "scorecut.models": "models",
    "scorecut.plugins": "plugins",
}


def _packages() -> tuple[list[str], dict[str, str]]:
    packages, package_dir = [], {}
    for name, folder in ROOTS.items():
        package_dir[name] = folder
        for init in sorted(Path(folder).rglob("__init__.py")):
            rel = init.parent.relative_to(folder)
            if any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
                continue
            packages.append(".".join((name, *rel.parts)) if rel.parts else name)
    return packages, package_dir


PACKAGES, PACKAGE_DIR = _packages()
setup(packages=PACKAGES, package_dir=PACKAGE_DIR)
