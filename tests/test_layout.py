"""The layout is the architecture: the server is only the server.

Walks every module under server/ with `ast` (imports at any depth, including those inside
functions, which a lazy import would hide from a runtime check) and fails when one reaches into a
front end: the plugins, the client library or the command line.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FRONT_ENDS = ("scorecut.plugins", "scorecut.cli")


def _imports(path: Path, package: str) -> list[str]:
    """Every module name `path` imports, relative imports resolved against `package`."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                names.append(".".join(base + ([node.module] if node.module else [])))
            else:
                names.append(node.module or "")
    return names


def test_no_server_module_imports_a_front_end():
    offenders = []
    for path in sorted((ROOT / "server").rglob("*.py")):
        rel = path.relative_to(ROOT / "server").with_suffix("")
        package = ".".join(("scorecut.server", *rel.parts[:-1]))
        for name in _imports(path, package):
            if name.startswith(FRONT_ENDS):
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not offenders, "server/ must not depend on front ends:\n" + "\n".join(offenders)


def test_the_walker_sees_relative_and_nested_imports(tmp_path):
    """The check can fail: a nested relative import of the plugins is resolved and caught."""
    src = tmp_path / "m.py"
    src.write_text("def f():\n    from ..plugins.client import client\n    import scorecut.cli.main\n")
    names = _imports(src, "scorecut.server")
    assert "scorecut.plugins.client" in names and "scorecut.cli.main" in names


def test_packaging_is_not_a_package():
    """A `packaging` package would shadow the PyPA library of that name."""
    assert not (ROOT / "packaging" / "__init__.py").exists()
