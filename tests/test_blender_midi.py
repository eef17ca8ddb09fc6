"""Blender, real bpy 5.0.1 against a real server: a take's score.mid is kept in the take's folder
beside its WAVs (Blender's sequencer cannot play MIDI) and shown to the user: on every placed strip
(a custom property, the Strip tab's Custom Properties), in the report, in the Scorecut panel with
an Open Take Folder button."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import mido
import pytest
from test_blender import bpy_python, extension_zip, run_driver  # noqa: F401 - the shared fixtures

from scorecut.plugins.client import take_midi
from tests.helpers.videos import VideoSpec, make_video

pytestmark = pytest.mark.blender


def test_take_midi_is_a_file_of_the_takes_own_folder(tmp_path):
    (tmp_path / "score.mid").write_bytes(b"MThd")
    assert take_midi(tmp_path, {"midi": {"file": "score.mid"}}) == tmp_path / "score.mid"
    assert take_midi(tmp_path, {}) is None  # a model that writes no MIDI
    assert take_midi(tmp_path, {"midi": {"file": "gone.mid"}}) is None
    assert take_midi(tmp_path, {"midi": {"file": "../score.mid"}}) is None  # never a path out of the take
    assert take_midi(tmp_path, {"midi": {"file": str(tmp_path / "score.mid")}}) is None


def test_score_mid_is_kept_in_the_takes_folder_and_shown(bpy_python, extension_zip, tmp_path, server,  # noqa: F811
                                                        media_root):
    video = make_video(media_root / "blender-midi.mp4", VideoSpec(4.0, cuts_s=(1.6,), fps=25, seed=21))
    blend = tmp_path / "project" / "edit.blend"
    blend.parent.mkdir()
    facts = run_driver(bpy_python, "bl_midi", {"zip": str(extension_zip), "video": str(video), "blend": str(blend)},
                       tmp_path, server.address)
    assert facts["result"] == ["FINISHED"], facts["reports"]
    folder = Path(facts["folder"])
    midi = folder / "score.mid"
    assert folder.parent == blend.parent / "scorecut" and facts["job_midi"] == str(midi)

    # The file is the server's: score.json names it with its hash, and it holds the take's notes.
    score = json.loads((folder / "score.json").read_text())
    assert score["midi"] == {"file": "score.mid", "sha256": hashlib.sha256(midi.read_bytes()).hexdigest()}
    song = mido.MidiFile(str(midi))
    assert sum(1 for m in mido.merge_tracks(song.tracks) if m.type == "note_on" and m.velocity) > 8
    assert song.length == pytest.approx(score["duration_s"], abs=0.5)

    # Every placed strip names it, relative to the .blend so the project can move; it is the take's file.
    sounds = [s for s in facts["strips"] if s["type"] == "SOUND"]
    assert len(sounds) == 4 and {Path(s["wav"]).parent for s in sounds} == {folder}
    assert {s["midi"] for s in sounds} == {f"//scorecut/{folder.name}/score.mid"}
    assert {Path(p).resolve() for p in facts["midi_abspaths"]} == {midi.resolve()}

    # The report says where it is; the panel shows it and a button to open the folder.
    level, message = facts["reports"][-1]
    assert level == "INFO" and "placed 4 strip(s)" in message and str(midi) in message
    panel = [tuple(e) for e in facts["panel"]]
    assert ("label", f"MIDI: {folder.name}/score.mid") in panel, panel
    assert ("operator", "sequencer.scorecut_open_take_folder", "Open Take Folder") in panel
    before = [tuple(e) for e in facts["before_panel"]]
    assert not any(e[0] == "operator" and e[1] == "sequencer.scorecut_open_take_folder" for e in before)
    assert facts["open_before"] is False and facts["open_poll"] is True
    assert facts["open_result"] == ["FINISHED"]  # background mode: it says where the folder is

    # As one meta strip, the meta strip and the sounds in it name the new take's file.
    meta_folder = Path(facts["meta_folder"])
    metas = [s for s in facts["meta"] if s["type"] == "META"]
    assert len(metas) == 1 and metas[0]["midi"] == f"//scorecut/{meta_folder.name}/score.mid"
    # Its folder removed: refused in words, nothing opened.
    assert f"the take's folder {meta_folder} is gone; score again" in facts["open_gone"], facts["open_gone"]
