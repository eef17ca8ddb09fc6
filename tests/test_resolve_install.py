"""packaging/install_resolve.py: files into a temporary Scripts/Utility folder, the Python check,
and the installed menu script run the way Resolve runs it (globals resolve/fusion/bmd)."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.helpers.servers import REPO, free_port

INSTALLER = REPO / "packaging" / "install_resolve.py"
TESTS = Path(__file__).resolve().parent

# Runs the installed Scorecut.py like Resolve does: globals injected, __name__ "__main__".
DRIVER = r"""
import json, runpy, sys, time
sys.path.insert(0, {tests!r})
from resolve_fake import FakeResolve
from resolve_ui_fake import Bmd, Fusion, UIDispatcher
fake = FakeResolve()
fake.create_timeline(fake.create_project("Film"), "Edit", "24")
seen = {{}}
def script(dispatcher):
    window = dispatcher.windows[0]
    items = window.GetItems()
    items["Server"].Text = {address!r}
    window.click("Check")
    deadline = time.monotonic() + 30
    while items["ServerStatus"].Text.startswith("Checking") and time.monotonic() < deadline:
        dispatcher.tick(); time.sleep(0.02)
    seen["status"] = items["ServerStatus"].Text
    window.close()
class Dispatcher(UIDispatcher):
    def __init__(self, ui):
        super().__init__(ui); self.script = script
bmd = Bmd(); bmd.UIDispatcher = Dispatcher
runpy.run_path({script!r}, init_globals={{"resolve": fake.resolve, "fusion": Fusion(), "bmd": bmd}},
               run_name="__main__")
import scorecut
seen["library"] = scorecut.__file__
print(json.dumps(seen))
"""


def install(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(INSTALLER), *args], capture_output=True, text=True, timeout=120)


def test_install_into_target_and_run_the_menu_script(tmp_path):
    target = tmp_path / "Fusion" / "Scripts" / "Utility"
    done = install("--target", str(target), "--python", sys.executable)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ready:" in done.stdout and "not ready" not in done.stdout
    assert sorted(p.name for p in target.iterdir()) == ["Scorecut Free.lua", "Scorecut.py", "scorecut_lib.zip"]
    lua = (target / "Scorecut Free.lua").read_text()
    assert f'python = "{sys.executable}",' in lua and "SCORECUT_AS_LIBRARY" in lua  # jobs run in this Python
    names = set(zipfile.ZipFile(target / "scorecut_lib.zip").namelist())
    for needed in ("scorecut/__init__.py", "scorecut/v1/scorecut_pb2.py", "scorecut/v1/scorecut_pb2_grpc.py",
                   "scorecut/v1/scorecut.proto", "scorecut/plugins/__init__.py",
                   "scorecut/plugins/client/client.py", "scorecut/plugins/resolve/panel.py"):
        assert needed in names, needed
    assert not any("server/" in n or "models/" in n or "__pycache__" in n for n in names)
    script = (target / "Scorecut.py").read_text()
    assert f"LIBRARY = {str(target / 'scorecut_lib.zip')!r}" in script

    address = f"127.0.0.1:{free_port()}"  # nothing listens: the panel must say so in words
    driver = DRIVER.format(tests=str(TESTS), address=address, script=str(target / "Scorecut.py"))
    run = subprocess.run([sys.executable, "-c", driver], capture_output=True, text=True, timeout=120,
                         cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["library"].startswith(str(target / "scorecut_lib.zip"))  # imported from the installed zip
    assert seen["status"].startswith("Server not running") and "scorecut serve" in seen["status"]

    again = install("--target", str(target), "--python", sys.executable)  # reinstall replaces in place
    assert again.returncode == 0
    assert sorted(p.name for p in target.iterdir()) == ["Scorecut Free.lua", "Scorecut.py", "scorecut_lib.zip"]


def test_dry_run_writes_nothing(tmp_path):
    target = tmp_path / "Utility"
    done = install("--dry-run", "--target", str(target), "--python", sys.executable)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"would write {target / 'Scorecut.py'}" in done.stdout
    assert not target.exists()


def test_python_without_grpc_gets_the_one_command(tmp_path):
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True, timeout=120)
    python = bare / "bin" / "python"
    done = install("--dry-run", "--target", str(tmp_path / "t"), "--python", str(python))
    assert done.returncode == 1
    assert "not ready" in done.stdout
    assert f'"{python}" -m pip install --user "grpcio>=' in done.stdout and '"protobuf>=' in done.stdout


def test_per_os_user_folders():
    sys.path.insert(0, str(INSTALLER.parent))
    try:
        from install_resolve import user_scripts_dir
    finally:
        sys.path.remove(str(INSTALLER.parent))
    home = Path("/home/ed")
    assert user_scripts_dir("linux", {}, home) == home / ".local/share/DaVinciResolve/Fusion/Scripts/Utility"
    assert user_scripts_dir("darwin", {}, home) == (
        home / "Library/Application Support/Blackmagic Design/DaVinci Resolve/Fusion/Scripts/Utility")
    win = user_scripts_dir("win32", {"APPDATA": "C:/Users/ed/AppData/Roaming"}, home)
    assert win == Path("C:/Users/ed/AppData/Roaming/Blackmagic Design/DaVinci Resolve/Support/Fusion/Scripts/Utility")


def test_outside_resolve_through_davinci_resolve_script(tmp_path):
    """From a terminal: DaVinciResolveScript found under RESOLVE_SCRIPT_API/Modules."""
    modules = tmp_path / "Scripting" / "Modules"
    modules.mkdir(parents=True)
    (modules / "DaVinciResolveScript.py").write_text(
        "import os, sys\n"
        f"sys.path.insert(0, {str(TESTS)!r})\n"
        "from resolve_fake import FakeResolve\n"
        "_fake = FakeResolve()\n"
        "def scriptapp(name):\n"
        "    return _fake.resolve if os.environ.get('RESOLVE_SCRIPT_LIB') == 'lib' else None\n")
    code = ("from scorecut.plugins.resolve.connect import connect\n"
            "from scorecut.plugins.resolve import ResolveScoreError\n"
            "try:\n    host = connect(None)\n    print('connected', host.resolve.GetProjectManager() is not None)\n"
            "except ResolveScoreError as e:\n    print('error', e)\n")
    env = {**__import__("os").environ, "RESOLVE_SCRIPT_API": str(tmp_path / "Scripting")}
    for lib, expected in (("lib", "connected True"), ("other", "error DaVinci Resolve did not answer")):
        env["RESOLVE_SCRIPT_LIB"] = lib
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
        assert out.stdout.startswith(expected), out.stdout + out.stderr


def _installer():
    sys.path.insert(0, str(INSTALLER.parent))
    try:
        import install_resolve
    finally:
        sys.path.remove(str(INSTALLER.parent))
    return install_resolve


def _fake_python(path: Path) -> Path:
    """An executable at `path` that is this test's Python (which has grpcio and protobuf)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    path.chmod(0o755)
    return path


