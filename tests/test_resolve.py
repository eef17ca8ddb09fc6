"""Resolve plugin against the fake Resolve API and a real Scorecut server on loopback."""

from __future__ import annotations

import json
import threading
import wave
from fractions import Fraction
from pathlib import Path

import pytest
from resolve_fake import DOCUMENTED, IMPLEMENTED, FakeResolve

from scorecut.plugins.client import ServerUnavailable
from scorecut.plugins.resolve import ResolveScoreError, prepare, read_segment, score_timeline
from scorecut.plugins.resolve.connect import from_namespace
from scorecut.plugins.resolve.placement import place_stems
from tests.helpers.servers import free_port
from tests.helpers.videos import VideoSpec, make_video

STEMS = ("drums", "bass", "harmony", "melody")
RATES = ["24", "25", "29.97", "23.976"]


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    """Two short real videos shared by every test (different rates, cuts at irregular times)."""
    folder = tmp_path_factory.mktemp("resolve-media")
    return {
        "a": make_video(folder / "shot_a.mp4", VideoSpec(4.0, cuts_s=(1.3, 2.9), fps=25, seed=1)),
        "b": make_video(folder / "shot_b.mp4", VideoSpec(3.0, cuts_s=(1.1,), fps=24, seed=2)),
    }


def edit(media, fps: str, version=(19, 1, 3), drop_frame: bool = False):
    """A timeline at `fps` with two trimmed clips back to back on V1 and In/Out marks across the cut.

    Returns (fake, timeline, layout) where layout holds the relative frames the test expects.
    """
    fake = FakeResolve(version)
    project = fake.create_project("Film")
    timeline = fake.create_timeline(project, "Edit", fps, drop_frame=drop_frame)
    # Camera files: time-of-day and record-run start timecodes, as cinema cameras write them.
    a = fake.import_file(project, media["a"], start_tc="14:23:11:05")
    b = fake.import_file(project, media["b"], start_tc="01:00:00:00")
    rate = timeline.fps
    a_len, b_len = round(2.0 * rate), round(1.8 * rate)
    fake.put(timeline, a, track=1, at=0, frames=a_len, source_in_frames=10)  # trimmed head: 0.4 s
    fake.put(timeline, b, track=1, at=a_len, frames=b_len, source_in_frames=12)  # 0.5 s
    mark_in, mark_out = round(0.5 * rate), a_len + round(1.0 * rate)  # relative; Out inclusive
    timeline.marks = (mark_in, mark_out)
    return fake, timeline, dict(a_len=a_len, b_len=b_len, mark_in=mark_in, mark_out=mark_out, rate=rate)


def wav_frames(path: str) -> int:
    with wave.open(path) as w:
        return w.getnframes()


def assert_stems_placed(fake, timeline, items, start_abs: int, end_abs: int):
    assert len(items) == len(STEMS)
    assert [t.name for t in timeline.tracks["audio"]] == ["Audio 1", *STEMS]  # one new, named track per stem
    for index, stem in enumerate(STEMS, start=2):
        track = timeline.tracks["audio"][index - 1]
        assert track.subtype == "stereo"
        assert len(track.items) == 1
        item = track.items[0]
        assert (item.start, item.end) == (start_abs, end_abs), stem
        assert Path(item.media.path).name == f"{stem}.wav"
    returned = {i.GetUniqueId() for i in items}
    assert returned == {t.items[0].uid for t in timeline.tracks["audio"][1:]}
    placed = [t.items[0] for t in timeline.tracks["audio"][1:]]
    assert {i.color for i in placed} == {"Orange"}  # one take, one colour
    assert all(set(i.linked) == returned for i in placed)  # linked: they move as one


# -- the fake itself ----------------------------------------------------------------------------------

