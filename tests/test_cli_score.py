"""`scorecut score` end to end: a real server subprocess, real PyAV-made videos, real files."""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest

from tests.helpers.servers import free_port, isolated_env
from tests.helpers.videos import VideoSpec, make_video
from tests.helpers.wavcheck import error_db, read_wav, sha256_file

SCORE_FIELDS = ("version", "model", "seed", "style", "mood", "duration_s", "sample_rate", "tempo_bpm", "meter",
                "key", "beats_s", "downbeats_s", "cuts_s", "sections", "loudness_lufs", "mix", "stems")
FRAME_S = 1 / 25  # the test videos' frame period


def run_cli(*args: str, home: Path, cwd: Path | None = None, timeout: float = 300,
            env: dict | None = None) -> subprocess.CompletedProcess:
    # An isolated home: a CLI that failed to reach the test server would otherwise start one in
    # the real user folders.
    return subprocess.run([sys.executable, "-m", "scorecut.cli.main", *args], capture_output=True,
                          text=True, env={**isolated_env(home), **(env or {})}, cwd=cwd, timeout=timeout)


def check_result(folder: Path, duration_s: float) -> dict:
    """Every file of the layout, exact lengths, hashes that match, mix == sum of stems."""
    score = json.loads((folder / "score.json").read_text())
    missing = [k for k in SCORE_FIELDS if k not in score]
    assert not missing, missing
    rate = score["sample_rate"]
    expected = round(duration_s * rate)
    assert score["duration_s"] == pytest.approx(duration_s, abs=1e-6)
    for section in score["sections"]:
        assert {"start_s", "end_s", "intensity"} <= set(section)
    entries = [score["mix"], *score["stems"]]
    assert score["mix"]["name"] == "mix" and score["mix"]["file"] == "mix.wav"
    assert {e["name"] for e in score["stems"]} == {"drums", "bass", "harmony", "melody"}
    audio = {}
    for entry in entries:
        path = folder / entry["file"]
        assert path.name == f"{entry['name']}.wav"
        assert entry["samples"] == expected
        assert entry["sha256"] == sha256_file(path)
        data, wav_rate = read_wav(path)
        assert wav_rate == rate and data.shape[0] == expected
        audio[entry["name"]] = data
    summed = sum(audio[e["name"]] for e in score["stems"])
    assert np.abs(audio["mix"]).max() > 0.01  # there is music
    assert error_db(audio["mix"], summed) < -50
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == []
    return score


def near(times, t: float, tol: float = 2 * FRAME_S) -> bool:
    return any(abs(x - t) <= tol for x in times)


@pytest.fixture(scope="module")
def video12(media_root):
    return make_video(media_root / "cli twelve.mp4", VideoSpec(12.0, cuts_s=(2.6, 5.9, 9.3), seed=12))


def test_score_writes_the_full_layout(server, video12, tmp_path):
    out = tmp_path / "results"
    run = run_cli("score", str(video12), "--server", server.address, "--out-dir", str(out), "--seed", "3",
                  home=tmp_path / "home")
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    folder = out / "cli twelve"
    assert run.stdout.strip() == str(folder)
    score = check_result(folder, 12.0)
    assert score["seed"] == 3 and score["model"] == "composer"
    for cut in (2.6, 5.9, 9.3):
        assert near(score["cuts_s"], cut), (cut, score["cuts_s"])
    assert sorted(p.name for p in out.iterdir()) == ["cli twelve"]  # no temporary folders left

    # The same request again replaces the result in place (same name), still complete.
    again = run_cli("score", str(video12), "--server", server.address, "--out-dir", str(out), "--seed", "3",
                    home=tmp_path / "home")
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == str(folder) and "from cache" in again.stderr
    assert check_result(folder, 12.0)["seed"] == 3
    assert sorted(p.name for p in out.iterdir()) == ["cli twelve"]


def _recorded(folder: Path) -> dict:
    return json.loads((folder / "score.json").read_text())["request"]


