"""`scorecut batch DIR --ray ADDRESS`: each video one Ray task, scored once; a killed driver resumes;
the takes are byte for byte those of the single-node server.

One Ray head of the module's own on loopback (2 CPUs, `ray start --block`, ended at the end), so a
driver killed with SIGKILL leaves no Ray processes behind. Every batch has a result cache of its
own (--cache-dir), so every job below really runs. Timeouts are generous (a loaded 2-core machine
starts Ray and its workers in tens of seconds).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("ray", reason="Ray is the `ray` extra: pip install 'scorecut[ray]'")

from tests.helpers.ray_head import ray_head as start_ray_head  # noqa: E402
from tests.helpers.servers import isolated_env  # noqa: E402
from tests.helpers.videos import VideoSpec, make_video  # noqa: E402

BATCH_S = 400  # a whole batch, Ray start-up included, on a loaded machine
TASK_LINE = re.compile(r"(\S+): Ray task 'scorecut: (\S+)' (ran the model|found the result in the cache) "
                       r"on (\S+):(\d+)")


@pytest.fixture(scope="module")
def ray_head(tmp_path_factory):
    """A Ray head on loopback with 2 CPUs; yields (its address, the environment to reach it)."""
    # One node, all on loopback: Ray otherwise swaps 127.0.0.1 for the machine's own network address
    # (so that other nodes could join), and tests reach nothing but loopback.
    with start_ray_head(tmp_path_factory.mktemp("ray-head-home"), 2,
                        {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}) as head:
        yield head


def make_clips(folder: Path, count: int, duration_s: float, first_seed: int = 1) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [make_video(folder / f"clip{i}.mp4", VideoSpec(duration_s=duration_s, cuts_s=(duration_s / 2.3,),
                                                          size=(96, 54), seed=first_seed + i)) for i in range(count)]


def batch(folder: Path, address: str, env: dict, log: Path, *args: str) -> subprocess.Popen:
    """`scorecut batch` with a result cache of its own (beside the folder)."""
    cmd = [sys.executable, "-m", "scorecut.cli.main", "batch", str(folder), "--ray", address,
           "--cache-dir", str(folder.parent / f"{folder.name}-cache"), *args]
    return subprocess.Popen(cmd, env=env, stdout=open(log, "ab"), stderr=subprocess.STDOUT)


def journal(folder: Path) -> dict[str, tuple[str, str, int]]:
    """source file -> (state, take name, attempts)."""
    with sqlite3.connect(folder / ".scorecut" / "journal.sqlite3") as db:
        return {src: (state, name, n) for src, state, name, n in db.execute("SELECT source, state, name, attempts "
                                                                              "FROM jobs")}


def takes(folder: Path) -> list[str]:
    scored = folder / "scored"
    return sorted(p.name for p in scored.iterdir() if not p.name.startswith(".")) if scored.is_dir() else []


def tasks(log: str) -> list[tuple[str, str, int]]:
    """(file, what the task did, the pid of the Ray worker that ran it) for each finished Ray task."""
    out = []
    for source, named, did, _, pid in TASK_LINE.findall(log):
        assert named == source.rstrip(":")
        out.append((named, did, int(pid)))
    return out


def test_batch_scores_each_video_once_as_a_ray_task(ray_head, tmp_path):
    address, env = ray_head
    folder = tmp_path / "season"
    clips = make_clips(folder, 3, 2.0)
    shutil.copyfile(clips[0], folder / "copy-of-0.mp4")  # the same content under another name
    (folder / "notes.txt").write_text("not a video")
    (folder / "broken.mp4").write_bytes(b"not really a video" * 100)  # refused by the driver's checks
    log = tmp_path / "batch.log"
    proc = batch(folder, address, env, log, "--jobs", "2")
    assert proc.wait(timeout=BATCH_S) == 0, log.read_text(errors="replace")
    text = log.read_text(errors="replace")
    assert takes(folder) == ["clip0", "clip1", "clip2"]
    for name in takes(folder):
        assert (folder / "scored" / name / "score.json").is_file() and (folder / "scored" / name / "mix.wav").is_file()
    assert journal(folder) == {**{f"clip{i}.mp4": ("done", f"clip{i}", 1) for i in range(3)},
                               "broken.mp4": ("failed", "broken", 1)}
    assert "INVALID_ARGUMENT" in (folder / "failed" / "broken.error.txt").read_text()
    assert "copy-of-0.mp4: same content as clip0.mp4" in text
    assert text.count("scoring ") == 4  # the copy and the text file were never sent
    ran = tasks(text)
    assert sorted(name for name, _, _ in ran) == ["clip0.mp4", "clip1.mp4", "clip2.mp4"], text[-3000:]
    assert all(did == "ran the model" for _, did, _ in ran)  # each one's model ran, in its task
    assert proc.pid not in {pid for _, _, pid in ran}  # in Ray's worker processes, not the driver
    assert "up to 2 at once as Ray tasks" in text
    assert "3 scored, 1 skipped, 1 failed, 0 unfinished; 3 Ray task(s)" in text  # no task for the broken file


def test_a_killed_batch_resumes_without_redoing_finished_files(ray_head, tmp_path):
    address, env = ray_head
    folder = tmp_path / "episodes"
    make_clips(folder, 6, 6.0, first_seed=11)
    (folder / "scorecut.toml").write_text("jobs = 1\n")  # the folder's own setting: one file at a time
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    proc = batch(folder, address, env, first_log)
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
    first = first_log.read_text(errors="replace")
    assert "up to 1 at once as Ray tasks" in first  # jobs = 1 from scorecut.toml
    # Finished = journaled done. A take that landed just before the kill but was not yet marked done
    # is sent again on the restart (at least once, never lost) and replaces its own folder.
    finished = done()
    assert 1 <= len(finished) < 6, f"the kill came too late to test a resume: {finished}"
    stamps = {n: os.stat(folder / "scored" / n / "score.json").st_ino for n in finished}

    proc = batch(folder, address, env, second_log)
    assert proc.wait(timeout=BATCH_S) == 0, second_log.read_text(errors="replace")
    second = second_log.read_text(errors="replace")
    assert takes(folder) == [f"clip{i}" for i in range(6)]  # every file once, no clipN-2
    assert {n: os.stat(folder / "scored" / n / "score.json").st_ino for n in finished} == stamps
    for name in finished:
        assert f"scoring {name}.mp4" not in second, f"{name} was scored again after the restart"
    assert second.count("scoring ") == 6 - len(finished)
    assert {name for name, _, _ in tasks(second)} <= {f"clip{i}.mp4" for i in range(6)} - {f"{n}.mp4" for n in finished}
    assert {src: state for src, (state, _, _) in journal(folder).items()} == {f"clip{i}.mp4": "done" for i in range(6)}
    assert not [p for p in (folder / "scored").iterdir() if p.name.startswith(".")]  # no partial take left


def test_a_batch_take_is_byte_for_byte_the_single_node_servers(server, ray_head, tmp_path):
    """The same file and options: the watch folder on the single-node server, then a batch on Ray."""
    address, env = ray_head
    folder = tmp_path / "drop"
    make_clips(folder, 1, 2.5, first_seed=40)
    (folder / "scorecut.toml").write_text('seed = 9\nstyle = "ambient"\n')
    watch = subprocess.run([sys.executable, "-m", "scorecut.cli.main", "watch", str(folder), "--once",
                            "--server", server.address, "--stable-seconds", "0"], env=isolated_env(tmp_path),
                           capture_output=True, text=True, timeout=BATCH_S)
    assert watch.returncode == 0, watch.stderr[-3000:]
    single = tmp_path / "single-node-take"
    shutil.move(folder / "scored" / "clip0", single)
    shutil.rmtree(folder / ".scorecut")  # a fresh folder: the batch scores the file again

    log = tmp_path / "batch.log"
    proc = batch(folder, address, env, log)
    assert proc.wait(timeout=BATCH_S) == 0, log.read_text(errors="replace")
    assert [did for _, did, _ in tasks(log.read_text())] == ["ran the model"]  # not from any cache
    on_ray = folder / "scored" / "clip0"
    names = sorted(p.name for p in single.iterdir())
    assert names == sorted(p.name for p in on_ray.iterdir()) and {"mix.wav", "score.json"} <= set(names)
    assert len([n for n in names if n.endswith(".wav")]) >= 3
    for name in names:  # every stem, score.json and score.mid: the same bytes
        assert (on_ray / name).read_bytes() == (single / name).read_bytes(), f"{name} differs on Ray"
    assert json.loads((on_ray / "score.json").read_text())["seed"] == 9


def test_a_task_elsewhere_without_a_shared_cache_sends_its_result_back_the_same(tmp_path):
    """score_job, the body of each Ray task, called here as Ray would call it on another machine."""
    import socket

    from scorecut.plugins.client import build_request
    from scorecut.plugins.watchfolder.folder import FolderScorer, content_hash
    from scorecut.server.config import ServerConfig
    from scorecut.server.ray_serve import Dispatch
    from scorecut.server.ray_tasks import BatchFront, TaskSettings, parse_events, score_job

    folder = tmp_path / "drop"
    (path,) = make_clips(folder, 1, 2.0, first_seed=60)
    config = ServerConfig(media_roots=(folder,), cache_dir=tmp_path / "cache", model_dir=tmp_path / "models")
    front = BatchFront(config, "cpu")
    files = FolderScorer(folder)
    lock = files.claim()
    journal = files.journal()
    try:
        take = files.begin(path, journal, content_hash(path, journal))
        spec = front.check(build_request([take.clip], take.job_options))
        settings = TaskSettings("cpu", str(config.model_dir), str(config.results), config.cache_max_bytes,
                                shared_cache=False)
        elsewhere = score_job(Dispatch(spec, "another-machine", (str(path),)), settings)
        assert elsewhere.ran and elsewhere.failure is None and elsewhere.events  # the events travel back
        here = score_job(Dispatch(spec, socket.gethostname(), (str(path),)), settings)
        assert (here.ran, here.events, here.key) == (False, (), elsewhere.key)  # the driver reads the cache
        sent = files.land_events(take, parse_events(elsewhere.events))
        kept = tmp_path / "sent-back"
        shutil.copytree(sent.folder, kept)
        read = files.land_events(take, front.events(front.cached(here.key), cached=True))
        assert read.folder == sent.folder  # the same request lands in its own folder again
        for name in sorted(p.name for p in kept.iterdir()):
            assert (read.folder / name).read_bytes() == (kept / name).read_bytes(), name
    finally:
        journal.close()
        lock.release()


def _task_process(title: bytes) -> int | None:
    """The pid of the Ray worker process running the task titled `title` (Ray names the process
    after the task it runs: `ray::<task name>`), or None."""
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                    if f.read().startswith(b"ray::" + title):
                        return int(entry.name)
            except OSError:
                continue
    return None


def test_a_ray_worker_killed_mid_task_is_run_again_by_ray_and_the_file_scored_once(ray_head, tmp_path):
    address, env = ray_head
    folder = tmp_path / "reel"
    make_clips(folder, 1, 12.0, first_seed=80)
    log = tmp_path / "batch.log"
    proc = batch(folder, address, env, log, "--jobs", "1")
    deadline = time.monotonic() + BATCH_S
    while (victim := _task_process(b"scorecut: clip0.mp4")) is None:
        assert proc.poll() is None, log.read_text(errors="replace")
        assert time.monotonic() < deadline, "the task never ran"
        time.sleep(0.02)
    time.sleep(0.5)  # the model is at work
    os.kill(victim, signal.SIGKILL)  # the worker dies as on a lost node or out of memory: a system failure
    assert proc.wait(timeout=BATCH_S) == 0, log.read_text(errors="replace")
    ran = tasks(log.read_text())
    assert [(name, did) for name, did, _ in ran] == [("clip0.mp4", "ran the model")], ran
    assert ran[0][2] != victim  # Ray ran the task again in another worker process
    assert takes(folder) == ["clip0"] and journal(folder) == {"clip0.mp4": ("done", "clip0", 1)}


def test_a_file_the_model_cannot_read_is_a_task_result_not_an_error_ray_would_retry(tmp_path):
    """The file is checked by the driver, then broken before its task runs: the task returns the
    status a server would answer (Ray retries only tasks that raise or whose worker died)."""
    from scorecut.plugins.client import ClipSpec, build_request
    from scorecut.server.config import ServerConfig
    from scorecut.server.ray_serve import Dispatch
    from scorecut.server.ray_tasks import BatchFront, TaskSettings, score_job

    folder = tmp_path / "drop"
    (path,) = make_clips(folder, 1, 2.0, first_seed=90)
    config = ServerConfig(media_roots=(folder,), cache_dir=tmp_path / "cache", model_dir=tmp_path / "models")
    spec = BatchFront(config, "cpu").check(build_request([ClipSpec(str(path))]))
    path.write_bytes(b"\0" * path.stat().st_size)  # the same size, no video left in it
    settings = TaskSettings("cpu", str(config.model_dir), str(config.results), config.cache_max_bytes,
                            shared_cache=True)
    result = score_job(Dispatch(spec, "this-machine", (str(path),)), settings)
    assert result.failure is not None and result.failure.code == "INVALID_ARGUMENT", result.failure
    assert "clip0.mp4" in result.failure.message and not result.events
    assert not list((tmp_path / "cache" / "results").glob("[!.]*"))  # nothing cached for it
