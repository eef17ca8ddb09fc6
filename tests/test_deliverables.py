"""Deliverables editors drop into any NLE: BWF `bext` in every WAV (placed at source timecode) and
the take as an OpenTimelineIO timeline, on clips made here and scored by a real server."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import wave
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from tests.helpers.servers import isolated_env

RATE = 48_000
TC = "10:00:05:12"  # the camera's start timecode, 25 fps
TC_S = 10 * 3600 + 5 + 12 / 25


def make_camera_clip(path: Path, timecode: str | None, seconds: float = 3.0) -> Path:
    """A .mov with a cut at 1.5 s and, when given, a start timecode (a tmcd track, as cameras write)."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=Fraction(25))
        video.width, video.height, video.pix_fmt = 96, 64, "yuv420p"
        if timecode:
            video.metadata["timecode"] = timecode
        for i in range(int(seconds * 25)):
            shade = 40 if i < 37 else 200
            img = np.full((64, 96, 3), shade, np.uint8)
            img[20:40, (i * 3) % 70 : (i * 3) % 70 + 20] = (250, 60, 60)
            for packet in video.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
    return path


def raw_bext(path: Path) -> dict:
    """The bext chunk read straight from the RIFF structure (independent of the writer's reader)."""
    data = path.read_bytes()
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    i, order = 12, []
    while i + 8 <= len(data):
        cid, size = data[i : i + 4], struct.unpack("<I", data[i + 4 : i + 8])[0]
        order.append(cid)
        if cid == b"bext":
            b = data[i + 8 : i + 8 + size]
            found = {"description": b[:256].rstrip(b"\0").decode(),
                     "originator": b[256:288].rstrip(b"\0").decode(),
                     "reference": b[288:320].rstrip(b"\0").decode(), "date": b[320:330].decode(),
                     "time_reference": struct.unpack("<Q", b[338:346])[0],
                     "version": struct.unpack("<H", b[346:348])[0]}
        i += 8 + size + (size & 1)
    assert order.index(b"bext") < order.index(b"data") and order[0] == b"fmt "
    return found


def score(*args: str, home: Path, server) -> Path:
    run = subprocess.run([sys.executable, "-m", "scorecut.cli.main", "score", *args, "--server", server.address],
                         capture_output=True, text=True, env=isolated_env(home), timeout=600)
    assert run.returncode == 0, run.stderr
    assert "no .otio" not in run.stderr, run.stderr
    return Path(run.stdout.strip())


