"""The free edition's Lua script (plugins/resolve/lua/Scorecut.lua), run by a real LuaJIT against the
Lua port of the Resolve fake (tests/resolve_lua/), scoring through this Python's
`scorecut.plugins.resolve.segment_job` on a real server on loopback.

LuaJIT: `apt-get install -y luajit`. Without it these tests skip, saying so, unless
SCORECUT_REQUIRE_LUAJIT is set (CI sets it): then they fail.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import wave
from fractions import Fraction
from pathlib import Path

import pytest

from tests.helpers.servers import REPO
from tests.helpers.videos import VideoSpec, make_video

LUAJIT = shutil.which("luajit")
CASE_RUNNER = REPO / "tests" / "resolve_lua" / "run_case.lua"


@pytest.fixture(scope="module")
def luajit() -> str:
    if LUAJIT:
        return LUAJIT
    message = "luajit is not installed (apt-get install -y luajit): the free edition's Lua script is not tested"
    if os.environ.get("SCORECUT_REQUIRE_LUAJIT"):
        pytest.fail(message + ", and SCORECUT_REQUIRE_LUAJIT is set")
    pytest.skip(message)


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("lua-media")
    return {"a": make_video(folder / "A001C003.mp4", VideoSpec(4.0, cuts_s=(1.3, 2.9), fps=25, seed=11)),
            "b": make_video(folder / "A002C001.mp4", VideoSpec(3.0, cuts_s=(1.1,), fps=24, seed=12))}


def lua(value) -> str:
    """A Lua literal of a JSON-like value."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "{" + ", ".join(lua(v) for v in value) + "}"
    return "{" + ", ".join(f"[{json.dumps(k)}] = {lua(v)}" for k, v in value.items()) + "}"


def run_case(luajit: str, tmp_path: Path, fake: dict, server: str, again: dict | None = None, **config) -> dict:
    tmp_path.mkdir(parents=True, exist_ok=True)
    case = tmp_path / "case.lua"
    settings = {"python": sys.executable, "server": server, "scope": "inout", "stems": ["drums", "bass"],
                "stems_folder": str(tmp_path / "stems"), "seed": 4, **config}
    second = {**settings, **again} if again is not None else None
    case.write_text(f"return {lua({'fake': fake, 'config': settings, 'again': second})}\n")
    out = tmp_path / "out.json"
    done = subprocess.run([luajit, str(CASE_RUNNER), str(REPO), str(case), str(out)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "HOME": str(tmp_path / "home")})
    assert done.returncode == 0 and out.exists(), done.stderr + done.stdout
    return json.loads(out.read_text())


def camera_edit(shots, fps: str, drop: bool = False, version=(19, 1, 3)) -> dict:
    """Two camera clips (time-of-day start timecodes) back to back, In/Out across the cut."""
    rate = Fraction(round(float(fps) * 1.001) * 1000, 1001) if "." in fps else Fraction(fps)
    a_len, b_len = round(2.0 * rate), round(1.8 * rate)
    return {"version": list(version), "fps": fps, "drop": drop, "marks": [round(0.5 * rate), a_len + round(1.0 * rate)],
            "media": [{"path": str(shots["a"]), "fps": "25", "frames": 100, "start_tc": "14:23:11:05"},
                      {"path": str(shots["b"]), "fps": "24", "frames": 72, "start_tc": "01:00:00:00"}],
            "items": [{"track": 1, "media": 1, "at": 0, "frames": a_len, "source_in": 10},
                      {"track": 1, "media": 2, "at": a_len, "frames": b_len, "source_in": 12}],
            "_rate": rate, "_a_len": a_len, "_b_len": b_len}


def clean(edit: dict) -> dict:
    return {k: v for k, v in edit.items() if not k.startswith("_")}


