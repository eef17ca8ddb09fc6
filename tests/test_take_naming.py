"""Every front end lands takes through the client library's one `land_take`, by one naming policy.

The same cases run against land_take itself and against each front end's own path to it: the
`scorecut` command, the watch folder, Blender's job runner (plain Python, no bpy needed) and
Resolve's job (against the fake Resolve). A request here differs from another by its seed.
Also: replacement is an atomic exchange or a journal the next landing completes, and hidden
folders of killed runs are swept, never those of running ones.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scorecut.plugins.client import landing
from scorecut.plugins.client.landing import land_take, make_partial_folder, sweep
from tests.helpers.servers import isolated_env
from tests.helpers.videos import VideoSpec, make_video

SEEDS = {"A": 11, "B": 12, "C": 13}
# (request, where its take lands relative to the base name): the one naming policy in order.
CASES = (
    ("A", ""),  # the first take takes the name
    ("A", ""),  # the same request replaces its own take (the music is the same)
    ("B", "-2"),  # a different request never replaces an earlier take
    ("A", ""),  # ... and each request keeps finding its own
    ("B", "-2"),
    ("C", "-3"),
)


def visible(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


def check_naming_cases(score, out_dir: Path, base: str) -> None:
    """score(request label) runs the front end's job and returns the folder its take landed in."""
    for step, (label, suffix) in enumerate(CASES):
        folder = score(label)
        assert folder == out_dir / f"{base}{suffix}", (label, folder)
        assert visible(out_dir) == sorted({f"{base}{s}" for _, s in CASES[: step + 1]})
    for label, suffix in {("A", ""), ("B", "-2"), ("C", "-3")}:  # each take is its request's
        score_json = json.loads((out_dir / f"{base}{suffix}" / "score.json").read_text())
        assert score_json["seed"] == SEEDS[label]
    assert not [p for p in out_dir.iterdir() if p.name.startswith(".")]  # nothing hidden left


# -- land_take itself --------------------------------------------------------------------------
def _draft(out_dir: Path, name: str, request: dict) -> Path:
    draft = make_partial_folder(out_dir, name)
    (draft / "score.json").write_text(json.dumps({"seed": request["seed"], "request": request}))
    return draft


def test_land_take_follows_the_naming_cases(tmp_path):
    def score(label: str) -> Path:
        request = {"clips": ["a.mp4"], "seed": SEEDS[label]}
        return land_take(_draft(tmp_path, "a", request), tmp_path, "a", request=request).folder

    check_naming_cases(score, tmp_path, "a")


def test_replace_lands_at_the_name_whatever_it_holds(tmp_path):
    first = land_take(_draft(tmp_path, "t", {"seed": 1}), tmp_path, "t", request={"seed": 1})
    second = land_take(_draft(tmp_path, "t", {"seed": 2}), tmp_path, "t", request={"seed": 2}, replace=True)
    assert first.folder == second.folder == tmp_path / "t" and second.replaced and not first.replaced
    assert json.loads((tmp_path / "t" / "score.json").read_text())["seed"] == 2
    assert visible(tmp_path) == ["t"] and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_names_that_are_paths_or_hidden_are_refused(tmp_path):
    for bad in ("", ".", "..", "a/b", ".hidden", "a\\b"):
        with pytest.raises(ValueError):
            land_take(tmp_path, tmp_path, bad)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="renameat2 is Linux's")
def test_replacement_is_one_exchange_on_linux(tmp_path, monkeypatch):
    land_take(_draft(tmp_path, "t", {"seed": 1}), tmp_path, "t", request={"seed": 1})
    draft = _draft(tmp_path, "t", {"seed": 2})
    new_inode = draft.stat().st_ino
    renames = []
    rename = os.rename
    monkeypatch.setattr(os, "rename", lambda a, b: (renames.append((a, b)), rename(a, b)))
    landed = land_take(draft, tmp_path, "t", request={"seed": 2}, replace=True)
    assert renames == []  # no two-step move aside: one renameat2 exchange
    assert landed.replaced and landed.folder.stat().st_ino == new_inode  # the draft itself took the name
    assert not draft.exists() and visible(tmp_path) == ["t"]


def test_without_exchange_a_journal_makes_the_replacement_recoverable(tmp_path, monkeypatch):
    monkeypatch.setattr(landing, "_exchange", lambda a, b: False)
    land_take(_draft(tmp_path, "t", {"seed": 1}), tmp_path, "t", request={"seed": 1})
    landed = land_take(_draft(tmp_path, "t", {"seed": 2}), tmp_path, "t", request={"seed": 2}, replace=True)
    assert landed.replaced and json.loads((landed.folder / "score.json").read_text())["seed"] == 2
    assert [p.name for p in tmp_path.iterdir()] == ["t"]  # journal and old take gone

    # A run killed between its two renames: the old take moved aside, the new one not yet in place.
    dead = _dead_pid()
    new = tmp_path / f".t.{dead}.0000.partial"
    old = tmp_path / f".t.{dead}.0000.old"
    shutil.copytree(landed.folder, new)
    (new / "score.json").write_text(json.dumps({"seed": 3}))
    os.rename(landed.folder, old)
    (tmp_path / f".t.{dead}.0000.landing").write_text(json.dumps({"final": "t", "new": new.name, "old": old.name}))
    assert sweep(tmp_path) >= 1
    assert [p.name for p in tmp_path.iterdir()] == ["t"]  # the next run completed it
    assert json.loads((tmp_path / "t" / "score.json").read_text())["seed"] == 3


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid  # exited and reaped: no process has it (until the system reuses it)


