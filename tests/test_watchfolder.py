"""Watch folder: real filesystem events in temporary folders, a real server, a real watcher process."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scorecut.plugins.watchfolder.candidates import StabilityTracker, is_candidate_name
from scorecut.plugins.watchfolder.options import OptionsError, options_for
from tests.helpers.servers import isolated_env
from tests.helpers.videos import VideoSpec, make_video
from tests.helpers.wavcheck import read_wav

MODES = ["events", "polling"]
STEMS = ("drums", "bass", "harmony", "melody")
SHORT_S = 1.6  # 40 frames at 25 fps: a whole number of frames, so the clip lasts exactly this


# -- helpers ---------------------------------------------------------------------------------------

def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def wait_until(predicate, timeout_s: float, what: str, proc: subprocess.Popen | None = None, log: Path | None = None):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.1)
    detail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    raise AssertionError(f"timed out waiting for {what}\n{detail}")


def start_watch(folder: Path, address: str, mode: str, *extra: str, home: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "scorecut.cli.main", "watch", str(folder), "--server", address,
           "--stable-seconds", "0.8", *extra]
    if mode == "polling":
        cmd.append("--polling")
    return subprocess.Popen(cmd, env=isolated_env(home), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_watch(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def journal_rows(folder: Path) -> list[tuple]:
    with sqlite3.connect(folder / ".scorecut/journal.sqlite3") as db:
        return db.execute("SELECT source, state, name, attempts FROM jobs ORDER BY source").fetchall()


def visible(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) if folder.exists() else []


def assert_complete_result(result: Path, duration_s: float) -> None:
    """A landed result folder is whole: every WAV and a score.json that names them."""
    score = json.loads((result / "score.json").read_text())
    assert abs(score["duration_s"] - duration_s) < 1e-6
    for stem in ("mix", *STEMS):
        audio, rate = read_wav(result / f"{stem}.wav")
        assert rate == score["sample_rate"] and len(audio) == round(duration_s * rate), stem


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    """Short real videos, made once, copied into each test's folder."""
    root = tmp_path_factory.mktemp("watch-clips")
    made = {}
    for i in range(20):
        made[f"clip{i:02d}"] = make_video(root / f"clip{i:02d}.mp4",
                                          VideoSpec(SHORT_S, cuts_s=(0.7,), size=(96, 64), seed=100 + i))
    made["long"] = make_video(root / "long.mp4", VideoSpec(10.0, cuts_s=(3.1, 6.4), size=(96, 64), seed=7))
    return made


@pytest.fixture
def drop(tmp_path):
    """A watched folder, and a check that no original changed by a single byte."""
    folder = tmp_path / "watched"
    folder.mkdir()
    originals: dict[Path, str] = {}

    def put(src: Path, name: str | None = None) -> Path:
        staging = tmp_path / "staging"
        staging.mkdir(exist_ok=True)
        tmp = staging / (name or src.name)
        shutil.copyfile(src, tmp)
        dest = folder / (name or src.name)
        os.replace(tmp, dest)  # lands at once, like a move from the same disk
        originals[dest] = sha256(dest)
        return dest

    put.folder = folder
    put.originals = originals
    yield put
    for path, digest in originals.items():
        if path.exists():
            assert sha256(path) == digest, f"{path.name} was modified"


# -- unit --------------------------------------------------------------------------------------------

def test_candidate_names():
    assert is_candidate_name("take 1.MP4") and is_candidate_name("a.mov")
    for name in (".hidden.mp4", "~$lock.mp4", "a.mp4.part", "a.mp4.crdownload", "a.tmp", "notes.txt",
                 "clip.mp4.scorecut.toml"):
        assert not is_candidate_name(name), name


