"""The user-service files for the watch folder render with the folder and the scorecut command."""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("platform,name", [("linux", "unit.service"), ("darwin", "agent.plist"), ("win32", "task.xml")])
def test_service_unit_names_the_folder_and_command(tmp_path, platform, name):
    folder = tmp_path / "drop here"
    folder.mkdir()
    target = tmp_path / name
    result = subprocess.run([sys.executable, str(REPO / "packaging/install_watch_service.py"), str(folder),
                             "--platform", platform, "--target", str(target)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    text = target.read_text(encoding="utf-16" if name.endswith(".xml") else "utf-8")
    assert str(folder) in text and "watch" in text and "@" + "FOLDER" not in text
    if platform == "linux":
        assert 'ExecStart=' in text and f'watch "{folder}"' in text


def test_the_unit_runs_the_scorecut_installed_beside_this_python(tmp_path):
    target = tmp_path / "unit.service"
    result = subprocess.run([sys.executable, str(REPO / "packaging/install_watch_service.py"), str(tmp_path),
                             "--platform", "linux", "--target", str(target)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    exec_line = next(line for line in target.read_text().splitlines() if line.startswith("ExecStart="))
    command = Path(exec_line.removeprefix("ExecStart=").split()[0])
    assert command.is_file() and command.parent == Path(sys.executable).parent, exec_line


def test_a_python_without_scorecut_is_refused_with_the_fix(tmp_path):
    """Run with a bare interpreter (-I: no user site, no PYTHONPATH) and a PATH without scorecut."""
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    target = tmp_path / "unit.service"
    result = subprocess.run([str(bare / "bin/python"), "-I", str(REPO / "packaging/install_watch_service.py"),
                             str(tmp_path), "--platform", "linux", "--target", str(target)],
                            capture_output=True, text=True, env={"PATH": str(bare / "bin"), "HOME": str(tmp_path)})
    assert result.returncode == 2 and not target.exists()
    assert "--scorecut PATH" in result.stderr and "install_watch_service.py" in result.stderr
    missing = subprocess.run([sys.executable, str(REPO / "packaging/install_watch_service.py"), str(tmp_path),
                              "--platform", "linux", "--target", str(target), "--scorecut", str(tmp_path / "nope")],
                             capture_output=True, text=True)
    assert missing.returncode == 2 and "does not exist" in missing.stderr and not target.exists()