def test_sweep_removes_what_killed_runs_left_and_keeps_running_ones(tmp_path):
    dead = _dead_pid()
    (tmp_path / f".t.{dead}.abcd.partial").mkdir()
    (tmp_path / f".t.{dead}.abcd.partial" / "mix.wav").write_bytes(b"half")
    (tmp_path / f".u.{dead}.abcd.old").mkdir()
    running = make_partial_folder(tmp_path, "v")  # this process: a job still writing
    (tmp_path / ".not-ours").mkdir()  # not of our form: left alone
    assert sweep(tmp_path) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([running.name, ".not-ours"])


# -- each front end ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def naming_video(media_root) -> Path:
    return make_video(media_root / "naming.mp4", VideoSpec(2.0, cuts_s=(0.9,), seed=71))


def test_the_command_follows_the_naming_cases(server, naming_video, tmp_path):
    out = tmp_path / "scored"

    def score(label: str) -> Path:
        proc = subprocess.run([sys.executable, "-m", "scorecut.cli.main", "score", str(naming_video),
                               "--seed", str(SEEDS[label]), "--out-dir", str(out), "--server", server.address],
                              capture_output=True, text=True, env=isolated_env(tmp_path / "home"), timeout=300)
        assert proc.returncode == 0, proc.stderr
        return Path(proc.stdout.strip().splitlines()[-1])

    check_naming_cases(score, out, "naming")


def test_the_watch_folder_follows_the_naming_cases(server, naming_video, tmp_path):
    from scorecut.plugins.watchfolder.watcher import Watcher, WatchSettings

    folder = tmp_path / "drop"
    folder.mkdir()
    video = folder / "naming.mp4"
    shutil.copy(naming_video, video)

    def score(label: str) -> Path:
        # The request is the file and its options; a fresh watch state (its journal gone) scores
        # what is there again, so the same request comes back to the same folder.
        (folder / "naming.mp4.scorecut.toml").write_text(f"seed = {SEEDS[label]}\n")
        shutil.rmtree(folder / ".scorecut", ignore_errors=True)
        watcher = Watcher(WatchSettings(folder, server.address, once=True, stable_s=0.0, poll_s=0.05))
        assert watcher.run() == 0
        assert watcher.jobs_run == 1
        landed = [f for f in (folder / "scored").iterdir()
                  if json.loads((f / "score.json").read_text())["seed"] == SEEDS[label]]
        assert len(landed) == 1
        return landed[0]

    check_naming_cases(score, folder / "scored", "naming")


def test_blender_job_runner_follows_the_naming_cases(server, naming_video, tmp_path):
    from scorecut.plugins.blender.job_runner import FINISHED, JobRequest, JobRunner
    from scorecut.plugins.blender.placement import take_name
    from scorecut.plugins.client import ClipSpec, JobOptions

    def score(label: str) -> Path:
        request = JobRequest(address=server.address, clips=(ClipSpec(str(naming_video), 0.0, 2.0, 0.0, 2.0),),
                             options=JobOptions(seed=SEEDS[label]), duration_s=2.0, out_dir=tmp_path,
                             name=take_name("Scene", 1))
        state = JobRunner(request).start().wait(timeout=300)
        assert state.state == FINISHED, state.message
        return state.result.folder

    check_naming_cases(score, tmp_path, "Scene_f1")


def test_resolve_job_follows_the_naming_cases(server, naming_video, tmp_path):
    from resolve_fake import FakeResolve

    from scorecut.plugins.resolve import prepare

    fake = FakeResolve((19, 1, 3))
    project = fake.create_project("Film")
    timeline = fake.create_timeline(project, "Edit", "25")
    clip = fake.import_file(project, naming_video, start_tc="01:00:00:00")
    fake.put(timeline, clip, track=1, at=0, frames=50, source_in_frames=0)
    out = tmp_path / "stems"
    out.mkdir()
    names = []

    def score(label: str) -> Path:
        job = prepare(fake.resolve, "timeline", server.address, out_dir=out, seed=SEEDS[label])
        names.append(job.name)
        return job.run().folder

    check_naming_cases(score, out, _resolve_base(fake, out, server))
    assert len(set(names)) == 1  # Resolve asks for one base name; land_take chose the folder


def _resolve_base(fake, out: Path, server) -> str:
    from scorecut.plugins.resolve import prepare

    return prepare(fake.resolve, "timeline", server.address, out_dir=out).name
