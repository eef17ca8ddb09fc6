"""Regenerates the Python code of the wire contract beside the .proto files.

    python proto/generate.py            # write scorecut/v1/scorecut_pb2*.py
    python proto/generate.py --check    # exit 1 when the committed code differs (CI, tests)

The gRPC stub's absolute import is made relative so that the contract package works wherever it
is vendored (the Blender extension and the Resolve script carry it under their own names).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

PROTO_ROOT = Path(__file__).resolve().parent
PROTO_FILE = "scorecut/v1/scorecut.proto"
GENERATED = ("scorecut_pb2.py", "scorecut_pb2.pyi", "scorecut_pb2_grpc.py")


def generate(out_dir: Path) -> None:
    from grpc_tools import protoc  # test/dev dependency, not needed at run time

    args = [
        "protoc",
        f"-I{PROTO_ROOT}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        str(PROTO_ROOT / PROTO_FILE),
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    stub = out_dir / "scorecut/v1/scorecut_pb2_grpc.py"
    text = stub.read_text()
    stub.write_text(text.replace("from scorecut.v1 import scorecut_pb2", "from . import scorecut_pb2"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp))
        drift = []
        for name in GENERATED:
            fresh = (Path(tmp) / "scorecut/v1" / name).read_text()
            committed = PROTO_ROOT / "scorecut/v1" / name
            if args.check:
                if not committed.exists() or committed.read_text() != fresh:
                    drift.append(name)
            else:
                committed.write_text(fresh)
    if drift:
        print(f"generated code drifted from {PROTO_FILE}: {', '.join(drift)}; "
              "run `python proto/generate.py` and commit", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