def test_fake_implements_only_documented_calls_and_refuses_others():
    for kind, names in IMPLEMENTED.items():
        assert names <= DOCUMENTED[kind], (kind, names - DOCUMENTED[kind])
    fake = FakeResolve()
    fake.create_timeline(fake.create_project(), "T", "24")
    timeline = fake.resolve.GetProjectManager().GetCurrentProject().GetCurrentTimeline()
    assert timeline.GetStartFrame() == 86400 and timeline.GetSetting("timelineFrameRate") == "24"
    for bogus in ("GetFrameRate", "GetSelectedItems", "get_start_frame", "GetInOut"):
        with pytest.raises(AttributeError):
            getattr(timeline, bogus)
    old = FakeResolve((18, 6, 6))
    old.create_timeline(old.create_project(), "T", "25")
    with pytest.raises(AttributeError):
        old.resolve.GetProjectManager().GetCurrentProject().GetCurrentTimeline().GetMarkInOut()


def test_fake_quirks_wav_fps_exclusive_end_absolute_record(tmp_path):
    fake = FakeResolve()
    project = fake.create_project()
    timeline = fake.create_timeline(project, "T", "25")
    path = tmp_path / "tone.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2), w.setsampwidth(3), w.setframerate(48000)
        w.writeframes(b"\0" * 6 * 48000 * 2)  # 2 s
    pool = fake.resolve.GetProjectManager().GetCurrentProject().GetMediaPool()
    [clip] = pool.ImportMedia([str(path)])
    assert float(clip.GetClipProperty("FPS")) == 24.0 and clip.GetClipProperty("Frames") == "48"
    assert pool.ImportMedia([str(path)]) == []  # already in this bin
    [item] = pool.AppendToTimeline([{"mediaPoolItem": clip, "startFrame": 0, "endFrame": 24, "trackIndex": 1,
                                     "recordFrame": 90000 + 10, "mediaType": 2}])
    assert (item.GetStart(), item.GetEnd()) == (90010, 90010 + 25)  # 1 s of a 24-FPS item at 25 fps
    assert timeline.start == 90000


@pytest.mark.parametrize("fps", RATES)
def test_place_stems_counts_frames_in_the_items_own_rate(tmp_path, fps):
    """WAVs longer than the segment: only endFrame (in the WAV's 24 FPS) sets the placed length."""
    fake = FakeResolve()
    project = fake.create_project()
    timeline = fake.create_timeline(project, "T", fps)
    stems = {}
    for stem in ("drums", "bass"):
        stems[stem] = tmp_path / f"{stem}.wav"
        with wave.open(str(stems[stem]), "wb") as w:
            w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000)
            w.writeframes(b"\0" * 2 * 8000 * 60)  # 60 s
    api_project = fake.resolve.GetProjectManager().GetCurrentProject()
    frames, record = 1001, timeline.start + 13  # long enough that 23.976 vs 24 is a whole frame
    items = place_stems(api_project, api_project.GetCurrentTimeline(), stems, record_frame=record, frames=frames,
                        fps=timeline.fps, job="job 1").items
    assert [(i.GetStart(), i.GetEnd()) for i in items] == [(record, record + frames)] * 2
    assert [t.name for t in timeline.tracks["audio"]] == ["Audio 1", "drums", "bass"]


# -- reading ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fps", RATES)
def test_read_inout_segment_exact(media, fps):
    fake, timeline, lay = edit(media, fps)
    segment = read_segment(fake.resolve.GetProjectManager().GetCurrentProject().GetCurrentTimeline(), "inout")
    rate = lay["rate"]
    assert segment.fps == rate
    assert (segment.start, segment.end) == (timeline.start + lay["mark_in"], timeline.start + lay["mark_out"] + 1)
    first, second = segment.clips
    assert first.path == str(media["a"]) and second.path == str(media["b"])
    assert first.source_in_s == pytest.approx(10 / 25 + float(lay["mark_in"] / rate))
    assert first.record_start_s == 0
    assert first.record_end_s == pytest.approx(float((lay["a_len"] - lay["mark_in"]) / rate))
    assert first.source_out_s - first.source_in_s == pytest.approx(first.record_end_s)
    assert second.source_in_s == pytest.approx(12 / 24)
    assert second.record_start_s == pytest.approx(first.record_end_s)
    assert second.record_end_s == pytest.approx(float((lay["mark_out"] + 1 - lay["mark_in"]) / rate))


