"""A take's score.mid in Resolve (the fake of the documented API, a real server on loopback).

Resolve's media pool takes only media it can play, and MIDI is not among its compatible formats;
ImportMedia returns the items it created, so a .mid gets none. The plugin offers score.mid to the
take's bin once the stems are placed, and where Resolve refuses it, keeps it beside the stems and
says where: in the progress of score_timeline and in the panel's last line.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from resolve_fake import FakeResolve
from resolve_ui_fake import Bmd, Fusion
from test_resolve import edit, media  # noqa: F401 - the shared videos fixture
from test_resolve_panel import pump

from scorecut.plugins.resolve import prepare, score_timeline
from scorecut.plugins.resolve.connect import Host
from scorecut.plugins.resolve.panel import open_panel

REFUSED = "Resolve does not import MIDI files: score.mid (the music as MIDI, for your own instruments) is beside " \
          "the stems in "


def test_the_fake_makes_no_item_for_a_midi_file_and_raises_nothing(tmp_path):
    fake = FakeResolve()
    project = fake.create_project()
    midi = tmp_path / "score.mid"
    midi.write_bytes(b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0MTrk\x00\x00\x00\x04\x00\xff\x2f\x00")
    pool = fake.resolve.GetProjectManager().GetCurrentProject().GetMediaPool()
    assert pool.ImportMedia([str(midi)]) == []
    assert project.pool.root.clips == []


def test_score_mid_is_offered_to_the_takes_bin_and_kept_beside_the_stems(server, media, tmp_path):  # noqa: F811
    fake, timeline, lay = edit(media, "25")
    progress = []
    items = score_timeline(fake.resolve, "inout", server.address, out_dir=tmp_path, seed=5, stems="drums,bass",
                           progress=lambda message, fraction: progress.append(message))
    assert len(items) == 2
    [take_bin] = fake.manager.current.pool.root.folders[0].folders
    folder = Path(take_bin.clips[0].path).parent
    midi = folder / "score.mid"
    score = json.loads((folder / "score.json").read_text())
    assert score["midi"] == {"file": "score.mid", "sha256": hashlib.sha256(midi.read_bytes()).hexdigest()}
    # Offered to the take's bin after the stems (a second import there), refused: the bin holds the stems.
    imports = [name for kind, name in fake.calls if name == "ImportMedia"]
    assert len(imports) == 2
    assert sorted(Path(c.path).name for c in take_bin.clips) == ["bass.wav", "drums.wav"]
    assert fake.manager.current.pool.current is fake.manager.current.pool.root  # the user's bin is put back
    assert any(REFUSED + str(folder) in message for message in progress), progress

    # The job says so too, for the panel and scripts.
    fake, timeline, lay = edit(media, "24")
    job = prepare(fake.resolve, "inout", server.address, out_dir=tmp_path / "again", stems="melody")
    job.run()
    [item] = job.place()
    assert job.midi is not None and job.midi.clip is None and job.midi.path == job.result.folder / "score.mid"
    assert job.midi.path.is_file() and job.midi.words() == REFUSED + str(job.result.folder)


def test_the_panel_says_where_score_mid_is(server, media, tmp_path):  # noqa: F811
    fake, timeline, lay = edit(media, "25")
    window, controller, dispatcher, timer = open_panel(Host(fake.resolve, Fusion(), Bmd()), server.address)
    items = window.GetItems()
    pump(dispatcher, window, lambda i: i["ServerStatus"].Text.startswith("Server ready"))
    items["StemsFolder"].Text = str(tmp_path / "stems")
    items["Melody"].Checked = False
    window.click("Score")
    pump(dispatcher, window, lambda i: i["Progress"].Text.startswith("Done"))
    folder = controller.job.result.folder
    assert items["Progress"].Text.endswith(f"the WAVs are in {folder}. {REFUSED}{folder}."), items["Progress"].Text
    assert (folder / "score.mid").is_file()