def test_stability_needs_an_unchanged_window(tmp_path):
    f = tmp_path / "a.mp4"
    f.write_bytes(b"x" * 10)
    tracker = StabilityTracker(stable_s=1.0)
    assert not tracker.observe(f, now=0.0)
    assert not tracker.observe(f, now=0.5)
    with open(f, "ab") as out:
        out.write(b"more")
    assert not tracker.observe(f, now=1.2)  # it grew: the window starts again
    assert not tracker.observe(f, now=2.0)
    assert tracker.observe(f, now=2.3)


def test_options_per_folder_and_per_file(tmp_path):
    video = tmp_path / "a.mp4"
    (tmp_path / "scorecut.toml").write_text('style = "ambient"\nseed = 3\nstems = "drums,bass"\n')
    assert options_for(video, tmp_path).style == "ambient"
    (tmp_path / "a.mp4.scorecut.toml").write_text('[scorecut]\nseed = 9\nin = 1.5\npreview = true\n')
    opts = options_for(video, tmp_path)
    assert (opts.style, opts.seed, opts.stems, opts.in_s, opts.preview) == ("ambient", 9, ("drums", "bass"), 1.5, True)
    (tmp_path / "a.mp4.scorecut.toml").write_text('tempo = 90\n')
    with pytest.raises(OptionsError, match="unknown option.*tempo"):
        options_for(video, tmp_path)


def test_jobs_is_a_setting_of_the_folders_scorecut_toml_only(tmp_path):
    from scorecut.plugins.watchfolder.options import folder_jobs

    video = tmp_path / "a.mp4"
    assert folder_jobs(tmp_path) is None  # no file
    (tmp_path / "scorecut.toml").write_text('style = "ambient"\n')
    assert folder_jobs(tmp_path) is None  # not set
    (tmp_path / "scorecut.toml").write_text('style = "ambient"\njobs = 3\n')
    assert folder_jobs(tmp_path) == 3
    assert options_for(video, tmp_path).style == "ambient"  # the file's options do not carry it
    for bad in ("0", "-1", "1.5", '"two"', "true"):
        (tmp_path / "scorecut.toml").write_text(f"jobs = {bad}\n")
        with pytest.raises(OptionsError, match="is not a number of files at once; give a whole number, 1 or more"):
            folder_jobs(tmp_path)
    (tmp_path / "scorecut.toml").write_text("jobs = 2\n")
    (tmp_path / "a.mp4.scorecut.toml").write_text("jobs = 4\n")
    with pytest.raises(OptionsError, match="jobs is a setting of the whole folder; put it in .*scorecut.toml"):
        options_for(video, tmp_path)


