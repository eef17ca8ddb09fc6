"""The Blender extension, in real Blender (the bpy module, its own venv), against a real server.

Each driver in tests/blender/ runs in its own subprocess with a scratch HOME, installs the built
linux zip with package_install_files, does its part and writes what it saw as JSON; the checks
are here. Videos are made with PyAV in this process; the server is the shared `server` fixture.
SCORECUT_BPY_PYTHON names the bpy interpreter; without it the first run makes .venv-blender with
bpy==5.0.1. With SCORECUT_REQUIRE_BLENDER=1 a missing bpy fails instead of skipping.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from scipy.io import wavfile

from scorecut import __version__
from tests.helpers.servers import REPO, free_port, isolated_env
from tests.helpers.videos import VideoSpec, make_video

pytestmark = pytest.mark.blender

DRIVERS = REPO / "tests" / "blender"
BUILD = REPO / "packaging" / "build_blender_extension.py"
SOURCE_FPS = Fraction(24000, 1001)  # the movies: 23.976 fps, in a 25 fps scene
SCENE_FPS = 25


BPY_VERSION = "5.0.1"  # Blender 5.0's Python module: Python 3.11, its own numpy
BPY_OLD_VERSION = "4.5.15"  # Blender 4.5 (the `sequences` API, the 4.2-era extension installer): also Python 3.11


def _has_bpy(python: str) -> bool:
    return Path(python).exists() and subprocess.run([python, "-c", "import bpy"], capture_output=True).returncode == 0


def _make_bpy_venv(venv: Path, version: str) -> str:
    """First run: bpy in a repository venv of its own (it pins Python 3.11 and its own numpy)."""
    base = shutil.which("python3.11") or getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300)
    python = str(venv / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "-q", f"bpy=={version}"],
                   check=True, capture_output=True, timeout=1800)
    return python


def _bpy_python(version: str = BPY_VERSION, venv_name: str = ".venv-blender", env: str = "SCORECUT_BPY_PYTHON") -> str:
    # `env`, when set, names the one to use; else the repository's own venv, made here on first run.
    named = os.environ.get(env)
    python = named or str(REPO / venv_name / "bin" / "python")
    if _has_bpy(python):
        return python
    problem = f"no Python with bpy at {python}"
    if not named:
        try:
            python = _make_bpy_venv(REPO / venv_name, version)
            if _has_bpy(python):
                return python
        except (OSError, subprocess.SubprocessError) as e:
            problem = f"could not install bpy=={version} into {venv_name}: {e}"
    message = (f"{problem}: set {env} to a Python 3.11 venv's python with `pip install bpy=={version}`")
    if os.environ.get("SCORECUT_REQUIRE_BLENDER") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def bpy_python() -> str:
    return _bpy_python()


@pytest.fixture(scope="session")
def bpy45_python() -> str:
    return _bpy_python(BPY_OLD_VERSION, ".venv-blender45", "SCORECUT_BPY45_PYTHON")


@pytest.fixture(scope="session")
def extension_zip(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("blender-extension")
    done = subprocess.run([sys.executable, str(BUILD), "--out", str(out), "--platform", "linux-x64",
                           "--python", "3.11"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    (zip_path,) = out.glob("*.zip")
    return zip_path


def run_driver(bpy_python: str, name: str, args: dict, tmp_path: Path, server_address: str) -> dict:
    home = tmp_path / "home"
    (home / "tmp").mkdir(parents=True)
    env = isolated_env(home)
    env.update(SCORECUT_TEST_SCRATCH=str(home), SCORECUT_SERVER=server_address, TMPDIR=str(home / "tmp"))
    facts_path = tmp_path / f"{name}.json"
    proc = subprocess.run([bpy_python, str(DRIVERS / f"{name}.py"), json.dumps(args), str(facts_path)],
                          env=env, capture_output=True, text=True, timeout=180)
    facts = json.loads(facts_path.read_text()) if facts_path.exists() else {}
    assert proc.returncode == 0 and facts.get("ok"), (
        f"{name} failed (rc {proc.returncode}):\n{facts.get('error', '')}\n"
        f"--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-4000:]}")
    facts["home"] = str(home)
    return facts


def frame_count(path: Path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


def first_onset_s(samples: np.ndarray, rate: int, db: float = -60.0) -> float:
    """Time of the first sample louder than `db` below the peak; samples (frames, channels) or (frames,)."""
    level = np.abs(samples.astype(np.float64)).reshape(len(samples), -1).max(axis=1)  # (frames,)
    return float(np.argmax(level > level.max() * 10 ** (db / 20)) / rate)


BLENDER_PLATFORM = {"linux-x64": "linux_x86_64", "macos-arm64": "macosx_11_0_arm64", "macos-x64": "macosx_10_9_x86_64",
                    "windows-x64": "win_amd64"}


def blender_42_wheels(wheels: list[str], platform: str) -> list[str]:
    """The wheels Blender 4.2 unpacks from an extension: its bl_extension_ops filter checks only the
    platform tag ("TODO: Match Python & ABI tags"), then one wheel per distribution is kept, the
    highest version, and on a tie the file name that sorts last."""
    current = BLENDER_PLATFORM[platform]
    fits = []
    for wheel in wheels:
        tag = wheel[:-4].split("-")[-1]
        arch = current.rpartition("_")[2] if current.startswith("macosx_") else current.partition("_")[2]
        if (tag in {"any", current} or (current.startswith("macosx_") and tag.startswith("macosx_")
                                        and (tag.endswith("_" + arch) or tag.endswith("_universal2")))
                or (current.startswith("linux_") and tag.startswith("manylinux") and tag.endswith("_" + arch))):
            fits.append(wheel)
    best: dict[str, str] = {}
    for wheel in fits:
        name, version = wheel.split("/")[-1].split("-")[:2]
        key = (tuple(int(x) for x in version.split(".")[:3]), wheel.split("/")[-1])
        if name not in best or key > best[name][0]:
            best[name] = (key, wheel)
    return sorted(w for _, w in best.values())


def test_built_zips_one_per_platform_and_python_pick_their_own_wheels(tmp_path):
    out = tmp_path / "dist"
    done = subprocess.run([sys.executable, str(BUILD), "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    zips = sorted(p.name for p in out.glob("*.zip"))
    assert zips == sorted(f"scorecut-{__version__}-{p}-{py}.zip"
                          for p in ("linux_x64", "macos_arm64", "macos_x64", "windows_x64")
                          for py in ("py311", "py313"))
    all_grpc: dict[str, list[str]] = {}
    for zip_name in zips:
        with zipfile.ZipFile(out / zip_name) as zf:
            names = set(zf.namelist())
            manifest = zf.read("blender_manifest.toml").decode()
        platform, py = zip_name.removeprefix(f"scorecut-{__version__}-").removesuffix(".zip").rsplit("-", 1)
        platform = platform.replace("_", "-")
        assert f'platforms = ["{platform}"]' in manifest
        assert f'blender_version_min = "{"4.2.0" if py == "py311" else "5.1.0"}"' in manifest
        wheels = sorted(n for n in names if n.startswith("wheels/"))
        assert all(f'"./{w}"' in manifest for w in wheels)
        grpc = [w for w in wheels if w.startswith("wheels/grpcio-")]
        assert {w.split("-")[2] for w in grpc} == {f"cp{py[2:]}"}, grpc
        all_grpc.setdefault(platform, []).extend(wheels)
        # What Blender 4.2 (platform filter only) unpacks from this zip: this Python's grpcio.
        picked = blender_42_wheels(wheels, platform)
        assert [w.split("-")[2] for w in picked if w.startswith("wheels/grpcio-")] == [f"cp{py[2:]}"], picked
        assert any(w.startswith("wheels/protobuf-") for w in wheels)
        assert any(w.startswith("wheels/typing_extensions-") for w in wheels)
        tag = {"linux-x64": "manylinux", "macos-arm64": "macosx", "macos-x64": "macosx", "windows-x64": "win_amd64"}
        assert all(tag[platform] in w or w.endswith("-any.whl") for w in wheels), wheels
        assert {"__init__.py", "vendor/scorecut_client/client.py", "vendor/scorecut_v1/scorecut_pb2_grpc.py"} <= names
    # Both Pythons' wheels in one zip (the layout before) is what Blender 4.2 gets wrong: cp313 into 3.11.
    for platform, wheels in all_grpc.items():
        picked = blender_42_wheels(sorted(set(wheels)), platform)
        assert [w.split("-")[2] for w in picked if w.startswith("wheels/grpcio-")] == ["cp313"], picked



@pytest.mark.parametrize("blender", ["bpy_python", "bpy45_python"])
def test_linux_zip_installs_enables_and_imports_its_cp311_grpcio(blender, request, extension_zip, tmp_path, server,
                                                                 media_root):
    """Blender 5.0 and 4.5 (its extension installer, its wheel choice) each unpack the cp311 grpcio."""
    bpy_python = request.getfixturevalue(blender)
    video = make_video(media_root / "blender-install.mp4", VideoSpec(2.0, fps=25, seed=9))
    facts = run_driver(bpy_python, "bl_install", {"zip": str(extension_zip), "server": server.address,
                                                  "video": str(video)}, tmp_path, "127.0.0.1:1")
    home = facts["home"]
    assert facts["enabled"] and facts["operator"] and facts["panel"] and facts["settings"]
    assert facts["ext_file"].startswith(home)
    assert facts["python"] == [3, 11]
    # The grpc imported is the one Blender unpacked from the cp311 wheel of this zip, not another copy.
    assert (facts["grpc_file"].startswith(home)
            and "/extensions/.local/lib/python3.11/site-packages/" in facts["grpc_file"])
    assert any(t.startswith("cp311-cp311-manylinux") for t in facts["grpc_wheel_tags"]), facts["grpc_wheel_tags"]
    assert "cygrpc.cpython-311-x86_64-linux-gnu.so" in facts["cygrpc_files"]
    assert facts["protobuf_file"].startswith(home)
    assert facts["client_module"] == "bl_ext.user_default.scorecut.vendor.scorecut_client"
    assert facts["prefs_idname"] == "bl_ext.user_default.scorecut"
    assert facts["address_from_prefs"] == "127.0.0.1:1"
    assert facts["address_from_env"] == server.address  # SCORECUT_SERVER wins over the preference
    assert facts["status"]["reachable"], facts["status"]
    assert facts["status"]["device"] and "composer" in facts["status"]["models"]
    assert facts["validate"]["rc"] == 0, facts["validate"]  # Blender's own manifest and wheel checks

    # The panel, drawn against UILayout's real API: status, options, the two Score buttons.
    idle = [tuple(entry) for entry in facts["panel_idle"]]
    assert any(e[0] == "label" and e[1].startswith("Reachable: Scorecut") and facts["status"]["device"] in e[1]
               for e in idle), idle
    assert ("operator_prop", "sequencer.scorecut_score", "scope", "SELECTED") in idle
    assert ("operator_prop", "sequencer.scorecut_score", "scope", "RANGE") in idle
    busy = [tuple(entry) for entry in facts["panel_busy"]]
    assert any(e[0] == "progress" and e[1].startswith("Scoring") for e in busy), busy
    assert ("operator", "sequencer.scorecut_cancel", "Cancel") in busy
    assert not any(e[0] == "operator" and e[1] == "sequencer.scorecut_score" for e in busy)
    assert any(e[0] == "progress" for e in (tuple(x) for x in facts["status_bar"]))
    after = [tuple(entry) for entry in facts["panel_after"]]
    assert any(e[0] == "label" and ("cancelled" in e[1] or "scorecut serve" in e[1]) for e in after), after
    assert ("operator_prop", "sequencer.scorecut_score", "scope", "RANGE") in after


@pytest.fixture(scope="module")
def two_movies(media_root) -> tuple[Path, Path]:
    folder = media_root / "blender-movies"
    folder.mkdir(exist_ok=True)
    a = make_video(folder / "a.mp4", VideoSpec(6.0, cuts_s=(2.2, 4.1), fps=SOURCE_FPS, seed=1))
    b = make_video(folder / "b.mp4", VideoSpec(5.0, cuts_s=(1.3, 3.4), fps=SOURCE_FPS, seed=2))
    return Path(a), Path(b)


def test_scoring_selected_strips_places_one_strip_per_stem_frame_exact(bpy_python, extension_zip, tmp_path,
                                                                       server, two_movies):
    a, b = two_movies
    a_start, a_cut, b_start, b_trim = 26, 6, 138, 12  # A's source cut by 6, B trimmed by 12 and on top of A's tail
    (tmp_path / "project").mkdir()
    blend, mixdown = tmp_path / "project" / "edit.blend", tmp_path / "mixdown.wav"
    facts = run_driver(bpy_python, "bl_score", {
        "zip": str(extension_zip), "videos": [str(a), str(b)], "a_start": a_start, "a_cut": a_cut, "b_start": b_start,
        "b_trim": b_trim, "blend": str(blend), "mixdown": str(mixdown)}, tmp_path, server.address)

    # new_movie maps one source frame to one timeline frame.
    a_frames, b_frames = frame_count(a), frame_count(b)
    a_end, b_first, b_end = a_start + a_frames - a_cut, b_start + b_trim, b_start + b_frames
    assert facts["movies"]["A"]["end"] == a_end and facts["movies"]["B"]["start"] == b_first
    assert facts["movies"]["B"]["end"] == b_end and b_first < a_end  # they overlap; B is seen there
    assert abs(facts["movies"]["A"]["fps"] - float(SOURCE_FPS)) < 1e-4

    # The request: A until B covers it, then B from its trimmed head; record times on the 25 fps timeline.
    src = float(SOURCE_FPS)
    expected = [
        (str(a), a_cut / src, (b_first - a_start + a_cut) / src, 0.0, (b_first - a_start) / SCENE_FPS),
        (str(b), b_trim / src, b_frames / src, (b_first - a_start) / SCENE_FPS, (b_end - a_start) / SCENE_FPS),
    ]
    for sent in (facts["clips"], facts["wire"]):
        got = [(c["path"], c["in"], c["out"], c["rec_start"], c["rec_end"]) for c in sent]
        assert len(got) == 2
        for g, e in zip(got, expected, strict=False):
            assert g[0] == e[0]
            assert np.allclose(g[1:], e[1:], atol=1e-6), (g, e)
    assert facts["duration_s"] == pytest.approx((b_end - a_start) / SCENE_FPS)
    assert facts["segment"] == {"first": a_start, "end": b_end, "fps": SCENE_FPS}
    assert facts["result"] == ["FINISHED"]

    # One strip per stem, its own channel above the picture, named after it, frame-exact, relative path.
    take = facts["first_take"]
    assert [s["stem"] for s in take] == ["drums", "bass", "harmony", "melody"]
    assert [s["channel"] for s in take] == [3, 4, 5, 6]
    assert [s["channel_name"] for s in take] == ["drums", "bass", "harmony", "melody"]
    for s in take:
        assert (s["start"], s["duration"]) == (a_start, b_end - a_start), s
        assert s["wav_rate"] == 48000 and s["wav_frames"] == round((b_end - a_start) / SCENE_FPS * 48000)
        assert s["filepath"].startswith("//scorecut/") and s["exists"]
    assert Path(facts["out_dir"]) == blend.parent / "scorecut"

    # The mixdown: silence until the segment, then the music, within one frame of its first frame.
    rate, mixed = wavfile.read(mixdown)
    start_s = (a_start - 1) / SCENE_FPS  # the scene starts at frame 1
    onset = first_onset_s(mixed, rate)
    assert abs(onset - start_s) <= 1 / SCENE_FPS, onset
    assert not np.any(mixed[: int(start_s * rate) - 1]), "sound before the segment"
    rate_mix, own = wavfile.read(Path(facts["out_dir"]) / take[0]["take"] / "mix.wav")
    assert abs((onset - start_s) - first_onset_s(own, rate_mix)) <= 0.002  # Blender plays it where it belongs

    # Re-scoring replaces the take on the same channels; keeping takes mutes the old one, adds one above.
    replaced = facts["replaced"]
    assert [s["channel"] for s in replaced] == [3, 4, 5, 6] and len({s["take"] for s in replaced}) == 1
    assert replaced[0]["take"] != take[0]["take"]
    kept = facts["kept"]
    assert len(kept) == 8 and len({s["take"] for s in kept}) == 2
    old = [s for s in kept if s["take"] == replaced[0]["take"]]
    new = [s for s in kept if s["take"] != replaced[0]["take"]]
    assert all(s["mute"] for s in old) and not any(s["mute"] for s in new)
    assert [s["channel"] for s in new] == [7, 8, 9, 10]

    # The saved file reopens with the strips in place and their files found through relative paths.
    reopened = facts["reopened"]
    assert [(s["take"], s["channel"], s["start"], s["duration"], s["mute"]) for s in reopened] == \
        [(s["take"], s["channel"], s["start"], s["duration"], s["mute"]) for s in kept]
    assert all(s["exists"] and s["filepath"].startswith("//") for s in reopened)

    # Replacing after keeping: the take playing goes, the kept (muted) one stays as it was.
    after = facts["replaced_after_keep"]
    assert [(s["take"], s["channel"], s["mute"]) for s in after if s["mute"]] == \
        [(s["take"], s["channel"], s["mute"]) for s in old]
    newest = [s for s in after if not s["mute"]]
    assert [s["channel"] for s in newest] == [7, 8, 9, 10] and {s["take"] for s in newest}.isdisjoint(
        {s["take"] for s in kept})


def test_timer_and_worker_paths_finish_cancel_refuse_and_unreachable(bpy_python, extension_zip, tmp_path,
                                                                     server, media_root):
    video = make_video(media_root / "blender-jobs.mp4", VideoSpec(8.0, cuts_s=(2.5, 5.2), fps=25, seed=5))
    dead = f"127.0.0.1:{free_port()}"
    facts = run_driver(bpy_python, "bl_jobs", {"zip": str(extension_zip), "video": str(video), "seed": 40,
                                               "dead_address": dead}, tmp_path, server.address)
    home = Path(facts["home"])
    assert facts["address"] == server.address
    assert facts["range_segment"] == [11, 111]  # the preview range, end inclusive in Blender
    assert Path(facts["out_dir"]) == home / "tmp" / "scorecut-blender"  # unsaved .blend: a temporary folder
    assert "already being scored" in facts["second_refused"]

    done = facts["finished"]
    assert done["final"] == "finished" and done["calls"] >= 2 and not done["active_after"]
    assert done["seen"][-1][0] == "finished" and all(s[0] == "running" for s in done["seen"][:-1])
    assert done["reports"][0][0] == "WARNING" and "not saved" in done["reports"][0][1]
    assert [s[1:] for s in done["strips"]] == [[2, 11, 100], [3, 11, 100], [4, 11, 100], [5, 11, 100]]
    # Placing is one undo step: undo leaves the edit as it was (the movie, no music); redo restores it.
    assert (facts["after_undo"], facts["movies_after_undo"], facts["after_redo"]) == (0, 1, 4)
    assert facts["replacing"] == {"two_stems": [["drums", 2, "drums", 11, 100], ["bass", 3, "bass", 11, 100]],
                                  "mix_only": [["mix", 2, "mix", 11, 100]]}
    assert facts["load_cancels"] == [True, True, True]
    assert facts["load_places_nothing"] == [None, 0]  # a late timer call places nothing in the new file

    cancelled = facts["cancelled"]
    assert facts["cancel_accepted"]
    assert cancelled["final"] == "cancelled" and cancelled["strips_added"] == 0 and not cancelled["take_exists"]
    assert cancelled["reports"][-1][0] == "WARNING" and "cancelled" in cancelled["reports"][-1][1]

    refused = facts["refused"]
    assert refused["final"] == "failed" and refused["strips_added"] == 0
    assert refused["reports"][-1][0] == "ERROR" and "unknown style 'no-such-style'" in refused["reports"][-1][1]

    for message in (facts["unreachable"]["reports"][-1][1], facts["operator_unreachable"]):
        assert dead in message and "scorecut serve" in message
    assert facts["unreachable"]["strips_added"] == 0 and facts["operator_strips_added"] == 0

    # Blender 5: the operator scores the scene the Sequencer shows, not the window's scene, and says
    # what it does not follow (a speed effect over the picture).
    shown = facts["sequencer_scene"]
    assert shown["result"] == ["FINISHED"] and shown["context_scene"] == "Not shown"
    assert shown["placed_in_shown"] == 4 and shown["other_untouched"]
    assert any(level == "WARNING" and "speed effect 'Faster' is not read" in message
               for level, message in shown["reports"]), shown["reports"]
    assert "'shot' is muted" in facts["not_read"]["muted"]
    assert "meta strip 'Group' is not read" in facts["not_read"]["meta"]


def test_timeline_markers_named_hit_stop_section_become_hit_points(bpy_python, extension_zip, tmp_path, server,
                                                                   media_root):
    video = make_video(media_root / "blender-markers.mp4", VideoSpec(8.0, cuts_s=(2.5,), fps=25, seed=6))
    markers = [["hit drop", 36], ["Stop here", 71], ["section B", 111], ["note to self", 50], ["hit too early", 5],
               ["hit past the range", 170]]
    facts = run_driver(bpy_python, "bl_markers", {"zip": str(extension_zip), "video": str(video), "seed": 11,
                                                  "markers": markers}, tmp_path, server.address)
    # Frames 36, 71, 111 of a range starting at frame 11, at 25 fps.
    assert facts["hits"] == [[1.0, "hit"], [2.4, "stop"], [4.0, "section"]]
    assert facts["final"] == "finished", facts["message"]
    assert [(h["time_s"], h["kind"], h["met"]) for h in facts["score"]["hits"]] == [
        (1.0, "hit", True), (2.4, "stop", True), (4.0, "section", True)]
    # Mark Music: a marker at every downbeat and section start of the take, the user's kept.
    ours = {frame: name for name, frame in facts["markers"] if name.startswith("Scorecut ")}
    assert {11 + round(t * 25) for t in facts["score"]["downbeats_s"]} <= set(ours)
    assert {11 + round(s["start_s"] * 25) for s in facts["score"]["sections"]} <= set(ours)
    assert ours[111].startswith("Scorecut ") and "(" in ours[111]  # the section the marker asked for
    assert sum(1 for name, _ in facts["markers"] if not name.startswith("Scorecut ")) == len(markers)


def test_reroll_section_replaces_the_take_with_new_music_in_the_section_under_the_playhead(
        bpy_python, extension_zip, tmp_path, server, media_root):
    video = make_video(media_root / "blender-reroll.mp4", VideoSpec(9.0, cuts_s=(3.0, 6.0), fps=25, seed=8))
    facts = run_driver(bpy_python, "bl_reroll", {"zip": str(extension_zip), "video": str(video), "seed": 5,
                                                 "playhead": 11 + 25 * 4}, tmp_path, server.address)
    assert facts["asked"] == {"loop": True, "tail_s": 1.5}  # the panel's Loop and Tail reach the job
    assert facts["reroll_before_any_take"] is False
    assert "playhead (frame 1) is not over the last take (frames 11-210)" in facts["outside"], facts["outside"]
    assert facts["result"] == ["FINISHED"], facts["reports"]
    # The range re-rolled is the first take's section that plays 4 s in; the seed is a new one.
    (section,) = [s for s in facts["first"]["sections"] if s["start_s"] <= 4.0 < s["end_s"]]
    assert facts["second"]["reroll"] == [section["start_s"], section["end_s"]]
    assert facts["second"]["seed"] == facts["first"]["seed"] == 5
    assert facts["second"]["reroll_seed"] == 6
    assert facts["second"]["folder"] != facts["first"]["folder"]
    # Its take replaced the first one's strips over the same frames.
    second_take = Path(facts["second"]["folder"]).name
    assert {take for take, _, _, _ in facts["strips"]} == {second_take}, facts["strips"]
    assert {(start, end) for _, _, start, end in facts["strips"]} == {(11, 211)}
    # New music inside the section, the same take outside it and its half-second handles.
    rate, first_mix = wavfile.read(Path(facts["first"]["folder"]) / "mix.wav")
    rate2, second_mix = wavfile.read(Path(facts["second"]["folder"]) / "mix.wav")
    assert rate == rate2 and first_mix.shape == second_mix.shape
    lo, hi = int((section["start_s"] - 0.5) * rate), int((section["end_s"] + 0.5) * rate)
    assert np.array_equal(first_mix[:max(lo, 0)], second_mix[:max(lo, 0)])
    assert np.array_equal(first_mix[hi:], second_mix[hi:])
    inside = slice(int(section["start_s"] * rate), int(section["end_s"] * rate))
    assert not np.array_equal(first_mix[inside], second_mix[inside])
    # With a tail the strips run the segment plus the tail (200 + 25 frames), the WAVs as long.
    tail = facts["tail"]
    assert tail["tail_s"] == 1.0
    assert {tuple(s) for s in tail["strips"]} == {(Path(tail["folder"]).name, 11, 236)}, tail["strips"]
    rate, tailed = wavfile.read(Path(tail["folder"]) / "mix.wav")
    assert len(tailed) == rate * 9  # 8 s of frames 11-210 and the 1 s tail
