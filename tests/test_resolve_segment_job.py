"""The free edition's job runner (`python -m scorecut.plugins.resolve.segment_job JOB.json`), run the
way the Lua script runs it, against a real server on loopback: its line protocol, stems at least the
segment long, and errors in words. Runs without LuaJIT."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import wave
from fractions import Fraction
from pathlib import Path

from tests.helpers.servers import free_port
from tests.helpers.videos import VideoSpec, make_video


def run_job(tmp_path: Path, job: dict) -> list[str]:
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job))
    done = subprocess.run([sys.executable, "-m", "scorecut.plugins.resolve.segment_job", str(path)],
                          capture_output=True, text=True, timeout=300)
    lines = done.stdout.splitlines()
    assert (done.returncode == 0) == (lines[-1].startswith("done ")), done.stdout + done.stderr
    return lines


def test_job_file_scores_and_reports_in_lines(server, media_root, tmp_path):
    video = make_video(media_root / "segment-job.mp4", VideoSpec(3.0, cuts_s=(1.2,), fps=25, seed=31))
    frames, rate = 77, Fraction(30000, 1001)  # 29.97: 123323.2 samples, rounding to nearest loses a fraction
    duration = float(frames / rate)
    lines = run_job(tmp_path, {
        "server": server.address, "out_dir": str(tmp_path / "stems"), "name": "Edit_01-00-00-00",
        "duration_s": duration,
        "options": {"seed": 2, "stems": ["drums", "bass"], "style": "", "mood": ""},
        "clips": [{"path": str(video), "source_in_s": 0.4, "source_out_s": 0.4 + duration, "record_start_s": 0.0,
                   "record_end_s": duration, "name": "A001C003"}]})
    progress = [line for line in lines if line.startswith("progress ")]
    assert progress and all(0 <= float(line.split()[1]) <= 1 for line in progress)
    stems = [line.split(" ", 4) for line in lines if line.startswith("stem ")]
    assert sorted(s[1] for s in stems) == ["bass", "drums"]
    for _, _name, samples, sample_rate, path in stems:
        assert int(sample_rate) == 48000 and int(samples) == math.ceil(frames / rate * 48000)  # never short
        with wave.open(path) as w:
            assert w.getnframes() == int(samples)
    assert lines[-1] == f"done {(tmp_path / 'stems' / 'Edit_01-00-00-00').resolve()}"


def test_job_file_errors_are_one_line(tmp_path):
    lines = run_job(tmp_path, {"out_dir": str(tmp_path), "clips": []})
    assert lines == [f"error the job file {tmp_path / 'job.json'} lacks name, duration_s; write it again from Resolve"]
    video = make_video(tmp_path / "v.mp4", VideoSpec(1.0, fps=25, seed=1))
    lines = run_job(tmp_path, {"server": f"127.0.0.1:{free_port()}", "out_dir": str(tmp_path), "name": "t",
                               "duration_s": 1.0, "clips": [{"path": str(video), "source_in_s": 0, "source_out_s": 1,
                                                             "record_start_s": 0, "record_end_s": 1}]})
    assert len(lines) == 1 and lines[0].startswith("error no Scorecut server answers")
    lines = run_job(tmp_path, {"out_dir": str(tmp_path), "name": "t", "duration_s": 1.0, "clips": []})
    assert lines == [f"error the job file {tmp_path / 'job.json'} has no clips; put the In/Out marks over video and "
                     "score again"]
    clip = {"path": str(video), "source_in_s": 0, "source_out_s": 1, "record_start_s": 0, "record_end_s": 1}
    lines = run_job(tmp_path, {"out_dir": str(tmp_path), "name": "t", "duration_s": 1.0, "clips": [clip],
                               "options": {"tempo": 120, "stems": {}}})
    assert lines == ["error unknown option(s) tempo in the job file; known: model, style, mood, seed, stems"]