def _mac_resolve(root: Path, version: str, bundled: bool) -> Path:
    app = root / "DaVinci Resolve.app"
    (app / "Contents").mkdir(parents=True)
    (app / "Contents" / "Info.plist").write_text(
        f"<plist><dict><key>CFBundleShortVersionString</key>\n<string>{version}</string></dict></plist>")
    if bundled:
        _fake_python(app / "Contents" / "Libraries" / "Python" / "bin" / "python3")
    return app


def test_the_python_resolve_loads_per_os_and_version(tmp_path):
    installer = _installer()
    app = _mac_resolve(tmp_path / "mac21", "21.1.0", bundled=True)
    python, why = installer.find_resolve_python("darwin", app)
    assert python == str(app / "Contents/Libraries/Python/bin/python3") and "Resolve 21.1.0 ships" in why
    app = _mac_resolve(tmp_path / "mac21-broken", "21.1.2", bundled=False)
    python, why = installer.find_resolve_python("darwin", app)
    assert python is None and "should ship its own Python" in why and "--python" in why
    app = _mac_resolve(tmp_path / "mac19", "19.1.4", bundled=False)
    python, why = installer.find_resolve_python("darwin", app)
    assert "system Python Resolve 19.1.4 loads" in why
    linux = tmp_path / "opt-resolve"
    _fake_python(linux / "libs" / "python3.12" / "bin" / "python3")
    python, _ = installer.find_resolve_python("linux", linux)
    assert python == str(linux / "libs/python3.12/bin/python3")
    windows = tmp_path / "win-resolve"
    _fake_python(windows / "python" / "python.exe")
    assert installer.find_resolve_python("win32", windows)[0] == str(windows / "python/python.exe")


def test_installer_checks_grpc_in_the_python_resolve_ships(tmp_path):
    linux = tmp_path / "opt-resolve"
    bundled = _fake_python(linux / "libs" / "python3.12" / "bin" / "python3")
    done = install("--dry-run", "--target", str(tmp_path / "t"), "--resolve-dir", str(linux))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"checking {bundled}: the Python that Resolve ships in {linux}" in done.stdout
    assert "ready: " in done.stdout and "has grpcio" in done.stdout
    app = _mac_resolve(tmp_path / "mac", "21.1.0", bundled=False)
    done = install("--dry-run", "--target", str(tmp_path / "t"), "--resolve-dir", str(app))
    assert done.returncode == 1 and "should ship its own Python" in done.stdout, done.stdout