def test_top_most_visible_item_wins_and_titles_are_see_through(media):
    fake, timeline, lay = edit(media, "24")
    project = fake.manager.current
    b = project.pool.root.clips[1]
    fake.put(timeline, b, track=2, at=40, frames=12, source_in_frames=0)  # over the cut A|B
    fake.put(timeline, None, track=2, at=0, frames=30)  # a title: no media, see-through
    fake.put(timeline, b, track=2, at=80, frames=5, enabled=False)  # disabled: hidden
    segment = read_segment(fake.resolve.GetProjectManager().GetCurrentProject().GetCurrentTimeline(), "timeline")
    spans = [(Path(c.path).stem, round(c.record_start_s * 24), round(c.record_end_s * 24)) for c in segment.clips]
    assert spans == [("shot_a", 0, 40), ("shot_b", 40, 52), ("shot_b", 52, 91)]
    assert segment.clips[1].source_in_s == pytest.approx(0.0)
    assert segment.clips[2].source_in_s == pytest.approx(12 / 24 + (52 - 48) / 24)


def test_speed_change_maps_source_linearly(media):
    fake = FakeResolve()
    project = fake.create_project()
    timeline = fake.create_timeline(project, "Fast", "25")
    clip = fake.import_file(project, media["a"])
    fake.put(timeline, clip, track=1, at=0, frames=40, source_in_frames=5, speed=1.5)
    timeline.marks = (10, 29)
    [spec] = read_segment(fake.resolve.GetProjectManager().GetCurrentProject().GetCurrentTimeline(), "inout").clips
    assert (spec.record_start_s, spec.record_end_s) == (0.0, pytest.approx(20 / 25))
    # A retimed item's speed comes from its source frames, whose end may be one frame long (this
    # item's is): within one source frame over the item.
    assert spec.source_in_s == pytest.approx(5 / 25 + 1.5 * 10 / 25, abs=1 / 25 * 10 / 40 + 1e-9)
    assert spec.source_out_s - spec.source_in_s == pytest.approx(1.5 * 20 / 25, abs=1 / 25 * 20 / 40 + 1e-9)
    assert timeline.tracks["video"][0].items[0].end_slip == 1


def test_left_offset_fallback_before_source_frames(media):
    fake, timeline, _ = edit(media, "25", version=(18, 1, 0))
    segment = read_segment(fake.resolve.GetProjectManager().GetCurrentProject().GetCurrentTimeline(), "timeline")
    assert (segment.start, segment.end) == (timeline.start, timeline.GetEndFrame())
    assert segment.clips[0].source_in_s == pytest.approx(10 / 25)
    assert segment.clips[1].source_in_s == pytest.approx(12 / 24)
    assert ("TimelineItem", "GetLeftOffset") in fake.calls


# -- the whole job against a real server ------------------------------------------------------------

@pytest.mark.parametrize("fps", RATES)
def test_score_inout_places_one_named_track_per_stem(server, media, fps, tmp_path):
    fake, timeline, lay = edit(media, fps)
    progress = []
    items = score_timeline(fake.resolve, "inout", server.address, out_dir=tmp_path, seed=3,
                           progress=lambda message, fraction: progress.append((message, fraction)))
    start, end = timeline.start + lay["mark_in"], timeline.start + lay["mark_out"] + 1
    assert_stems_placed(fake, timeline, items, start, end)
    bins = fake.manager.current.pool.root.folders
    assert [f.name for f in bins] == ["Scorecut"] and len(bins[0].folders) == 1
    job_bin = bins[0].folders[0]
    assert sorted(Path(c.path).name for c in job_bin.clips) == sorted(f"{s}.wav" for s in STEMS)
    expected_samples = float(Fraction(end - start) / lay["rate"]) * 48000
    for clip in job_bin.clips:
        assert abs(wav_frames(clip.path) - expected_samples) <= 1
    assert progress[-1][1] == 1.0 and any(0 < f < 1 for _, f in progress)
    used = {name for kind, name in fake.calls}
    assert {"AppendToTimeline", "AddTrack", "SetTrackName", "GetMarkInOut", "GetSourceStartTime"} <= used


