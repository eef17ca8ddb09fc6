"""Resolve on real projects: camera timecode, NTSC rates and 24 fps WAVs, versions, what a timeline
holds, where stems go. Against the fake (which carries each quirk) and a real server on loopback."""

from __future__ import annotations

import math
import wave
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import test_resolve
from resolve_fake import FakeResolve
from test_resolve import edit

from scorecut.plugins.resolve import ResolveScoreError, prepare, read_segment, score_timeline
from scorecut.plugins.resolve.placement import place_stems
from scorecut.plugins.resolve.stems_folder import on_camera_card, stems_folder
from scorecut.plugins.resolve.version import ResolveVersion
from tests.helpers.videos import VideoSpec, make_video

media = test_resolve.media  # the shared media fixture, used by name as a test argument


def api_timeline(fake):
    return fake.resolve.GetProjectManager().GetCurrentProject().GetCurrentTimeline()


def write_wav(path: Path, samples: int, rate: int = 48000) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2), w.setsampwidth(2), w.setframerate(rate)
        w.writeframes(b"\0" * 4 * samples)
    return path


def write_still(path: Path) -> Path:
    with av.open(str(path), "w", format="image2") as c:
        s = c.add_stream("png")
        s.width, s.height, s.pix_fmt = 64, 48, "rgb24"
        frame = av.VideoFrame.from_ndarray(np.random.default_rng(5).integers(0, 255, (48, 64, 3), np.uint8),
                                           format="rgb24")
        for packet in [*s.encode(frame), *s.encode()]:
            c.mux(packet)
    return path


# -- camera timecode ------------------------------------------------------------------------------

def test_fake_source_time_carries_the_start_timecode(media):
    fake, timeline, _ = edit(media, "24")
    item = api_timeline(fake).GetItemListInTrack("video", 1)[0]
    assert item.GetSourceStartFrame() == 10  # file-relative
    hh, mm, ss, ff = 14, 23, 11, 5  # shot_a's Start TC at 25 fps
    assert item.GetSourceStartTime() == pytest.approx(((hh * 60 + mm) * 60 + ss) + (ff + 10) / 25)
    assert item.GetMediaPoolItem().GetClipProperty("Start TC") == "14:23:11:05"


def test_camera_clip_is_read_from_the_file_not_the_timecode(media):
    fake, timeline, lay = edit(media, "25")
    segment = read_segment(api_timeline(fake), "timeline")
    a, b = segment.clips
    assert a.source_in_s == pytest.approx(10 / 25) and b.source_in_s == pytest.approx(12 / 24)
    # The played length is the item's timeline duration, though shot_a's source end is a frame long.
    assert timeline.tracks["video"][0].items[0].end_slip == 1
    assert a.source_out_s - a.source_in_s == pytest.approx(lay["a_len"] / 25)


def test_a_start_timecode_that_disagrees_is_named(media):
    fake, _, _ = edit(media, "25")
    fake.faults["source_time_offset_frames"] = 5
    with pytest.raises(ResolveScoreError, match="two different in points for 'shot_a.mp4'.*Start TC 14:23:11:05"):
        read_segment(api_timeline(fake), "timeline")


# -- rates and the 24 fps WAV ---------------------------------------------------------------------

# Segment lengths whose exact sample count has a fraction under one half, so rounding to the
# nearest sample makes every stem a fraction of a sample short at the NTSC rates.
RATE_CASES = [("23.976", False, 77), ("25", False, 77), ("29.97", True, 77), ("59.94", False, 149)]


@pytest.mark.parametrize("fps, drop, frames", RATE_CASES)
def test_stems_fill_the_segment_at_every_rate(server, media, tmp_path, fps, drop, frames):
    fake = FakeResolve()
    project = fake.create_project("Film")
    timeline = fake.create_timeline(project, "Edit", fps, drop_frame=drop)
    clip = fake.import_file(project, media["a"], start_tc="09:59:50:00")
    fake.put(timeline, clip, track=1, at=0, frames=frames + 20, source_in_frames=3)
    timeline.marks = (7, 7 + frames - 1)
    items = score_timeline(fake.resolve, "inout", server.address, out_dir=tmp_path, stems="drums,bass", seed=1)
    start = timeline.start + 7
    assert [(i.GetStart(), i.GetEnd()) for i in items] == [(start, start + frames)] * 2
    exact = Fraction(frames) / timeline.fps * 48000
    for item in items:
        with wave.open(item.GetMediaPoolItem().GetClipProperty("File Path")) as w:
            assert w.getnframes() == math.ceil(exact)  # at least the segment: never a sample short


