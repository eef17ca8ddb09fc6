"""The committed generated code matches scorecut.proto, and the package layout is importable."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_generated_code_matches_proto():
    result = subprocess.run([sys.executable, str(REPO / "proto/generate.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_one_import_namespace():
    import scorecut
    from scorecut.v1 import scorecut_pb2, scorecut_pb2_grpc

    assert scorecut.__version__
    assert scorecut_pb2.DESCRIPTOR.package == "scorecut.v1"
    assert hasattr(scorecut_pb2_grpc, "ScorecutStub")


def test_packaging_folder_is_not_a_package():
    # A package named `packaging` would shadow the PyPA library of that name.
    assert not (REPO / "packaging/__init__.py").exists()