@pytest.mark.parametrize("fps, drop", [("23.976", False), ("25", False), ("29.97", True), ("59.94", False)])
def test_lua_scores_camera_clips_and_places_linked_stems(luajit, shots, server, tmp_path, fps, drop):
    edit = camera_edit(shots, fps, drop)
    facts = run_case(luajit, tmp_path, clean(edit), server.address)
    assert facts["ok"], facts["error"]
    mark_in, mark_out = edit["marks"]
    start, end = facts["start"] + mark_in, facts["start"] + mark_out + 1
    assert [t["name"] for t in facts["tracks"]] == ["Audio 1", "drums", "bass"]
    for track in facts["tracks"][1:]:
        [item] = track["items"]
        assert (item["start"], item["stop"]) == (start, end)  # frame-exact: at least the segment, trimmed to it
        assert item["color"] == "Orange" and item["linked"] == 2
        with wave.open(item["path"]) as w:
            assert w.getnframes() >= (end - start) / edit["_rate"] * 48000  # never a sample short
    # The job was read from the files' own frames, not the camera timecode: the server accepted it.
    job = json.loads((Path(facts["tracks"][1]["items"][0]["path"]).parent / "score.json").read_text())
    assert job["duration_s"] == pytest.approx(float((end - start) / edit["_rate"]), abs=1e-4)
    assert any("%" in line for line in facts["console"]) and facts["console"][-1].startswith("done: 2 stems")
    assert "TimelineItem.GetSourceStartFrame" in facts["calls"]


def test_lua_before_19_1_says_what_in_out_needs_and_places_the_whole_timeline(luajit, shots, server, tmp_path):
    edit = camera_edit(shots, "25", version=(19, 0, 2))
    facts = run_case(luajit, tmp_path, clean(edit), server.address)
    assert not facts["ok"] and "Resolve 19.0.2 does not tell scripts where the In/Out marks are" in facts["error"]
    assert facts["console"] == [facts["error"]] and len(facts["tracks"]) == 1
    facts = run_case(luajit, tmp_path / "whole", clean(edit), server.address, scope="timeline", stems=["melody"])
    assert facts["ok"], facts["error"]
    [item] = facts["tracks"][1]["items"]  # endFrame inclusive before 19.1: still frame-exact
    assert (item["start"], item["stop"]) == (facts["start"], facts["start"] + edit["_a_len"] + edit["_b_len"])


def test_lua_names_clips_without_a_file_and_holds_stills(luajit, shots, server, tmp_path):
    edit = camera_edit(shots, "25")
    edit["media"].append({"path": "", "name": "Scene 4", "fps": "25", "frames": 250, "kind": "Compound"})
    edit["items"].append({"track": 2, "media": 3, "at": 20, "frames": 10})
    facts = run_case(luajit, tmp_path, clean(edit), server.address)
    assert not facts["ok"] and "these clips have none: 'Scene 4' (Compound). Decompose" in facts["error"]
    assert len(facts["tracks"]) == 1 and facts["bins"] == []  # nothing placed, nothing imported

    edit = camera_edit(shots, "25")
    edit["items"][1]["freeze"] = True  # B held on its frame 12
    facts = run_case(luajit, tmp_path / "freeze", clean(edit), server.address, stems=["drums"])
    assert facts["ok"], facts["error"]


def test_lua_a_failed_placement_takes_everything_back(luajit, shots, server, tmp_path):
    edit = camera_edit(shots, "29.97", drop=True)
    edit["faults"] = {"append_limit": 1}
    facts = run_case(luajit, tmp_path, clean(edit), server.address)
    assert not facts["ok"] and "Resolve placed 1 of 2 stems; nothing was added" in facts["error"]
    assert [t["name"] for t in facts["tracks"]] == ["Audio 1"] and facts["bins"] == []


def test_lua_a_new_take_replaces_the_last_takes_tracks(luajit, shots, server, tmp_path):
    edit = camera_edit(shots, "25")
    facts = run_case(luajit, tmp_path, clean(edit), server.address, scope="timeline",
                     again={"seed": 9, "scope": "inout"})
    assert facts["ok"], facts["error"]
    mark_in, mark_out = edit["marks"]
    assert [t["name"] for t in facts["tracks"]] == ["Audio 1", "drums", "bass"]
    for track in facts["tracks"][1:]:
        [item] = track["items"]  # the first take's item gave way to the second's
        assert (item["start"], item["stop"]) == (facts["start"] + mark_in, facts["start"] + mark_out + 1)
        assert item["linked"] == 2 and item["color"] == "Orange"
    assert len(facts["bins"][0]["takes"]) == 2  # both takes stay in the media pool
    facts = run_case(luajit, tmp_path / "keep", clean(edit), server.address, scope="timeline",
                     again={"seed": 9, "replace_last": False})
    assert [t["name"] for t in facts["tracks"]] == ["Audio 1", "drums", "bass", "drums", "bass"]


