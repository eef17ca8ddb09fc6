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


def test_analysis_carries_each_clips_start_timecode(server, media_root):
    """The server reads each clip's start timecode where it probes the media and sends it per clip,
    in order, in the Analysis (unset for a clip without one): live, and again from its result cache."""
    import grpc
    import pytest

    from scorecut.v1 import scorecut_pb2 as pb
    from scorecut.v1 import scorecut_pb2_grpc as pb_grpc
    from tests.helpers.timecode import timecode_s, with_timecode
    from tests.helpers.videos import VideoSpec, make_video

    plain = make_video(media_root / "contract-plain.mp4", VideoSpec(2.0, cuts_s=(1.0,), seed=11))
    camera = with_timecode(plain, media_root / "contract-camera.mov", "10:00:05:12")
    request = pb.ScoreRequest(clips=[pb.Clip(path=str(camera), source_in_s=0.5, source_out_s=2.0),
                                     pb.Clip(path=str(plain))],
                              options=pb.ScoreOptions(stems=["drums"], seed=31))
    with grpc.insecure_channel(server.address) as channel:
        stub = pb_grpc.ScorecutStub(channel)
        for cached in (False, True):
            events = list(stub.Score(request, timeout=300))
            assert events[0].accepted.cached == cached
            (analysis,) = [e.analysis for e in events if e.WhichOneof("event") == "analysis"]
            first, second = analysis.clip_media
            assert first.start_timecode_s == pytest.approx(timecode_s("10:00:05:12", 25), abs=1e-9)
            assert not second.HasField("start_timecode_s")


def test_hit_kinds_are_one_fact_of_the_contract():
    """The server's models and the client's parsers take the contract's list, not copies of it."""
    from scorecut.models import directing
    from scorecut.plugins.client import hits
    from scorecut.v1 import HIT_KINDS

    assert HIT_KINDS[0] == "hit"  # HitPoint.kind "" means the first
    assert directing.HIT_KINDS is HIT_KINDS and hits.HIT_KINDS is HIT_KINDS