def test_a_different_request_never_replaces_an_earlier_take(server, media_root, tmp_path):
    video = make_video(media_root / "takes.mp4", VideoSpec(3.0, cuts_s=(1.3,), seed=17))
    out = tmp_path / "out"
    home = tmp_path / "home"

    def score(*args: str) -> subprocess.CompletedProcess:
        run = run_cli("score", str(video), "--server", server.address, "--out-dir", str(out), *args, home=home)
        assert run.returncode == 0, run.stderr
        assert "Traceback" not in run.stderr
        return run

    first = score("--seed", "1")
    assert first.stdout.strip() == str(out / "takes") and "holds another take" not in first.stderr
    st = video.stat()
    assert _recorded(out / "takes") == {"clips": [{"path": str(video), "name": "takes.mp4"}], "options": {"seed": 1},
                                        "media": [{"size": st.st_size, "modified_ns": st.st_mtime_ns}]}

    second = score("--seed", "2", "--style", "lofi")  # a different request: the first take is kept
    assert second.stdout.strip() == str(out / "takes-2")
    assert f"{out / 'takes'} holds another take" in second.stderr and f"went to {out / 'takes-2'}" in second.stderr
    assert json.loads((out / "takes" / "score.json").read_text())["seed"] == 1
    assert check_result(out / "takes-2", 3.0)["seed"] == 2

    third = score("--in", "0.5")  # another range of the same video is another request too
    assert third.stdout.strip() == str(out / "takes-3")
    assert _recorded(out / "takes-3")["clips"][0]["source_in_s"] == 0.5

    # The same request as an earlier take replaces that take (the same music, from the server's cache).
    again = score("--style", "lofi", "--seed", "2")
    assert again.stdout.strip() == str(out / "takes-2") and "from cache" in again.stderr
    assert f"replaced the take of the same request in {out / 'takes-2'}" in again.stderr
    first_again = score("--seed", "1")
    assert first_again.stdout.strip() == str(out / "takes") and "holds another take" not in first_again.stderr
    assert sorted(p.name for p in out.iterdir()) == ["takes", "takes-2", "takes-3"]

    # A result from before score.json recorded the request is kept: no record, no match.
    score_json = out / "takes" / "score.json"
    old = json.loads(score_json.read_text())
    del old["request"]
    score_json.write_text(json.dumps(old))
    assert score("--seed", "1").stdout.strip() == str(out / "takes-4")
    assert "request" not in json.loads(score_json.read_text())

    # With --name, the folder is replaced whatever it held, and the command says so.
    named = score("--seed", "5", "--name", "takes")
    assert named.stdout.strip() == str(out / "takes") and f"replaced {out / 'takes'}" in named.stderr
    assert check_result(out / "takes", 3.0)["seed"] == 5
    fresh = score("--seed", "5", "--name", "brand new")
    assert "replaced" not in fresh.stderr
    assert sorted(p.name for p in out.iterdir()) == ["brand new", "takes", "takes-2", "takes-3", "takes-4"]
    helped = " ".join(run_cli("score", "--help", home=home).stdout.split())
    assert "<name>-2, <name>-3" in helped and "same request is replaced" in helped