def test_score_current_clip_under_playhead(server, media, tmp_path):
    fake, timeline, lay = edit(media, "25")
    timeline.playhead = lay["a_len"] + 5  # inside clip B
    items = score_timeline(fake.resolve, "current", server.address, out_dir=tmp_path, stems="drums,bass")
    start = timeline.start + lay["a_len"]
    assert len(items) == 2
    assert [t.name for t in timeline.tracks["audio"]] == ["Audio 1", "drums", "bass"]
    for track in timeline.tracks["audio"][1:]:
        assert [(i.start, i.end) for i in track.items] == [(start, start + lay["b_len"])]


def test_score_whole_timeline_with_drop_frame(server, media, tmp_path):
    fake, timeline, lay = edit(media, "29.97", drop_frame=True)
    timeline.marks = None
    items = score_timeline(fake.resolve, "timeline", server.address, out_dir=tmp_path, stems=["melody"])
    assert timeline.start == 107892  # 01:00:00;00 drop-frame
    [item] = items
    assert (item.GetStart(), item.GetEnd()) == (107892, 107892 + lay["a_len"] + lay["b_len"])


def test_inout_without_marks_is_the_whole_timeline(media):
    fake, timeline, lay = edit(media, "23.976")
    timeline.marks = None
    segment = read_segment(fake.resolve.GetProjectManager().GetCurrentProject().GetCurrentTimeline(), "inout")
    assert (segment.start, segment.end) == (timeline.start, timeline.start + lay["a_len"] + lay["b_len"])
    assert segment.start == 86400  # 01:00:00:00 at a nominal 24 frames per timecode second


def switched_timeline_calls(media, server, tmp_path) -> set:
    fake, timeline, lay = edit(media, "24")
    job = prepare(fake.resolve, "inout", server.address, out_dir=tmp_path, stems="harmony")
    job.run()
    other = fake.create_timeline(fake.manager.current, "Other", "24")  # the user opened another timeline
    [item] = job.place()
    assert fake.manager.current.current is timeline and other.tracks["audio"][0].items == []
    assert (item.GetStart(), item.GetEnd()) == (timeline.start + lay["mark_in"], timeline.start + lay["mark_out"] + 1)
    return set(fake.calls)


def test_stems_land_on_the_scored_timeline_after_switching(server, media, tmp_path):
    assert ("Project", "SetCurrentTimeline") in switched_timeline_calls(media, server, tmp_path)


def test_fake_has_exactly_the_calls_the_plugin_makes(server, media, tmp_path):
    """Every implemented call is one the plugin makes in some scenario; none is left unused."""
    used = set()
    fake, timeline, lay = edit(media, "25")
    score_timeline(fake.resolve, "inout", server.address, out_dir=tmp_path, stems="drums,bass")
    score_timeline(fake.resolve, "inout", server.address, out_dir=tmp_path, stems="drums,bass", replace_last=True,
                   music_markers=True)
    timeline.playhead = 3
    read_segment(fake.resolve.GetProjectManager().GetCurrentProject().GetCurrentTimeline(), "current")
    fake.faults["ignore_record_frame"] = True
    with pytest.raises(ResolveScoreError):
        score_timeline(fake.resolve, "inout", server.address, out_dir=tmp_path, stems="bass")
    from_namespace({"resolve": fake.resolve})  # inside Resolve without a `fusion` global
    used |= set(fake.calls)
    used |= switched_timeline_calls(media, server, tmp_path)
    empty = FakeResolve()
    empty.create_project("No timelines")
    with pytest.raises(ResolveScoreError, match="'No timelines' has no open timeline"):
        score_timeline(empty.resolve, "inout", server.address)
    used |= set(empty.calls)
    old, _, _ = edit(media, "25", version=(18, 1, 0))
    read_segment(old.resolve.GetProjectManager().GetCurrentProject().GetCurrentTimeline(), "timeline")
    used |= set(old.calls)
    fake, timeline, lay = edit(media, "25")
    fake.manager.current.render_jobs.append({"JobId": "1", "TargetDir": str(tmp_path / "renders")})
    prepare(fake.resolve, "inout", server.address)  # the default stems folder: beside the renders
    used |= set(fake.calls)
    implemented = {(kind, name) for kind, names in IMPLEMENTED.items() for name in names}
    assert used == implemented, (implemented - used, used - implemented)