def test_a_wav_a_sample_short_is_placed_a_frame_short_not_rolled_back(tmp_path):
    fake = FakeResolve()
    project = fake.create_project()
    timeline = fake.create_timeline(project, "T", "29.97", drop_frame=True)
    frames = 77
    exact = Fraction(frames) / timeline.fps * 48000  # 123323.2 samples
    short = write_wav(tmp_path / "short.wav", math.floor(exact))
    long = write_wav(tmp_path / "long.wav", math.floor(exact) + 48000)
    api = fake.resolve.GetProjectManager().GetCurrentProject()
    record = timeline.start + 100
    items = place_stems(api, api.GetCurrentTimeline(), {"short": short, "long": long}, record_frame=record,
                        frames=frames, fps=timeline.fps, job="take",
                        lengths_s={"short": Fraction(math.floor(exact), 48000),
                                   "long": Fraction(math.floor(exact) + 48000, 48000)}).items
    assert [(i.GetStart(), i.GetEnd()) for i in items] == [(record, record + frames - 1), (record, record + frames)]


# -- versions -------------------------------------------------------------------------------------

def test_before_19_1_in_out_says_what_is_needed(media):
    fake, _, _ = edit(media, "25", version=(19, 0, 2))
    assert ResolveVersion((19, 0, 2)).has_marks is False
    with pytest.raises(ResolveScoreError, match=r"Resolve 19\.0\.2 does not tell scripts where the In/Out marks.*"
                                                r"19\.1 or newer"):
        prepare(fake.resolve, "inout", None, out_dir="/nonexistent")


def test_before_19_1_end_frame_is_inclusive(server, media, tmp_path):
    fake, timeline, lay = edit(media, "24", version=(19, 0, 2))
    items = score_timeline(fake.resolve, "timeline", server.address, out_dir=tmp_path, stems="melody")
    whole = (timeline.start, timeline.start + lay["a_len"] + lay["b_len"])
    assert [(i.GetStart(), i.GetEnd()) for i in items] == [whole]
    assert ("Resolve", "GetVersion") in fake.calls


# -- what the timeline holds ----------------------------------------------------------------------

def test_stills_and_freeze_frames_are_held_pictures(server, media, tmp_path):
    fake = FakeResolve()
    project = fake.create_project("Film")
    timeline = fake.create_timeline(project, "Edit", "25")
    shot = fake.import_file(project, media["b"], start_tc="07:00:00:00")
    still = fake.import_file(project, write_still(tmp_path / "title card.png"))
    fake.put(timeline, shot, track=1, at=0, frames=30, source_in_frames=4)
    fake.put(timeline, still, track=1, at=30, frames=50)  # 2 s of one picture
    fake.put(timeline, shot, track=1, at=80, frames=40, source_in_frames=12, freeze=True)
    segment = read_segment(api_timeline(fake), "timeline")
    held = [(Path(c.path).name, c.source_in_s, c.source_out_s, c.record_start_s, c.record_end_s)
            for c in segment.clips[1:]]
    assert held == [("title card.png", 0.0, pytest.approx(1 / 25), pytest.approx(30 / 25), pytest.approx(80 / 25)),
                    ("shot_b.mp4", pytest.approx(12 / 24), pytest.approx(13 / 24), pytest.approx(80 / 25),
                     pytest.approx(120 / 25))]
    items = score_timeline(fake.resolve, "timeline", server.address, out_dir=tmp_path / "out", stems="drums")
    assert [(i.GetStart(), i.GetEnd()) for i in items] == [(timeline.start, timeline.start + 120)]