def test_parallel_runs_of_different_requests_each_keep_their_take(server, media_root, tmp_path):
    video = make_video(media_root / "parallel.mp4", VideoSpec(3.0, cuts_s=(1.1,), seed=19))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "scorecut.cli.main", "score", str(video), "--server", server.address,
           "--out-dir", str(out)]
    procs = [subprocess.Popen([*cmd, "--seed", str(100 + i)], env=isolated_env(tmp_path / "home"),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(4)]
    outputs = [p.communicate(timeout=300) for p in procs]
    for p, (_, stderr) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, stderr
    folders = sorted(stdout.strip() for stdout, _ in outputs)
    assert folders == sorted(str(out / n) for n in ("parallel", "parallel-2", "parallel-3", "parallel-4"))
    seeds = {json.loads((Path(f) / "score.json").read_text())["seed"] for f in folders}
    assert seeds == {100, 101, 102, 103}  # four takes, none lost
    for f in folders:
        check_result(Path(f), 3.0)
    assert sorted(p.name for p in out.iterdir()) == [Path(f).name for f in folders]  # nothing hidden left


def test_two_clips_with_mid_gop_ranges_make_one_segment(server, media_root, tmp_path):
    # GOP 48 at 25 fps: keyframes at 0, 1.92, 3.84 s, so every in/out below is mid-GOP.
    a = make_video(media_root / "seg_a.mp4", VideoSpec(6.0, cuts_s=(2.0,), seed=41))
    b = make_video(media_root / "seg_b.mp4", VideoSpec(6.0, cuts_s=(2.0,), seed=42))
    out = tmp_path / "out"
    run = run_cli("score", f"{a}#t=1,4", f"{b}#t=0.52,3.32", "--server", server.address, "--out-dir", str(out),
                  "--name", "joined", "--preview", home=tmp_path / "home")
    assert run.returncode == 0, run.stderr
    assert "no preview" not in run.stderr, run.stderr  # joined by re-encoding (tests/test_everyday.py)
    assert (out / "joined" / "preview.mp4").is_file()
    score = check_result(out / "joined", 3.0 + 2.8)
    cuts = score["cuts_s"]
    assert near(cuts, 3.0, tol=1e-3), cuts  # the clip boundary, exactly
    assert near(cuts, 1.0), cuts  # a's cut at 2.0 s, 1.0 s after its in point
    assert near(cuts, 3.0 + 1.48), cuts  # b's cut at 2.0 s, 1.48 s after its in point
    # Decoding from the keyframe without trimming would put b's cut at 5.0 s instead.
    assert not near(cuts, 5.0, tol=0.1), cuts


def test_usage_errors_exit_2_without_traceback(server, video12, tmp_path):
    home = tmp_path / "home"
    cases = [
        (["score", str(video12), str(video12), "--in", "1", "--server", server.address], "single video"),
        (["score", str(tmp_path / "missing.mp4"), "--server", server.address], "no such video file"),
        (["score", f"{video12}#t=5,2", "--server", server.address], "ends before it starts"),
        (["score", f"{video12}#t=1,2", "--in", "1", "--server", server.address], "not both"),
        (["score", str(video12), "--seed=-1", "--server", server.address], "give a seed from 0 to"),
        (["score", str(video12), "--in", "-1", "--server", server.address],
         "seconds from the start of the video, 0 or more"),
        (["score", str(video12), "--in", "abc", "--server", server.address], "is not a time"),
        (["score", str(video12), "--seed", "99999999999999999999", "--server", server.address],
         "out of range"),
        (["score", str(video12.parent) + "/", "--server", server.address], "is a folder; give the video files"),
        (["score", str(video12), "--checkpoint", str(video12), "--server", server.address],
         "--checkpoint applies to --model vmas"),
        (["score", str(video12), "--model", "composer", "--checkpoint", "x.pt", "--server", server.address],
         "--checkpoint applies to --model vmas"),
        (["score", str(video12), "--model", "vmas", "--checkpoint", "/nonexistent.pt", "--server", server.address],
         "no such checkpoint file: /nonexistent.pt"),
    ]
    for args, message in cases:
        run = run_cli(*args, "--out-dir", str(tmp_path / "out"), home=home)
        assert run.returncode == 2, (args, run.stderr)
        assert message in run.stderr and "Traceback" not in run.stderr
        assert len(run.stderr.strip().splitlines()) == 1, run.stderr  # one line: what is wrong, what to do
    assert not (tmp_path / "out").exists()


def test_out_dir_that_is_a_file_is_refused(server, video12, tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("not a folder\n")
    for out_dir, message in ((afile, f"the output folder {afile} is a file"),
                             (afile / "sub", f"{afile} is a file")):
        run = run_cli("score", str(video12), "--server", server.address, "--out-dir", str(out_dir),
                      home=tmp_path / "home")
        assert run.returncode == 2, run.stderr
        assert message in run.stderr and "--out-dir" in run.stderr and len(run.stderr.strip().splitlines()) == 1
    assert afile.read_text() == "not a folder\n"


def test_job_failure_exits_1_with_the_servers_message(server, video12, tmp_path):
    run = run_cli("score", str(video12), "--out", "99", "--server", server.address, "--out-dir",
                  str(tmp_path / "out"), home=tmp_path / "home")
    assert run.returncode == 1, run.stderr
    assert "beyond the end" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "out").exists()


def _video_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(c.streams.video[0]) if p.size]


def _audio_duration_s(path: Path) -> tuple[str, float]:
    with av.open(str(path)) as c:
        stream = c.streams.audio[0]
        samples = sum(frame.samples for frame in c.decode(stream))
        return stream.codec_context.name, samples / stream.rate


def test_preview_copies_the_video_stream(server, media_root, tmp_path):
    video = make_video(media_root / "preview_src.mp4", VideoSpec(4.0, cuts_s=(1.6,), audio="tone", seed=51))
    out = tmp_path / "out"
    run = run_cli("score", str(video), "--preview", "--server", server.address, "--out-dir", str(out),
                  home=tmp_path / "home")
    assert run.returncode == 0, run.stderr
    folder = out / "preview_src"
    check_result(folder, 4.0)
    preview = folder / "preview.mp4"
    assert _video_packets(preview) == _video_packets(video)  # copied, not re-encoded
    codec, duration = _audio_duration_s(preview)
    assert codec == "aac" and duration == pytest.approx(4.0, abs=0.05)


