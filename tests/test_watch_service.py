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
