"""`scorecut batch DIR --ray ADDRESS`: each video scored once, and a killed driver resumes.

One Ray head of the module's own on loopback (2 CPUs, `ray start --block`, ended at the end), so a
driver killed with SIGKILL leaves no Ray processes behind. Timeouts are generous (a loaded 2-core
machine starts Ray and its replicas in tens of seconds).
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("ray.serve", reason="Ray Serve is the `ray` extra: pip install 'scorecut[ray]'")

from tests.helpers.servers import free_port, isolated_env  # noqa: E402
from tests.helpers.videos import VideoSpec, make_video  # noqa: E402

RAY = Path(sys.executable).with_name("ray")
BATCH_S = 400  # a whole batch, Ray start-up included, on a loaded machine


@pytest.fixture(scope="module")
def ray_head(tmp_path_factory):
    """A Ray head on loopback with 2 CPUs; yields (its address, the environment to reach it)."""
    home = tmp_path_factory.mktemp("ray-head-home")
    env = isolated_env(home)
    port = free_port()
    cmd = [str(RAY), "start", "--head", "--block", "--port", str(port), "--node-ip-address", "127.0.0.1",
           "--num-cpus", "2", "--include-dashboard", "false", "--disable-usage-stats",
           "--ray-client-server-port", str(free_port()), "--dashboard-agent-listen-port", str(free_port())]
    log = open(home / "ray.log", "ab")
    head = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while subprocess.run([str(RAY), "status", "--address", address], env=env, capture_output=True).returncode:
            assert head.poll() is None, (home / "ray.log").read_text(errors="replace")
            assert time.monotonic() < deadline, "the Ray head did not come up"
            time.sleep(1)
        yield address, env
    finally:
        head.send_signal(signal.SIGTERM)  # `ray start --block` ends the head's processes with it
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            head.kill()
            head.wait()


def make_clips(folder: Path, count: int, duration_s: float) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [make_video(folder / f"clip{i}.mp4", VideoSpec(duration_s=duration_s, cuts_s=(duration_s / 2.3,),
                                                          size=(96, 54), seed=i + 1)) for i in range(count)]


def batch(folder: Path, address: str, env: dict, log: Path, *args: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "scorecut.cli.main", "batch", str(folder), "--ray", address, *args]
    return subprocess.Popen(cmd, env=env, stdout=open(log, "ab"), stderr=subprocess.STDOUT)


def journal(folder: Path) -> dict[str, tuple[str, str, int]]:
    """source file -> (state, take name, attempts)."""
    with sqlite3.connect(folder / ".scorecut" / "journal.sqlite3") as db:
        return {src: (state, name, n) for src, state, name, n in db.execute("SELECT source, state, name, attempts "
                                                                              "FROM jobs")}


def takes(folder: Path) -> list[str]:
    scored = folder / "scored"
    return sorted(p.name for p in scored.iterdir() if not p.name.startswith(".")) if scored.is_dir() else []


def test_batch_scores_each_video_once(ray_head, tmp_path):
    address, env = ray_head
    folder = tmp_path / "season"
    clips = make_clips(folder, 3, 2.0)
    shutil.copyfile(clips[0], folder / "copy-of-0.mp4")  # the same content under another name
    (folder / "notes.txt").write_text("not a video")
    log = tmp_path / "batch.log"
    proc = batch(folder, address, env, log, "--replicas", "2")
    assert proc.wait(timeout=BATCH_S) == 0, log.read_text(errors="replace")
    text = log.read_text(errors="replace")
    assert takes(folder) == ["clip0", "clip1", "clip2"]
    for name in takes(folder):
        assert (folder / "scored" / name / "score.json").is_file() and (folder / "scored" / name / "mix.wav").is_file()
    assert journal(folder) == {f"clip{i}.mp4": ("done", f"clip{i}", 1) for i in range(3)}
    assert "copy-of-0.mp4: same content as clip0.mp4" in text
    assert text.count("scoring ") == 3  # the copy and the text file were never sent


def test_a_killed_batch_resumes_without_redoing_finished_files(ray_head, tmp_path):
    address, env = ray_head
    folder = tmp_path / "episodes"
    make_clips(folder, 6, 6.0)
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    proc = batch(folder, address, env, first_log, "--replicas", "1")
    deadline = time.monotonic() + BATCH_S

    def done() -> list[str]:
        try:
            rows = journal(folder) if (folder / ".scorecut" / "journal.sqlite3").is_file() else {}
        except sqlite3.OperationalError:  # the journal is being created
            return []
        return sorted(name for _, (state, name, _) in rows.items() if state == "done")

    while not done():
        assert proc.poll() is None, first_log.read_text(errors="replace")
        assert time.monotonic() < deadline, "no take finished"
        time.sleep(0.05)
    proc.kill()  # SIGKILL: no cleanup, the journal and the folder as a crash leaves them
    proc.wait()
    # Finished = journaled done. A take that landed just before the kill but was not yet marked done
    # is scored again on the restart (at least once, never lost) and replaces its own folder.
    finished = done()
    assert 1 <= len(finished) < 6, f"the kill came too late to test a resume: {finished}"
    stamps = {n: os.stat(folder / "scored" / n / "score.json").st_ino for n in finished}

    proc = batch(folder, address, env, second_log, "--replicas", "1")
    assert proc.wait(timeout=BATCH_S) == 0, second_log.read_text(errors="replace")
    second = second_log.read_text(errors="replace")
    assert takes(folder) == [f"clip{i}" for i in range(6)]  # every file once, no clipN-2
    assert {n: os.stat(folder / "scored" / n / "score.json").st_ino for n in finished} == stamps
    for name in finished:
        assert f"scoring {name}.mp4" not in second, f"{name} was scored again after the restart"
    assert second.count("scoring ") == 6 - len(finished)
    assert {src: state for src, (state, _, _) in journal(folder).items()} == {f"clip{i}.mp4": "done" for i in range(6)}
    assert not [p for p in (folder / "scored").iterdir() if p.name.startswith(".")]  # no partial take left