# -- errors: clear words, nothing placed, nothing half-imported ---------------------------------------

def _fails(fake, match, *args, **kwargs):
    before = fake.snapshot()
    with pytest.raises(Exception, match=match) as info:
        score_timeline(fake.resolve, *args, **kwargs)
    assert fake.snapshot() == before
    return info.value


def test_empty_range_is_a_clear_error(server, media, tmp_path):
    fake, timeline, lay = edit(media, "24")
    timeline.marks = (200, 230)  # past the last clip
    _fails(fake, "no video with media between 01:00:08:08-01:00:09:15", "inout", server.address, out_dir=tmp_path)
    timeline.marks = (50, 40)
    _fails(fake, "range to score .* is empty", "inout", server.address, out_dir=tmp_path)
    timeline.playhead = 500
    _fails(fake, "no video clip under the playhead", "current", server.address, out_dir=tmp_path)


def test_offline_clip_is_named(server, media, tmp_path):
    fake, timeline, _ = edit(media, "24")
    gone = tmp_path / "gone.mp4"
    gone.write_bytes(media["b"].read_bytes())
    project = fake.manager.current
    clip = fake.import_file(project, gone)
    fake.put(timeline, clip, track=2, at=30, frames=10, name="Interview take 3")
    gone.unlink()
    _fails(fake, "offline .*Interview take 3.*relink", "inout", server.address, out_dir=tmp_path)


def test_unreachable_server(media, tmp_path):
    fake, _, _ = edit(media, "24")
    error = _fails(fake, "no Scorecut server answers", "inout", f"127.0.0.1:{free_port()}", out_dir=tmp_path)
    assert isinstance(error, ServerUnavailable)
    assert list(tmp_path.iterdir()) == []


def test_misplaced_stems_are_detected_and_rolled_back(server, media, tmp_path):
    fake, timeline, _ = edit(media, "24")
    fake.faults["ignore_record_frame"] = True
    error = _fails(fake, r"Resolve put the drums stem at .* instead of 01:00:00:12", "inout", server.address,
                   out_dir=tmp_path)
    assert isinstance(error, ResolveScoreError) and "stems are in" in str(error)


def test_partly_placed_stems_are_all_taken_back(server, media, tmp_path):
    fake, _, _ = edit(media, "25")
    fake.faults["append_limit"] = 2
    _fails(fake, "Resolve placed 2 of 4 stems; nothing was added", "inout", server.address, out_dir=tmp_path)


def test_cancel_before_placing_places_nothing(server, media, tmp_path):
    fake, _, _ = edit(media, "24")
    cancel = threading.Event()
    cancel.set()
    _fails(fake, "cancel", "inout", server.address, out_dir=tmp_path, cancel=cancel)


def test_unknown_option_and_scope(media, tmp_path):
    fake, _, _ = edit(media, "24")
    _fails(fake, "unknown option.*tempo", "inout", None, out_dir=tmp_path, tempo=120)
    _fails(fake, "unknown scope 'selection'", "selection", None, out_dir=tmp_path)


