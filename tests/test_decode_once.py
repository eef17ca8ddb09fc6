"""`scorecut score --plot` decodes the video once in the whole job.

The server and the CLI run as real processes with tests/open_counter on PYTHONPATH, which logs
every PyAV open with its process and call stack. The picture decode (models.analysis.decode's
iter_decoded) must happen once, on the server; the CLI draws alignment.png from the streamed
analysis and plan, places the WAVs by the start timecode the server read (Analysis.clip_media),
and never opens the video.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import av
import pytest

from tests.helpers.open_counter.sitecustomize import fingerprint
from tests.helpers.servers import free_port, isolated_env, wait_serving
from tests.helpers.timecode import timecode_s, with_timecode
from tests.helpers.videos import VideoSpec, make_video

COUNTER = Path(__file__).parent / "helpers" / "open_counter"
PICTURE_DECODE = "iter_decoded"  # models/analysis/decode.py: opens a file to decode its pictures


def _opens(log: Path, video: Path) -> list[dict]:
    """The opens of `video`'s content, under its own name or any other (the server's held copy)."""
    if not log.exists():
        return []
    content = fingerprint(video)
    return [o for o in map(json.loads, log.read_text().splitlines()) if o["content"] == content]


def _counting_env(home: Path, log: Path) -> dict[str, str]:
    return {**isolated_env(home), "PYTHONPATH": str(COUNTER), "SCORECUT_COUNT_OPENS": str(log)}


def test_the_counter_sees_a_picture_decode(tmp_path):
    """The count can fail: a local analysis (what --plot did before) shows up as a decode."""
    video = make_video(tmp_path / "seen.mp4", VideoSpec(2.0, cuts_s=(1.0,), seed=3))
    log = tmp_path / "opens.jsonl"
    proc = subprocess.run([sys.executable, "-m", "scorecut.cli.main", "analyze", str(video), "--json"],
                          env=_counting_env(tmp_path / "home", log), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert sum(PICTURE_DECODE in o["stack"] for o in _opens(log, video)) == 1


@pytest.mark.slow
def test_score_with_plot_decodes_the_video_once(tmp_path):
    plain = make_video(tmp_path / "plain.mp4", VideoSpec(4.0, cuts_s=(1.3, 2.9), audio="tone", seed=5))
    video = with_timecode(plain, tmp_path / "once.mp4", "14:23:11:05")  # a camera clip at 25 fps
    log = tmp_path / "opens.jsonl"
    home = tmp_path / "home"
    port = free_port()
    env = _counting_env(home, log)
    server = subprocess.Popen([sys.executable, "-m", "scorecut.cli.main", "serve", "--host", "127.0.0.1",
                               "--port", str(port), "--media-root", str(tmp_path)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_serving(f"127.0.0.1:{port}", proc=server)
        out = tmp_path / "scored"
        proc = subprocess.run([sys.executable, "-m", "scorecut.cli.main", "score", f"{video}#t=0.5,4", "--plot",
                               "--server", f"127.0.0.1:{port}", "--out-dir", str(out)],
                              env=env, capture_output=True, text=True, timeout=300)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert "alignment.png" not in proc.stderr, proc.stderr  # no "no alignment.png: ..." warning
    take = out / "once"
    assert (take / "alignment.png").stat().st_size > 10_000  # a real picture, landed with the take
    opens = _opens(log, video)
    decodes = [o for o in opens if PICTURE_DECODE in o["stack"]]
    assert len(decodes) == 1, decodes
    assert {o["pid"] for o in decodes} == {server.pid}  # on the server, once
    # The client never opens the file: what it draws, and the start timecode that places its WAVs,
    # come from what the server streamed.
    client = [o for o in opens if o["pid"] != server.pid]
    assert client == []
    score = json.loads((take / "score.json").read_text())
    assert score["cuts_s"] and score["beats_s"]  # written from the streamed analysis and plan
    expected = round((timecode_s("14:23:11:05", 25) + 0.5) * 48_000)  # the clip's timecode plus its in point
    for entry in [score["mix"], *score["stems"]]:
        with av.open(str(take / entry["file"])) as wav:  # FFmpeg's reader of the BWF bext chunk
            assert int(wav.metadata["time_reference"]) == expected, entry["name"]