@pytest.fixture(scope="module")
def camera_take(server, media_root, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("deliver")
    clip = make_camera_clip(media_root / "camera.mov", TC)
    return score(f"{clip}#t=1,3", "--out-dir", str(tmp / "out"), "--otio", home=tmp / "home", server=server)


def test_every_wav_carries_bext_at_the_clips_source_timecode(camera_take):
    doc = json.loads((camera_take / "score.json").read_text())
    expected = round((TC_S + 1.0) * RATE)  # the camera's timecode plus the in point, in samples since midnight
    refs = set()
    for entry in [doc["mix"], *doc["stems"]]:
        path = camera_take / entry["file"]
        bext = raw_bext(path)
        assert bext["originator"] == "Scorecut" and bext["version"] == 2
        assert entry["name"] in bext["description"] and "camera.mov" in bext["description"]
        assert bext["time_reference"] == expected, (entry["name"], bext["time_reference"], expected)
        refs.add(bext["reference"])
        with wave.open(str(path)) as w:  # still a plain WAV to every reader
            assert w.getnframes() == entry["samples"]
        with av.open(str(path)) as probe:  # FFmpeg's reader sees the same chunk (originator as encoded_by)
            assert int(probe.metadata["time_reference"]) == expected
            assert probe.metadata["encoded_by"] == "Scorecut" and entry["name"] in probe.metadata["comment"]
    assert len(refs) == 1 + len(doc["stems"])  # one reference per file


def test_without_any_timecode_the_reference_is_midnight(server, media_root, tmp_path):
    clip = make_camera_clip(media_root / "no tc.mov", None, 2.0)
    take = score(str(clip), "--out-dir", str(tmp_path / "out"), home=tmp_path / "home", server=server)
    assert raw_bext(take / "mix.wav")["time_reference"] == 0


def test_a_front_end_that_knows_the_timeline_places_by_its_timecode(server, media_root, tmp_path):
    from scorecut.plugins.client import ClipSpec, JobOptions, ScorecutClient

    clip = make_camera_clip(media_root / "tl.mov", TC, 2.0)
    start = 3600.0 + 12.5  # the segment starts at 01:00:12:12.5 on the editor's timeline
    with ScorecutClient(server.address) as client:
        result = client.score([ClipSpec(str(clip))], JobOptions(stems=("drums",)), out_dir=tmp_path, name="tl",
                              timecode_start_s=start)
    assert raw_bext(result.folder / "drums.wav")["time_reference"] == round(start * RATE)


def test_otio_timeline_has_the_stems_and_the_plan(camera_take):
    import opentimelineio as otio

    doc = json.loads((camera_take / "score.json").read_text())
    path = camera_take / "camera.otio"
    timeline = otio.adapters.read_from_file(str(path))
    assert timeline.global_start_time.to_seconds() == pytest.approx(TC_S + 1.0, abs=1 / RATE)
    tracks = list(timeline.tracks)
    assert [t.name for t in tracks] == [s["name"] for s in doc["stems"]]
    for track, entry in zip(tracks, doc["stems"], strict=True):
        assert track.kind == otio.schema.TrackKind.Audio and len(track) == 1
        clip = track[0]
        assert clip.range_in_parent().start_time.to_seconds() == 0  # at the segment's record position
        assert clip.duration().value == entry["samples"]
        media = camera_take / clip.media_reference.target_url
        assert media.is_file() and media.name == entry["file"]
    markers = timeline.tracks.markers
    sections = [m for m in markers if m.metadata["scorecut"]["kind"] == "section"]
    bars = [m for m in markers if m.metadata["scorecut"]["kind"] == "downbeat"]
    assert len(sections) == len(doc["sections"]) >= 1 and len(bars) == len(doc["downbeats_s"]) >= 1
    for marker, t in zip(bars, doc["downbeats_s"], strict=True):
        assert marker.marked_range.start_time.to_seconds() == pytest.approx(t, abs=1 / RATE)
    first = sections[0].marked_range
    assert first.start_time.to_seconds() == pytest.approx(doc["sections"][0]["start_s"], abs=1 / RATE)
    assert first.duration.to_seconds() == pytest.approx(
        doc["sections"][0]["end_s"] - doc["sections"][0]["start_s"], abs=2 / RATE)


def test_resolve_stems_carry_the_timelines_timecode(server, tmp_path):
    """Resolve knows the timeline: the stems' TimeReference is the In mark's timeline timecode
    (the timeline starts at 01:00:00:00, frame 86400 at 24 fps)."""
    from scorecut.plugins.resolve import score_timeline
    from tests.helpers.videos import VideoSpec, make_video
    from tests.resolve_fake import FakeResolve

    video = make_video(tmp_path / "shot.mp4", VideoSpec(3.0, cuts_s=(1.2,), fps=24, seed=5))
    fake = FakeResolve((19, 1, 3))
    project = fake.create_project("Film")
    timeline = fake.create_timeline(project, "Edit", "24")
    clip = fake.import_file(project, video, start_tc="14:23:11:05")
    fake.put(timeline, clip, track=1, at=0, frames=60, source_in_frames=0)
    timeline.marks = (12, 47)  # In at 0.5 s into the timeline
    score_timeline(fake.resolve, "inout", server.address, out_dir=tmp_path / "stems", stems="drums")
    (take,) = [p for p in (tmp_path / "stems").iterdir() if p.is_dir()]
    expected = round((timeline.start + 12) / 24 * RATE)
    assert timeline.start == 86400
    assert raw_bext(take / "drums.wav")["time_reference"] == expected