# -- with a real server and a real watcher -------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_file_written_slowly_is_scored_once_when_complete(server, clips, drop, mode, tmp_path):
    proc = start_watch(drop.folder, server.address, mode, home=tmp_path)
    try:
        time.sleep(1.0)
        data = clips["long"].read_bytes()
        target = drop.folder / "slow.mp4"
        with open(target, "wb") as out:  # a copy over a slow link: chunks with pauses shorter than the window
            for i in range(0, len(data), len(data) // 8 + 1):
                out.write(data[i:i + len(data) // 8 + 1])
                out.flush()
                time.sleep(0.35)
        drop.originals[target] = sha256(target)
        wait_until(lambda: (drop.folder / "scored/slow/score.json").exists(), 120, "slow.mp4 scored", proc,
                   drop.folder / ".scorecut/watch.log")
    finally:
        stop_watch(proc)
    assert_complete_result(drop.folder / "scored/slow", 10.0)  # the whole file, not a prefix of it
    assert journal_rows(drop.folder) == [("slow.mp4", "done", "slow", 1)]
    assert visible(drop.folder / "failed") == []


@pytest.mark.parametrize("mode", MODES)
def test_twenty_files_dropped_at_once_are_each_scored_once(server, clips, drop, mode, tmp_path):
    proc = start_watch(drop.folder, server.address, mode, home=tmp_path)
    try:
        time.sleep(0.5)
        for i in range(20):
            drop(clips[f"clip{i:02d}"])
        wait_until(lambda: len(visible(drop.folder / "scored")) == 20, 300, "20 results", proc,
                   drop.folder / ".scorecut/watch.log")
        time.sleep(1.5)  # a second look would score something twice now, if it ever did
    finally:
        stop_watch(proc)
    assert visible(drop.folder / "scored") == [f"clip{i:02d}" for i in range(20)]
    rows = journal_rows(drop.folder)
    assert [r[1:] for r in rows] == [("done", f"clip{i:02d}", 1) for i in range(20)]
    for i in range(20):
        assert_complete_result(drop.folder / f"scored/clip{i:02d}", SHORT_S)


@pytest.mark.parametrize("mode", MODES)
def test_sigkill_mid_job_then_restart_scores_each_once(server, clips, drop, mode, tmp_path):
    names = ["long", "clip00", "clip01"]
    for n in names:
        drop(clips[n])
    log = drop.folder / ".scorecut/watch.log"
    proc = start_watch(drop.folder, server.address, mode, home=tmp_path)
    wait_until(lambda: log.exists() and "scoring" in log.read_text(), 60, "a job to start", proc, log)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    for result in visible(drop.folder / "scored"):  # whatever is visible is whole
        assert_complete_result(drop.folder / "scored" / result, 10.0 if result == "long" else SHORT_S)
    proc = start_watch(drop.folder, server.address, mode, home=tmp_path)
    try:
        # A take the killed run landed just before it could mark it done is scored again (the same
        # request replaces it): wait for the journal too, not only for three folders.
        wait_until(lambda: len(visible(drop.folder / "scored")) == 3
                   and all(state == "done" for _, state, _, _ in journal_rows(drop.folder)), 180,
                   "3 results, each marked done", proc, log)
        time.sleep(1.0)
    finally:
        stop_watch(proc)
    assert visible(drop.folder / "scored") == sorted(names)
    assert all(state == "done" for _, state, _, _ in journal_rows(drop.folder))
    assert not [p for p in (drop.folder / "scored").iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("mode", MODES)
def test_corrupt_file_goes_to_failed_and_others_are_scored(server, clips, drop, mode, tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_text("this is not a video, only text with a video's name\n" * 20)
    drop(bad)
    drop(clips["clip00"])
    drop(clips["clip01"])
    proc = start_watch(drop.folder, server.address, mode, "--once", home=tmp_path)
    assert proc.wait(timeout=180) == 0
    assert visible(drop.folder / "scored") == ["clip00", "clip01"]
    error = (drop.folder / "failed/bad.error.txt").read_text()
    assert "bad.mp4" in error and "INVALID_ARGUMENT" in error
    assert "Traceback" not in error


@pytest.mark.parametrize("mode", MODES)
def test_server_down_then_back_scores_pending_files(fresh_server, clips, drop, mode, tmp_path):
    srv = fresh_server()
    srv.stop()
    log = drop.folder / ".scorecut/watch.log"
    proc = start_watch(drop.folder, srv.address, mode, home=tmp_path)
    try:
        drop(clips["clip02"])
        drop(clips["clip03"])
        wait_until(lambda: log.exists() and "server not available" in log.read_text(), 30, "a retry", proc, log)
        time.sleep(2.0)  # down for a while
        assert visible(drop.folder / "failed") == []
        srv.start()
        wait_until(lambda: len(visible(drop.folder / "scored")) == 2, 120, "2 results", proc, log)
    finally:
        stop_watch(proc)
        # At a loopback address the watcher may have started this user's own background server
        # meanwhile (as `scorecut score` does): stop it, as its user would, so none is left running.
        subprocess.run([sys.executable, "-m", "scorecut.cli.main", "stop", "--server", srv.address],
                       env=isolated_env(tmp_path), capture_output=True, timeout=60)
    assert visible(drop.folder / "failed") == []
    assert [r[1] for r in journal_rows(drop.folder)] == ["done", "done"]


@pytest.mark.parametrize("mode", MODES)
def test_once_exits_zero_and_duplicates_are_not_rescored(server, clips, drop, mode, tmp_path):
    drop(clips["clip04"])
    first = start_watch(drop.folder, server.address, mode, "--once", home=tmp_path)
    assert first.wait(timeout=120) == 0
    assert visible(drop.folder / "scored") == ["clip04"]

    drop(clips["clip04"], name="renamed copy.mp4")  # same bytes under another name
    again = start_watch(drop.folder, server.address, mode, "--once", home=tmp_path)
    assert again.wait(timeout=120) == 0
    assert visible(drop.folder / "scored") == ["clip04"]
    assert journal_rows(drop.folder) == [("clip04.mp4", "done", "clip04", 1)]

    changed = drop.folder / "clip04.mp4"  # the user replaces the file with new content
    tmp = tmp_path / "replacement.mp4"
    shutil.copyfile(clips["clip05"], tmp)
    os.replace(tmp, changed)
    drop.originals[changed] = sha256(changed)
    third = start_watch(drop.folder, server.address, mode, "--once", home=tmp_path)
    assert third.wait(timeout=120) == 0
    # Other content is another request: its take lands beside the earlier one (land_take's policy).
    assert visible(drop.folder / "scored") == ["clip04", "clip04-2"]


def _once(drop, server, tmp_path) -> int:
    return start_watch(drop.folder, server.address, "events", "--once", home=tmp_path).wait(timeout=120)


def test_a_failure_is_tried_again_when_its_options_change_or_its_error_file_is_deleted(server, clips, drop, tmp_path):
    drop(clips["clip06"], name="a.mp4")
    options = drop.folder / "a.mp4.scorecut.toml"
    options.write_text('style = "jazz"\n')  # the server refuses it: not a style
    error = drop.folder / "failed/a.error.txt"
    assert _once(drop, server, tmp_path) == 0
    assert "jazz" in error.read_text() and visible(drop.folder / "scored") == []
    assert _once(drop, server, tmp_path) == 0  # nothing changed: not tried again
    assert journal_rows(drop.folder) == [("a.mp4", "failed", "a", 1)]
    error.unlink()  # asks for another try as it is: it fails the same way, once more
    assert _once(drop, server, tmp_path) == 0
    assert "jazz" in error.read_text() and journal_rows(drop.folder) == [("a.mp4", "failed", "a", 1)]

    options.write_text('style = "lofi"\n')  # fixed: tried again, and the old error goes
    assert _once(drop, server, tmp_path) == 0
    assert visible(drop.folder / "scored") == ["a"] and not error.exists()
    assert_complete_result(drop.folder / "scored/a", SHORT_S)
    assert json.loads((drop.folder / "scored/a/score.json").read_text())["style"] == "lofi"

    shutil.rmtree(drop.folder / "scored/a")  # a deleted result is scored again
    assert _once(drop, server, tmp_path) == 0
    assert visible(drop.folder / "scored") == ["a"] and journal_rows(drop.folder) == [("a.mp4", "done", "a", 1)]


def test_a_failed_file_replaced_by_a_good_one_takes_its_name_and_clears_the_error(server, clips, drop, tmp_path):
    bad = tmp_path / "text.mp4"
    bad.write_text("only text\n" * 50)
    drop(bad)
    (drop.folder / "voice.wav").write_bytes(b"RIFF")  # not a video: left alone, and said so once
    (drop.folder / "copying.mp4.part").write_bytes(b"")  # on its way: left alone quietly
    assert _once(drop, server, tmp_path) == 0
    assert visible(drop.folder / "failed") == ["text.error.txt"]
    log = (drop.folder / ".scorecut/watch.log").read_text()
    assert log.count("voice.wav: left alone: not a video file") == 1 and "copying.mp4.part" not in log
    drop(clips["clip07"], name="text.mp4")  # the user puts the real video in its place
    assert _once(drop, server, tmp_path) == 0
    assert visible(drop.folder / "scored") == ["text"] and visible(drop.folder / "failed") == []
    assert_complete_result(drop.folder / "scored/text", SHORT_S)


# -- --jobs N: several files at once -------------------------------------------------------------------

def most_jobs_at_once(server_log: str) -> tuple[int, int]:
    """(most jobs the server held at one time, jobs it accepted), from the order of its own log
    lines: a job is held from its 'accepted' line to its 'streamed' line."""
    held = most = accepted = 0
    for line in server_log.splitlines():
        if " accepted: " in line and "job " in line:
            held += 1
            accepted += 1
            most = max(most, held)
        elif " streamed: " in line and "job " in line:
            held -= 1
    return most, accepted


def test_jobs_2_sends_two_files_at_once_with_the_names_and_counts_of_one_at_a_time(
        fresh_server, clips, drop, tmp_path):
    srv = fresh_server()  # its own log and result cache: every job below is really run
    same_mov = make_video(tmp_path / "same.mov", VideoSpec(SHORT_S, cuts_s=(0.7,), size=(96, 64), seed=300))
    for src, name in ((clips["clip08"], None), (clips["clip09"], None), (clips["clip10"], "same.mp4"),
                      (same_mov, None), (clips["clip08"], "copy of clip08.mp4")):
        drop(src, name)
        time.sleep(0.05)  # distinct modification times: the watcher takes files oldest first
    proc = start_watch(drop.folder, srv.address, "events", "--once", "--jobs", "2", home=tmp_path)
    assert proc.wait(timeout=240) == 0

    most, accepted = most_jobs_at_once(srv.log())
    assert (most, accepted) == (2, 4), srv.log()[-3000:]  # two at a time, never three; each content once
    assert " 1 ahead" in srv.log()  # a job arrived while the other was in the server
    # The names are those of one at a time: the two takes called "same" land as same and same-2.
    assert visible(drop.folder / "scored") == ["clip08", "clip09", "same", "same-2"]
    rows = journal_rows(drop.folder)
    assert sorted(r[0] for r in rows) == ["clip08.mp4", "clip09.mp4", "same.mov", "same.mp4"]
    assert all(state == "done" and attempts == 1 for _, state, _, attempts in rows)
    for source, _, name, _ in rows:  # each take holds its own file's music
        assert_complete_result(drop.folder / "scored" / name, SHORT_S)
        request = json.loads((drop.folder / "scored" / name / "score.json").read_text())["request"]
        assert str(drop.folder / source) in json.dumps(request), (source, name)
    log = (drop.folder / ".scorecut/watch.log").read_text()
    assert "done: 4 scored, 1 skipped, 0 failed" in log
    assert "copy of clip08.mp4: same content as clip08.mp4" in log


def test_jobs_in_scorecut_toml_sets_files_at_once_and_the_flag_overrides_it(fresh_server, clips, drop, tmp_path):
    srv = fresh_server()  # its own log and result cache: every job below is really run
    (drop.folder / "scorecut.toml").write_text("jobs = 2\n")
    for n in ("clip05", "clip06", "clip07"):
        drop(clips[n])
    proc = start_watch(drop.folder, srv.address, "events", "--once", home=tmp_path)
    assert proc.wait(timeout=240) == 0
    assert most_jobs_at_once(srv.log()) == (2, 3), srv.log()[-3000:]  # two at a time from the folder's file
    assert "3 scored, 0 skipped, 0 failed" in (drop.folder / ".scorecut/watch.log").read_text()

    seen = len(srv.log())
    (drop.folder / "scorecut.toml").write_text("jobs = 2\nseed = 5\n")  # new options: each file scored again
    proc = start_watch(drop.folder, srv.address, "events", "--once", "--jobs", "1", home=tmp_path)
    assert proc.wait(timeout=240) == 0
    assert most_jobs_at_once(srv.log()[seen:]) == (1, 3), srv.log()[-3000:]  # the flag wins: one at a time

    (drop.folder / "scorecut.toml").write_text("jobs = 0\n")
    run = subprocess.run([sys.executable, "-m", "scorecut.cli.main", "watch", str(drop.folder), "--once",
                          "--server", srv.address], env=isolated_env(tmp_path), capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 2
    assert "scorecut.toml: jobs = 0 is not a number of files at once; give a whole number, 1 or more" in run.stderr


@pytest.mark.parametrize("value", ["0", "-2", "two"])
def test_jobs_must_be_one_or_more(value, tmp_path):
    folder = tmp_path / "watched"
    folder.mkdir()
    run = subprocess.run([sys.executable, "-m", "scorecut.cli.main", "watch", str(folder), "--once",
                          "--jobs", value], env=isolated_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert f"--jobs: {value!r} is not a number of files at once; give 1 or more" in run.stderr
    assert not (folder / "scored").exists()  # refused before anything was done


def test_jobs_2_killed_mid_jobs_then_restarted_finishes_each_file_once(fresh_server, clips, drop, tmp_path):
    srv = fresh_server()
    names = ["long", "clip12", "clip13", "clip14"]
    for n in names:
        drop(clips[n])
    log = drop.folder / ".scorecut/watch.log"
    proc = start_watch(drop.folder, srv.address, "events", "--jobs", "2", home=tmp_path)
    wait_until(lambda: log.exists() and log.read_text().count("scoring ") >= 2, 60, "two jobs to start", proc, log)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = {r[0] for r in journal_rows(drop.folder) if r[1] == "done"}
    assert len(finished) < len(names)  # killed with work left to do
    for result in visible(drop.folder / "scored"):  # whatever is visible is whole
        assert_complete_result(drop.folder / "scored" / result, 10.0 if result == "long" else SHORT_S)
    again = start_watch(drop.folder, srv.address, "events", "--jobs", "2", "--once", home=tmp_path)
    assert again.wait(timeout=240) == 0
    assert visible(drop.folder / "scored") == sorted(names)
    rows = journal_rows(drop.folder)
    assert all(state == "done" for _, state, _, _ in rows) and len(rows) == len(names)
    assert not [p for p in (drop.folder / "scored").iterdir() if p.name.startswith(".")]
    second_run = log.read_text().split("watching ")[-1]
    for source in finished:  # a file marked done before the kill is not sent again
        assert f"scoring {source}" not in second_run
    # Files finished before the kill are counted as skipped, as on any restart.
    assert f"done: {len(names) - len(finished)} scored, {len(finished)} skipped, 0 failed" in second_run



def test_jobs_2_with_no_server_starts_one_local_server_and_scores_each_file_once(clips, drop, tmp_path):
    from tests.helpers.servers import free_port

    address = f"127.0.0.1:{free_port()}"  # nothing answers there: the watcher starts this user's own server
    for n in ("clip15", "clip16", "clip17"):
        drop(clips[n])
    log = drop.folder / ".scorecut/watch.log"
    try:
        proc = start_watch(drop.folder, address, "events", "--once", "--jobs", "2", home=tmp_path)
        assert proc.wait(timeout=300) == 0
    finally:  # the background server it started is stopped, as its user would
        subprocess.run([sys.executable, "-m", "scorecut.cli.main", "stop", "--server", address],
                       env=isolated_env(tmp_path), capture_output=True, timeout=60)
    text = log.read_text()
    assert text.count("starting a local Scorecut server") == 1, text[-3000:]  # one, not one per worker
    assert "server not available" in text  # the first tries found no server and were tried again
    assert visible(drop.folder / "scored") == ["clip15", "clip16", "clip17"]
    assert visible(drop.folder / "failed") == []
    # (attempts may be 2: a try the absent server refused counts as a start, as with one at a time)
    assert [r[1:3] for r in journal_rows(drop.folder)] == [("done", f"clip{i}") for i in (15, 16, 17)]
    assert "done: 3 scored, 0 skipped, 0 failed" in text