@pytest.mark.parametrize("kind", ["Compound", "Multicam", "Fusion"])
def test_clips_without_a_file_are_named(media, kind):
    fake, timeline, _ = edit(media, "24")
    nested = fake.nested_clip(fake.manager.current, f"Scene 4 {kind.lower()}", kind)
    fake.put(timeline, nested, track=2, at=20, frames=10)
    with pytest.raises(ResolveScoreError, match=rf"have none: 'Scene 4 {kind.lower()}' \({kind}\)\. Decompose"):
        read_segment(api_timeline(fake), "timeline")
    # Outside the range it does not matter.
    timeline.marks = (40, 50)
    assert [Path(c.path).name for c in read_segment(api_timeline(fake), "inout").clips] == ["shot_a.mp4", "shot_b.mp4"]


def test_clip_at_another_rate_keeps_its_own(media, tmp_path):
    fake = FakeResolve()
    project = fake.create_project()
    timeline = fake.create_timeline(project, "T", "23.976")
    video = make_video(tmp_path / "five_nine.mp4", VideoSpec(3.0, fps=Fraction(60000, 1001), seed=4))
    clip = fake.import_file(project, video, start_tc="12:00:00;00")
    fake.put(timeline, clip, track=1, at=0, frames=48, source_in_frames=90)  # 90 frames at 59.94 = 1.5015 s
    [spec] = read_segment(api_timeline(fake), "timeline").clips
    assert spec.source_in_s == pytest.approx(90 * 1001 / 60000)
    assert spec.source_out_s - spec.source_in_s == pytest.approx(48 * 1001 / 24000)


# -- where stems go ---------------------------------------------------------------------------------

def test_stems_folder_beside_renders_never_on_a_card(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    fake = FakeResolve()
    project = fake.create_project()
    api = fake.resolve.GetProjectManager().GetCurrentProject()
    assert stems_folder(api).parent.parent == tmp_path / "home"  # no renders yet: ~/Videos or ~/Movies
    project.render_jobs.append({"JobId": "1", "TargetDir": str(tmp_path / "Deliveries")})
    assert stems_folder(api) == tmp_path / "Deliveries" / "Scorecut Stems"
    card = tmp_path / "A001" / "PRIVATE" / "M4ROOT" / "CLIP"
    project.render_jobs.append({"JobId": "2", "TargetDir": str(card)})
    assert stems_folder(api).parent.parent == tmp_path / "home"
    assert stems_folder(api, tmp_path / "mine") == tmp_path / "mine"
    with pytest.raises(ResolveScoreError, match="inside a camera card"):
        stems_folder(api, tmp_path / "CARD" / "CONTENTS" / "CLIP")
    assert not on_camera_card(tmp_path / "Project" / "Clips")


def test_a_new_take_replaces_the_last_takes_tracks(server, media, tmp_path):
    fake, timeline, lay = edit(media, "25")
    first = score_timeline(fake.resolve, "timeline", server.address, out_dir=tmp_path, stems="drums,bass", seed=1)
    tracks_before = [t.name for t in timeline.tracks["audio"]]
    start, end = timeline.start + lay["mark_in"], timeline.start + lay["mark_out"] + 1
    second = score_timeline(fake.resolve, "inout", server.address, out_dir=tmp_path, stems="drums,bass", seed=2,
                            replace_last=True)
    assert [t.name for t in timeline.tracks["audio"]] == tracks_before == ["Audio 1", "drums", "bass"]
    for track, new in zip(timeline.tracks["audio"][1:], second, strict=False):
        assert [(i.start, i.end) for i in track.items] == [(start, end)]  # the first take's item gave way
        assert track.items[0].uid == new.GetUniqueId()
    assert {i.GetUniqueId() for i in first}.isdisjoint({i.uid for t in timeline.tracks["audio"] for i in t.items})
    # A failed replacement puts the last take back as it was.
    before = fake.snapshot()
    fake.faults["append_limit"] = 1
    with pytest.raises(ResolveScoreError, match="placed 1 of 2"):
        score_timeline(fake.resolve, "inout", server.address, out_dir=tmp_path, stems="drums,bass", seed=3,
                       replace_last=True)
    assert fake.snapshot() == before