def test_lua_markers_named_hit_stop_section_in_the_range_become_hit_points(luajit, shots, server, tmp_path):
    edit = camera_edit(shots, "25")  # In at frame 12, Out at 75 (inclusive): 2.56 s scored
    edit["markers"] = [{"frame": 12 + 20, "name": "hit the door"}, {"frame": 12 + 40, "name": "Section B"},
                       {"frame": 12 + 30, "name": "note to self"}, {"frame": 5, "name": "hit before the In"},
                       {"frame": 76, "name": "stop after the Out"}]
    facts = run_case(luajit, tmp_path, clean(edit), server.address, stems=["drums"])
    assert facts["ok"], facts["error"]
    assert "Timeline.GetMarkers" in facts["calls"]
    score = json.loads((Path(facts["tracks"][1]["items"][0]["path"]).parent / "score.json").read_text())
    assert [(h["time_s"], h["kind"]) for h in score["hits"]] == [(0.8, "hit"), (1.6, "section")]
    assert all(h["met"] for h in score["hits"]), score["hits"]


def test_segment_job_refuses_markers_that_are_not_a_list_in_words(tmp_path):
    from scorecut.plugins.resolve.segment_job import run

    job = tmp_path / "job.json"
    job.write_text(json.dumps({"out_dir": str(tmp_path), "name": "x", "duration_s": 2.0, "markers": "hit at 1",
                               "clips": [{"path": "a.mp4", "source_in_s": 0, "source_out_s": 2,
                                          "record_start_s": 0, "record_end_s": 2}]}))
    out = tmp_path / "out.txt"
    with out.open("w") as f:
        assert run(job, f) == 1
    assert out.read_text().startswith("error the job file's markers are not a list of {time_s, name}")


def test_lua_offers_score_mid_to_the_takes_bin_and_says_where_it_is_kept(luajit, shots, server, tmp_path):
    edit = camera_edit(shots, "25")
    facts = run_case(luajit, tmp_path, clean(edit), server.address, stems=["drums"])
    assert facts["ok"], facts["error"]
    folder = Path(facts["tracks"][1]["items"][0]["path"]).parent
    midi = folder / "score.mid"
    score = json.loads((folder / "score.json").read_text())
    assert score["midi"]["file"] == "score.mid" and midi.is_file()
    # The stems' import, then score.mid's: Resolve makes no item for MIDI, so the bin holds the stem alone.
    assert facts["imports"] == 2
    assert [Path(p).name for p in facts["take_clips"]] == ["drums.wav"]
    assert facts["console"][-1].startswith("done: 1 stems")
    assert facts["console"][-1].endswith(
        "; Resolve does not import MIDI files: score.mid (the music as MIDI, for your own instruments) is beside "
        f"the stems in {folder}"), facts["console"][-1]


def test_segment_job_names_the_takes_score_mid_before_done(server, shots, tmp_path):
    from scorecut.plugins.resolve.segment_job import run

    job = tmp_path / "job.json"
    job.write_text(json.dumps({"server": server.address, "out_dir": str(tmp_path / "stems"), "name": "take",
                               "duration_s": 2.0, "options": {"stems": ["bass"], "seed": 2},
                               "clips": [{"path": str(shots["a"]), "source_in_s": 0.4, "source_out_s": 2.4,
                                          "record_start_s": 0.0, "record_end_s": 2.0}]}))
    out = tmp_path / "out.txt"
    with out.open("w") as f:
        assert run(job, f) == 0
    lines = out.read_text().splitlines()
    folder = (tmp_path / "stems" / "take").resolve()
    assert lines[-2:] == [f"midi {folder / 'score.mid'}", f"done {folder}"]