def test_markers_named_hit_stop_section_and_of_the_chosen_colour_become_hit_points(server, media, tmp_path):
    fake, timeline, lay = edit(media, "25")  # In at frame 12, Out at 75 inclusive: 2.56 s scored
    timeline.markers = {32: {"color": "Blue", "duration": 1, "note": "", "name": "Hit the door", "customData": ""},
                        52: {"color": "Red", "duration": 1, "note": "", "name": "boom", "customData": ""},
                        66: {"color": "Green", "duration": 1, "note": "", "name": "Section two", "customData": ""},
                        40: {"color": "Blue", "duration": 1, "note": "", "name": "check grade", "customData": ""},
                        5: {"color": "Blue", "duration": 1, "note": "", "name": "hit before In", "customData": ""}}
    job = prepare(fake.resolve, "inout", server.address, out_dir=tmp_path, seed=2, hit_marker_color="Red")
    assert job.options.hits == ((0.8, "hit"), (1.6, "hit"), (2.16, "section"))
    plain = prepare(fake.resolve, "inout", server.address, out_dir=tmp_path, seed=2)
    assert plain.options.hits == ((0.8, "hit"), (2.16, "section"))  # a red "boom" is no hit without the colour
    score_timeline(fake.resolve, "inout", server.address, out_dir=tmp_path, seed=2, hit_marker_color="Red")
    (score,) = [json.loads(p.read_text()) for p in tmp_path.rglob("score.json")]
    assert [(h["time_s"], h["kind"], h["met"]) for h in score["hits"]] == [
        (0.8, "hit", True), (1.6, "hit", True), (2.16, "section", True)]


def test_music_markers_mark_sections_and_downbeats_on_the_placed_items(server, media, tmp_path):
    fake, timeline, lay = edit(media, "25")
    items = score_timeline(fake.resolve, "inout", server.address, out_dir=tmp_path, seed=4, stems="drums,bass",
                           music_markers=True)
    (score,) = [json.loads(p.read_text()) for p in tmp_path.rglob("score.json")]
    bars = {round(t * 25) for t in score["downbeats_s"]}
    sections = {round(s["start_s"] * 25): s for s in score["sections"]}
    placed = {i.uid: i for t in timeline.tracks["audio"] for i in t.items}
    assert len(items) == 2
    for item in items:
        marks = placed[item.GetUniqueId()].markers  # frames from the item's start
        assert set(marks) == bars | set(sections) and len(bars) >= 2
        for frame, s in sections.items():
            assert marks[frame]["color"] == "Purple" and marks[frame]["name"].startswith(f"section {s['label']}")
        assert all(m["color"] == "Sky" for f, m in marks.items() if f not in sections)


def test_reroll_section_under_the_playhead_keeps_the_rest_of_the_take(server, media, tmp_path):
    import numpy as np

    from scorecut.plugins.resolve import reroll_section
    from tests.helpers.wavcheck import read_wav

    fake, timeline, lay = edit(media, "25")  # In at frame 12: 2.56 s scored
    options = dict(out_dir=tmp_path, seed=3, stems="drums", hits=((1.2, "section"),))
    score_timeline(fake.resolve, "inout", server.address, **options)
    timeline.playhead = 12 + 45  # 1.8 s into the take: its second section
    items = reroll_section(fake.resolve, 8, "inout", server.address, **options)
    first, second = sorted(tmp_path.rglob("score.json"), key=lambda p: p.stat().st_mtime)
    take, rerolled = json.loads(first.read_text()), json.loads(second.read_text())
    start, end = rerolled["reroll"]["start_s"], rerolled["reroll"]["end_s"]
    assert (start, end) == (1.2, take["sections"][-1]["end_s"]) and rerolled["reroll"]["seed"] == 8
    a, rate = read_wav(first.parent / "drums.wav")[:2]
    b = read_wav(second.parent / "drums.wav")[0]
    assert np.array_equal(a[: int((start - 0.5) * rate)], b[: int((start - 0.5) * rate)])
    assert not np.array_equal(a, b)
    assert [t.name for t in timeline.tracks["audio"]] == ["Audio 1", "drums"]  # over the take, on its track
    assert len(items) == 1