def test_preview_of_a_trimmed_clip_starts_at_the_keyframe(server, media_root, tmp_path):
    video = make_video(media_root / "preview_trim.mp4", VideoSpec(5.0, cuts_s=(2.5,), seed=52))
    out = tmp_path / "out"
    run = run_cli("score", f"{video}#t=2.2,4.2", "--preview", "--server", server.address, "--out-dir", str(out),
                  home=tmp_path / "home")
    assert run.returncode == 0, run.stderr
    preview = out / "preview_trim" / "preview.mp4"
    source = _video_packets(video)
    copied = _video_packets(preview)
    # Keyframe at 48 frames (1.92 s); frames up to the out point (4.2 s = frame 105) are copied.
    assert copied == source[48:105]
    # The mix starts at the in point: 0.28 s of silence, then its 2 s.
    _, duration = _audio_duration_s(preview)
    assert duration == pytest.approx(0.28 + 2.0, abs=0.05)


def _pidfile(home: Path, port: int) -> Path:
    return home / ".local/state/scorecut/servers" / f"127.0.0.1-{port}.json"


def test_score_starts_a_detached_server_once_and_reuses_it(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    # The detached server's media root is the (isolated) home: the video lives there.
    video = make_video(home / "local.mp4", VideoSpec(3.0, cuts_s=(1.1,), seed=61))
    port = free_port()
    address = f"127.0.0.1:{port}"
    pid = None
    try:
        # Two at once: the lockfile lets only one of them start a server.
        cmd = [sys.executable, "-m", "scorecut.cli.main", "score", str(video), "--server", address]
        procs = [subprocess.Popen([*cmd, "--out-dir", str(tmp_path / f"out{i}"), "--seed", str(i)],
                                  env=isolated_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for i in range(2)]
        outputs = [p.communicate(timeout=300) for p in procs]
        for p, (_, stderr) in zip(procs, outputs, strict=True):
            assert p.returncode == 0, stderr
        starts = sum(stderr.count("starting a local Scorecut server") for _, stderr in outputs)
        assert starts == 1, [stderr for _, stderr in outputs]
        record = json.loads(_pidfile(home, port).read_text())
        pid = record["pid"]
        assert record["address"] == address and Path(record["log"]).is_file()
        assert Path(record["log"]).is_relative_to(home)  # the platformdirs log folder
        os.kill(pid, 0)  # alive after the commands ended: detached
        assert os.getsid(pid) == pid  # its own session: the terminal's Ctrl-C does not reach it
        for i in range(2):
            check_result(tmp_path / f"out{i}" / "local", 3.0)

        again = run_cli("score", str(video), "--server", address, "--out-dir", str(tmp_path / "out2"), home=home)
        assert again.returncode == 0, again.stderr
        assert "starting" not in again.stderr
        assert json.loads(_pidfile(home, port).read_text())["pid"] == pid  # reused
    finally:
        if pid is None and _pidfile(home, port).exists():
            pid = json.loads(_pidfile(home, port).read_text())["pid"]
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
            else:
                os.kill(pid, signal.SIGKILL)


def test_server_killed_mid_job_says_so_and_where_its_log_is(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    video = make_video(home / "long.mp4", VideoSpec(30.0, cuts_s=(6.0, 17.0), size=(160, 90), seed=63))
    port = free_port()
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "scorecut.cli.main", "score", str(video), "--server", f"127.0.0.1:{port}",
           "--out-dir", str(out)]
    proc = subprocess.Popen(cmd, env=isolated_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    pid = None
    try:
        lines = []
        for line in proc.stderr:  # plain progress lines (not a terminal)
            lines.append(line)
            if "queued" in line:  # the server has accepted the job
                break
        pid = json.loads(_pidfile(home, port).read_text())["pid"]
        os.kill(pid, signal.SIGKILL)  # the server dies mid-job
        rest = proc.communicate(timeout=120)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
        if pid is None and _pidfile(home, port).exists():
            os.kill(json.loads(_pidfile(home, port).read_text())["pid"], signal.SIGKILL)
    assert proc.returncode == 3, "".join(lines) + rest
    log = json.loads(_pidfile(home, port).read_text())["log"]
    messages = [line for line in rest.splitlines() if line.startswith("scorecut score:")]
    assert len(messages) == 1, rest
    assert "stopped during the job" in messages[0] and "run the command again" in messages[0]
    assert log in messages[0]
    assert "no Scorecut server answers" not in rest and "Traceback" not in rest
    assert not out.exists() or list(out.iterdir()) == []


def test_server_that_cannot_start_exits_3_with_its_log(tmp_path, media_root):
    home = tmp_path / "home"
    home.mkdir()
    video = make_video(home / "v.mp4", VideoSpec(1.0, seed=71))
    with socket.socket() as squatter:  # something that is not Scorecut holds the port
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        run = run_cli("score", str(video), "--server", f"127.0.0.1:{port}", "--out-dir", str(tmp_path / "out"),
                      home=home, timeout=200)
    assert run.returncode == 3, run.stderr
    assert "did not start" in run.stderr and "Traceback (most recent call last)" not in run.stderr.split("ends:")[0]


def test_plot_writes_alignment_png(server, media_root, tmp_path):
    video = make_video(media_root / "plot_src.mp4", VideoSpec(3.0, cuts_s=(1.2,), seed=81))
    out = tmp_path / "out"
    run = run_cli("score", str(video), "--plot", "--server", server.address, "--out-dir", str(out),
                  home=tmp_path / "home")
    assert run.returncode == 0, run.stderr
    assert "no alignment.png" not in run.stderr
    png = out / "plot_src" / "alignment.png"
    data = png.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000
    width, height = struct.unpack(">II", data[16:24])
    assert width >= 600 and height >= 400
    assert png.stat().st_mode & 0o777 == (out / "plot_src" / "mix.wav").stat().st_mode & 0o777


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes")
def test_result_files_get_the_umasks_usual_modes(server, media_root, tmp_path):
    video = make_video(media_root / "modes_src.mp4", VideoSpec(3.0, cuts_s=(1.2,), seed=82))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "scorecut.cli.main", "score", str(video), "--plot", "--preview",
           "--server", server.address, "--out-dir", str(out)]
    run = subprocess.run(cmd, capture_output=True, text=True, env=isolated_env(tmp_path / "home"), timeout=300,
                         preexec_fn=lambda: os.umask(0o027))
    assert run.returncode == 0, run.stderr
    folder = out / "modes_src"
    names = sorted(p.name for p in folder.iterdir())
    assert {"alignment.png", "preview.mp4", "mix.wav", "score.json"} <= set(names), names
    modes = {name: (folder / name).stat().st_mode & 0o777 for name in names}
    assert set(modes.values()) == {0o640}, modes  # umask 027: rw-r-----, no private 0600 temp-file modes
    assert folder.stat().st_mode & 0o777 == 0o750 and out.stat().st_mode & 0o777 == 0o750


def test_token_is_sent_as_bearer_metadata(fresh_server, media_root, tmp_path):
    srv = fresh_server("--token", "s3cret-0123456789")
    video = make_video(media_root / "token_src.mp4", VideoSpec(2.0, seed=91))
    out = tmp_path / "out"
    refused = run_cli("score", str(video), "--server", srv.address, "--out-dir", str(out), home=tmp_path / "home")
    assert refused.returncode == 1, refused.stderr
    assert "token" in refused.stderr and "Traceback" not in refused.stderr
    assert not out.exists()
    ok = run_cli("score", str(video), "--server", srv.address, "--token", "s3cret-0123456789", "--out-dir", str(out),
                 home=tmp_path / "home")
    assert ok.returncode == 0, ok.stderr
    check_result(out / "token_src", 2.0)


def test_ctrl_c_cancels_the_job_and_leaves_nothing(server, media_root, tmp_path):
    # A video of its own: neither its analysis nor its result is in the server's caches.
    video = make_video(media_root / "ctrl_c.mp4", VideoSpec(12.0, cuts_s=(3.3, 7.1), seed=99))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "scorecut.cli.main", "score", str(video), "--server", server.address,
           "--out-dir", str(out)]
    proc = subprocess.Popen(cmd, env=isolated_env(tmp_path / "home"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    lines = []
    for line in proc.stderr:  # plain progress lines (not a terminal)
        lines.append(line)
        if "decode" in line or "analysis" in line:  # the job is running on the server
            break
    proc.send_signal(signal.SIGINT)
    rest = proc.communicate(timeout=60)[1]
    assert proc.returncode == 130, "".join(lines) + rest
    assert "done" not in rest and "Traceback" not in rest
    assert not out.exists() or list(out.iterdir()) == []


def test_server_from_the_environment_and_default_output_folder(server, media_root, tmp_path):
    video = make_video(media_root / "env_src.mp4", VideoSpec(2.0, seed=97))
    work = tmp_path / "work"
    work.mkdir()
    run = run_cli("score", str(video), "--stems", "melody", home=tmp_path / "home", cwd=work,
                  env={"SCORECUT_SERVER": server.address})
    assert run.returncode == 0, run.stderr
    assert "starting a local" not in run.stderr  # it used the server named in the environment
    folder = work / "scored" / "env_src"
    assert sorted(p.name for p in folder.iterdir()) == ["melody.wav", "mix.wav", "score.json", "score.mid"]
    assert json.loads((folder / "score.json").read_text())["stems"][0]["name"] == "melody"
