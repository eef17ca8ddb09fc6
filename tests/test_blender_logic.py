"""The Blender add-on's plain modules (no bpy): timeline arithmetic, placement, server address."""

from __future__ import annotations

from pathlib import Path

import pytest

from scorecut.plugins.blender.placement import (
    Occupant,
    choose_channels,
    stems_to_place,
    take_name,
    takes_over,
)
from scorecut.plugins.blender.server_status import resolve_address
from scorecut.plugins.blender.strips_to_request import (
    NothingToScore,
    StripInfo,
    build_segment,
    content_rate,
    scene_fps,
    visible_pieces,
)
from scorecut.plugins.client import DEFAULT_ADDRESS

NTSC = 24000 / 1001


def movie(name, channel, start, end, frame_start=None, offset=0.0, fps=NTSC, rate=1.0) -> StripInfo:
    return StripInfo(name, f"/media/{name}.mp4", channel, start if frame_start is None else frame_start,
                     start, end, offset, fps, rate)


def test_top_most_strip_wins_where_strips_overlap_and_gaps_give_no_clip():
    low = movie("low", 1, 0, 100)
    high = movie("high", 3, 40, 60)
    later = movie("later", 1, 120, 150)
    pieces = visible_pieces([low, high, later], 0, 150)
    assert [(p.strip.name, p.start, p.end) for p in pieces] == [
        ("low", 0, 40), ("high", 40, 60), ("low", 60, 100), ("later", 120, 150)]


def test_source_seconds_follow_trims_offsets_and_the_movies_own_rate():
    # Content starts at frame 100; 12 frames trimmed by the handle, 30 cut by animation_offset_start.
    s = movie("m", 1, 112, 200, frame_start=100, offset=30)
    seg = build_segment([s], 25.0)
    (clip,) = seg.clips
    assert clip.source_in_s == pytest.approx((12 + 30) / NTSC)
    assert clip.source_out_s == pytest.approx((100 + 30) / NTSC)
    assert (clip.record_start_s, clip.record_end_s) == (0.0, pytest.approx(88 / 25))
    assert seg.first_frame == 112 and seg.frames == 88 and seg.duration_s == pytest.approx(3.52)


def test_adjusted_playback_rate_maps_timeline_frames_to_fewer_source_frames():
    rate = NTSC / 25  # the UI's "adjust playback rate": the movie plays at its own speed
    s = movie("m", 1, 0, 250, rate=rate)
    (clip,) = build_segment([s], 25.0).clips
    assert clip.source_out_s - clip.source_in_s == pytest.approx(clip.record_end_s - clip.record_start_s)


def test_content_rate_recognises_new_movie_and_adjusted_strips():
    assert content_rate(144, 0, 144, NTSC, 25.0) == 1.0
    assert content_rate(144, 0, round(144 * 25 / NTSC), NTSC, 25.0) == pytest.approx(NTSC / 25)
    assert content_rate(144, 24, 60, NTSC, 25.0) == pytest.approx(2.0)  # retimed: the average speed
    assert content_rate(0, 0, 100, NTSC, 25.0) == 1.0  # unknown media length: one to one


def test_range_scope_covers_the_range_and_clips_strips_to_it():
    s = movie("m", 1, 0, 300)
    seg = build_segment([s], scene_fps(30000, 1001), (50, 150))
    (clip,) = seg.clips
    assert seg.scene_fps == pytest.approx(29.97, abs=1e-3)
    assert clip.source_in_s == pytest.approx(50 / NTSC) and clip.record_start_s == 0.0
    assert clip.record_end_s == pytest.approx(100 / seg.scene_fps)


def test_nothing_to_score_says_what_to_do():
    with pytest.raises(NothingToScore, match="select one or more movie strips"):
        build_segment([], 25.0)
    with pytest.raises(NothingToScore, match="no movie strip is visible"):
        build_segment([movie("m", 1, 0, 10)], 25.0, (20, 40))
    with pytest.raises(ValueError, match="frame rate"):
        scene_fps(0, 1.0)


def test_channels_go_above_everything_over_the_segment_only():
    occupants = [Occupant(1, 0, 100), Occupant(2, 50, 80), Occupant(9, 500, 600)]  # channel 9 is elsewhere
    assert choose_channels(occupants, 0, 100, 4) == [3, 4, 5, 6]
    with pytest.raises(ValueError, match="no room"):
        choose_channels([Occupant(126, 0, 100)], 0, 100, 4)


def test_takes_over_a_segment_and_stem_order():
    occupants = [Occupant(3, 10, 50, "t1"), Occupant(4, 200, 250, "t2"), Occupant(1, 10, 50)]
    assert takes_over(occupants, 40, 60) == {"t1"}
    # Takes kept earlier (muted) are not the one a new take replaces; a partly muted take still plays.
    kept = [Occupant(3, 10, 50, "old", muted=True), Occupant(4, 10, 50, "last"),
            Occupant(5, 10, 50, "last", muted=True)]
    assert takes_over(kept, 0, 100) == {"last"}
    stems = {n: Path(f"{n}.wav") for n in ("melody", "bass", "drums", "harmony")}
    assert [n for n, _ in stems_to_place(stems, Path("mix.wav"), True)] == ["drums", "bass", "harmony", "melody"]
    assert stems_to_place(stems, Path("mix.wav"), False) == [("mix", Path("mix.wav"))]


def test_take_names_are_plain_folder_names():
    """The base name only: the client library's land_take makes it unique (-2, -3, ...)."""
    assert take_name("My Scene/2", 26) == "My_Scene_2_f26"
    assert take_name("///", 0) == "scene_f0"


def test_server_address_environment_beats_preferences(monkeypatch):
    monkeypatch.delenv("SCORECUT_SERVER", raising=False)
    assert resolve_address("") == DEFAULT_ADDRESS
    assert resolve_address(" 10.0.0.5:50777 ") == "10.0.0.5:50777"
    monkeypatch.setenv("SCORECUT_SERVER", "127.0.0.1:6000")
    assert resolve_address("10.0.0.5:50777") == "127.0.0.1:6000"
