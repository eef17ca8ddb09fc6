"""`scorecut doctor` and `scorecut models list` against a real server and a dead address."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.helpers.servers import free_port, isolated_env


def run_cli(*args: str, home: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "scorecut.cli.main", *args], capture_output=True,
                          text=True, env=isolated_env(home), timeout=180)


def test_doctor_all_good_with_a_server(server, tmp_path):
    run = run_cli("doctor", "--server", server.address, home=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    for name in ("torch", "device", "codec h264", "codec aac", "model folder", "model composer", "server"):
        assert any(line[6:].startswith(name) for line in lines), (name, run.stdout)
    assert f"ok    server         {server.address}: Scorecut" in run.stdout
    assert str(tmp_path / ".local/share/scorecut/models") in run.stdout  # the platformdirs model folder
    # The README says doctor prints where config, cache and logs live (the isolated XDG folders here).
    for name, folder in (("config folder", ".config/scorecut"), ("cache folder", ".cache/scorecut"),
                         ("log folder", ".local/state/scorecut/log"), ("model folder", ".local/share/scorecut/models")):
        line = next(line for line in lines if line[6:].startswith(name))
        assert str(tmp_path / folder) in line, (name, line)
    assert run.stdout.rstrip().endswith("all good")


def test_doctor_reports_an_unreachable_server_with_its_fix(tmp_path):
    address = f"127.0.0.1:{free_port()}"
    run = run_cli("doctor", "--server", address, home=tmp_path)
    assert run.returncode == 1
    assert f"FAIL  server         no Scorecut server answers at {address}" in run.stdout
    assert "fix: start it with `scorecut serve --port" in run.stdout
    assert "Traceback" not in run.stderr


def test_models_list_from_the_server_and_locally(server, tmp_path):
    run = run_cli("models", "list", "--server", server.address, home=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(f"models on the server at {server.address}:")
    composer = next(line for line in run.stdout.splitlines() if line.strip().startswith("composer"))
    assert "available" in composer and "drums, bass, harmony, melody" in composer
    vmas = next(line for line in run.stdout.splitlines() if line.strip().startswith("vmas"))
    assert "unavailable" in vmas  # no checkpoint in the test server's model folder
    assert "to make it available:" in run.stdout
    musicgen = run.stdout.split("\n  musicgen", 1)[1]  # its line and the two under it
    assert musicgen.split()[0] == "unavailable" and "stems: mix only" in musicgen.splitlines()[0]
    assert "CC BY-NC 4.0: non-commercial use only" in musicgen  # what its weights' licence allows
    assert "to make it available: MusicGen is not installed" in musicgen
    assert "scorecut models add musicgen DIR" in musicgen

    dead = run_cli("models", "list", "--server", f"127.0.0.1:{free_port()}", home=tmp_path)
    assert dead.returncode == 0, dead.stderr
    assert "models on this machine (no server answers at" in dead.stdout
    assert "composer" in dead.stdout and "vmas" in dead.stdout and "musicgen" in dead.stdout


def test_models_without_an_action_is_a_usage_error(tmp_path):
    run = run_cli("models", home=tmp_path)
    assert run.returncode == 2 and "choose an action: list" in run.stderr
