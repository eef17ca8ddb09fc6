"""What a newcomer tripped on, each on videos made here and real processes: the watch folder's
preview, options files and counts; a watcher with no server starts one as `scorecut score` does;
`scorecut stop`; the per-user secret; another user's server gets no media; one-line errors."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest

from scorecut.plugins.watchfolder.options import options_for
from tests.helpers.servers import free_port, isolated_env
from tests.helpers.videos import VideoSpec, make_video

NOBODY = 65534


def cli(*args: str, home: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "scorecut.cli.main", *args], capture_output=True, text=True,
                          env=isolated_env(home), timeout=timeout)


def test_both_names_of_a_videos_own_options_file(tmp_path):
    video = tmp_path / "ball.mp4"
    (tmp_path / "ball.scorecut.toml").write_text("seed = 4\npreview = true\n")
    assert (options_for(video, tmp_path).seed, options_for(video, tmp_path).preview) == (4, True)
    (tmp_path / "ball.mp4.scorecut.toml").write_text("seed = 7\n")  # the full name is the more specific
    assert (options_for(video, tmp_path).seed, options_for(video, tmp_path).preview) == (7, True)
    (tmp_path / "ball.scorecut.toml").write_text("duck_dialogue = true\nduck_amount = 14\n")
    opts = options_for(video, tmp_path)
    assert (opts.duck_dialogue, opts.duck_amount, opts.seed) == (True, 14.0, 7)


def test_watch_folder_preview_options_new_take_and_counts(server, tmp_path):
    folder = tmp_path / "watched"
    folder.mkdir()
    make_video(folder / "ball.mp4", VideoSpec(2.0, cuts_s=(1.0,), size=(96, 64), seed=31, audio="tone"))
    (folder / "ball.scorecut.toml").write_text("seed = 5\npreview = true\notio = true\n")
    home = tmp_path / "home"

    def once() -> str:
        run = cli("watch", str(folder), "--once", "--server", server.address, "--stable-seconds", "0.3", home=home)
        assert run.returncode == 0, run.stderr
        assert "Traceback" not in run.stderr and "unexpected keyword" not in run.stderr, run.stderr
        return run.stderr.strip().splitlines()[-1]

    assert once().endswith("done: 1 scored, 0 skipped, 0 failed")
    take = folder / "scored" / "ball"
    assert json.loads((take / "score.json").read_text())["seed"] == 5
    with av.open(str(take / "preview.mp4")) as preview:  # the preview is there, with picture and sound
        assert preview.streams.video and preview.streams.audio
    assert (take / "ball.otio").is_file()
    assert once().endswith("done: 0 scored, 1 skipped, 0 failed")  # nothing changed

    (folder / "ball.scorecut.toml").write_text("seed = 6\npreview = true\n")  # changed options: a new take
    assert once().endswith("done: 1 scored, 0 skipped, 0 failed")
    assert json.loads((folder / "scored" / "ball-2" / "score.json").read_text())["seed"] == 6
    assert json.loads((take / "score.json").read_text())["seed"] == 5  # the first take is kept

    (folder / "broken.mp4").write_bytes(b"\x00" * 5000)
    assert once().endswith("done: 0 scored, 1 skipped, 1 failed")


def _answers(address: str, timeout: float = 2.0) -> bool:
    from scorecut.plugins.client import ScorecutClient

    with ScorecutClient(address) as client:
        return client.ping(timeout=timeout)


def test_watch_without_a_server_starts_the_users_own_and_stop_stops_it(tmp_path):
    home = tmp_path / "home"
    folder = tmp_path / "watched"
    folder.mkdir()
    make_video(folder / "clip.mp4", VideoSpec(1.6, cuts_s=(0.8,), size=(96, 64), seed=3))
    address = f"127.0.0.1:{free_port()}"
    try:
        run = cli("watch", str(folder), "--once", "--server", address, "--stable-seconds", "0.3", home=home)
        assert run.returncode == 0, run.stderr
        assert "starting a local Scorecut server" in run.stderr
        assert visible_names(folder / "failed") == []  # waited for the server, never failed the file
        assert (folder / "scored" / "clip" / "score.json").is_file()
        assert run.stderr.strip().splitlines()[-1].endswith("done: 1 scored, 0 skipped, 0 failed")

        # The server is this user's own: its secret is private, and a client without it is refused.
        secret = home / ".local/state/scorecut/server-secret"
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
        assert stat.S_IMODE(secret.parent.stat().st_mode) == 0o700
        assert secret.read_text() not in Path(f"/proc/{_server_pid(home, address)}/cmdline").read_text()
        other = subprocess.run(
            [sys.executable, "-c", "from scorecut.plugins.client import ScorecutClient\n"
             "from scorecut.plugins.client.types import JobFailed\n"
             f"c = ScorecutClient('{address}')\n"
             "try:\n    c.info()\nexcept JobFailed as e:\n    print(e.code, e.message)\n"],
            capture_output=True, text=True, env=isolated_env(tmp_path / "someone-else"), timeout=60)
        assert other.stdout.startswith("UNAUTHENTICATED"), other.stdout + other.stderr
        if os.getuid() == 0 and shutil.which("setpriv"):  # another user of the machine cannot read it
            peek = subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                                   "cat", str(secret)], capture_output=True, text=True)
            assert peek.returncode != 0 and "Permission denied" in peek.stderr
        # This user's client presents the secret on its own.
        me = subprocess.run([sys.executable, "-c", f"from scorecut.plugins.client import ScorecutClient\n"
                             f"print(ScorecutClient('{address}').info().version)"],
                            capture_output=True, text=True, env=isolated_env(home), timeout=60)
        assert me.returncode == 0 and me.stdout.strip(), me.stderr
    finally:
        stop = cli("stop", "--server", address, home=home, timeout=60)
    assert stop.returncode == 0, stop.stderr
    assert f"stopped the background server at {address}" in stop.stdout
    assert not _answers(address)
    again = cli("stop", "--server", address, home=home, timeout=60)
    assert again.returncode == 0 and "no background server" in again.stdout


def _server_pid(home: Path, address: str) -> int:
    slug = "".join(c if c.isalnum() or c in ".-" else "-" for c in address)
    return int(json.loads((home / ".local/state/scorecut/servers" / f"{slug}.json").read_text())["pid"])


def visible_names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


def test_stop_leaves_a_server_it_did_not_start(server, tmp_path):
    run = cli("stop", "--server", server.address, home=tmp_path / "home", timeout=60)
    assert run.returncode == 1 and "was not started by `scorecut score` for you" in run.stderr
    assert _answers(server.address)


@pytest.mark.skipif(os.getuid() != 0 or not shutil.which("setpriv"), reason="needs root to listen as another user")
def test_another_users_local_server_gets_no_media(tmp_path):
    """A listener owned by another uid on a loopback port: the client asks the OS who owns it
    and refuses before any call, so not a byte (nor a path) reaches it."""
    from scorecut.plugins.client import ClipSpec, JobOptions, ScorecutClient
    from scorecut.plugins.client.types import JobFailed

    port = free_port()
    listener = subprocess.Popen(
        ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "/usr/bin/python3", "-c",
         "import socket,sys\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
         f"s.bind(('127.0.0.1', {port}))\ns.listen()\nprint('listening', flush=True)\n"
         "s.settimeout(30)\ntry:\n    c, _ = s.accept()\n    print('CONNECTED', flush=True)\n"
         "except OSError:\n    pass\n"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert listener.stdout.readline().strip() == "listening"
        video = make_video(tmp_path / "mine.mp4", VideoSpec(1.0, size=(64, 48), seed=1))
        with ScorecutClient(f"127.0.0.1:{port}") as client, pytest.raises(JobFailed) as refused:
            client.score([ClipSpec(str(video))], JobOptions(), out_dir=tmp_path / "out", name="mine")
        assert refused.value.code == "PERMISSION_DENIED"
        assert "belongs to another user of this machine (nobody)" in refused.value.message
        assert "your media was not sent" in refused.value.message
        # Knowingly, with their token: the refusal is lifted (this listener is no server, so it fails later).
        with ScorecutClient(f"127.0.0.1:{port}", token="their-token-0123456789") as client:
            with pytest.raises(Exception) as later:
                client.score([ClipSpec(str(video))], JobOptions(), out_dir=tmp_path / "out", name="mine")
            assert "belongs to another user" not in str(later.value)
    finally:
        listener.kill()
        out = listener.communicate(timeout=10)[0]
    assert out.count("CONNECTED") <= 1


def test_serve_on_a_busy_port_says_one_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = cli("serve", "--port", str(port), home=tmp_path / "home", timeout=120)
    assert run.returncode != 0
    lines = [line for line in run.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and str(port) in lines[0], run.stderr


def test_a_clip_whose_sound_cannot_be_decoded_says_so(server, tmp_path):
    """A clip whose audio stream holds garbage: scoring says its sound could not be decoded (not
    'no audio track'), and analyze says the same."""
    good = make_video(tmp_path / "good.mp4", VideoSpec(2.0, cuts_s=(1.0,), size=(64, 48), seed=2, audio="tone"))
    path = tmp_path / "bad sound.mkv"
    rng = np.random.default_rng(0)
    with av.open(str(good)) as src, av.open(str(path), "w") as dst:
        streams = {s.index: dst.add_stream_from_template(s) for s in (src.streams.video[0], src.streams.audio[0])}
        for packet in src.demux():
            if packet.stream.index not in streams or packet.size == 0:
                continue
            target = streams[packet.stream.index]
            if packet.stream.type == "audio":  # the same timing, noise where AAC frames should be
                noise = av.Packet(rng.integers(0, 256, packet.size, dtype=np.uint8).tobytes())
                noise.pts, noise.dts, noise.time_base = packet.pts, packet.dts, packet.time_base
                packet = noise
            packet.stream = target
            dst.mux(packet)
    run = cli("analyze", str(path), home=tmp_path / "home", timeout=120)
    assert "no audio track" not in run.stdout, run.stdout
    assert "could not be decoded" in run.stdout + run.stderr, run.stdout + run.stderr
    # Scoring it with --duck-dialogue says nothing was ducked, and why.
    run = cli("score", str(path), "--duck-dialogue", "--server", server.address, "--out-dir", str(tmp_path / "out"),
              home=tmp_path / "home")
    assert run.returncode == 0, run.stderr
    assert "nothing was ducked: the clips have no sound Scorecut could read" in run.stderr, run.stderr
    assert "cannot be decoded" in run.stderr


def test_mood_read_from_the_picture_is_in_the_summary_and_score_json(server, tmp_path):
    video = make_video(tmp_path / "mood.mp4", VideoSpec(2.0, cuts_s=(1.0,), size=(96, 64), seed=8))
    run = cli("score", str(video), "--server", server.address, "--out-dir", str(tmp_path / "out"),
              home=tmp_path / "home")
    assert run.returncode == 0, run.stderr
    doc = json.loads((tmp_path / "out" / "mood" / "score.json").read_text())
    assert doc["mood"] and doc.get("mood_source") == "picture"
    assert f"mood {doc['mood']} (from the picture)" in run.stderr, run.stderr


def _wait(predicate, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def _beeping_clip(path: Path, seconds: float = 3.0, beep=(1.0, 2.0), hz: float = 3000.0) -> Path:
    """A clip whose own sound is silence but for a 3 kHz beep in `beep` (seconds)."""
    from fractions import Fraction

    from tests.helpers.videos import add_aac_stream, mux_aac

    rate = 48_000
    t = np.arange(int(seconds * rate)) / rate
    sound = np.where((t >= beep[0]) & (t < beep[1]), 0.3 * np.sin(2 * np.pi * hz * t), 0.0).astype(np.float32)
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=Fraction(25))
        video.width, video.height, video.pix_fmt = 96, 64, "yuv420p"
        audio = add_aac_stream(container, rate)
        for i in range(int(seconds * 25)):
            img = np.full((64, 96, 3), 60 if i < 38 else 190, np.uint8)
            for packet in video.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        mux_aac(container, audio, sound)
    return path


def _band_db(x: np.ndarray, rate: int, a: float, b: float, hz: float = 3000.0) -> float:
    seg = x[int(a * rate) : int(b * rate)]
    spectrum = np.abs(np.fft.rfft(seg * np.hanning(len(seg)))) ** 2
    freqs = np.fft.rfftfreq(len(seg), 1 / rate)
    return float(10 * np.log10(spectrum[(freqs > hz - 40) & (freqs < hz + 40)].sum() + 1e-20))


def _preview_sound(path: Path) -> tuple[np.ndarray, int]:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        chunks = [f.to_ndarray().mean(axis=0) for f in container.decode(stream)]
        return np.concatenate(chunks), stream.rate


def test_preview_has_the_clips_own_sound_under_the_music(server, tmp_path):
    clip = _beeping_clip(tmp_path / "beep.mp4")
    run = cli("score", str(clip), "--server", server.address, "--out-dir", str(tmp_path / "out"), "--preview",
              home=tmp_path / "home")
    assert run.returncode == 0, run.stderr
    take = tmp_path / "out" / "beep"
    sound, rate = _preview_sound(take / "preview.mp4")
    # The beep is heard where the picture shows it (1-2 s), not after; the music is there throughout.
    assert _band_db(sound, rate, 1.1, 1.9) > _band_db(sound, rate, 2.2, 2.9) + 15
    assert _band_db(sound, rate, 1.1, 1.9) > _band_db(sound, rate, 0.1, 0.9) + 15
    from tests.helpers.wavcheck import read_wav

    music, _ = read_wav(take / "mix.wav")
    assert np.sqrt(np.mean(sound[int(2.2 * rate) : int(2.9 * rate)] ** 2)) > 0.3 * np.sqrt(
        np.mean(music[int(2.2 * rate) : int(2.9 * rate)].mean(axis=1) ** 2))


def _solid_clip(path: Path, colour, seconds: float, beep=None) -> Path:
    """A clip of one flat colour (and, when given, a 3 kHz beep at `beep` seconds of its own time)."""
    from fractions import Fraction

    from tests.helpers.videos import add_aac_stream, mux_aac

    rate = 48_000
    t = np.arange(int(seconds * rate)) / rate
    sound = np.zeros(len(t), np.float32)
    if beep is not None:
        sound = np.where((t >= beep[0]) & (t < beep[1]), 0.3 * np.sin(2 * np.pi * 3000 * t), 0.0).astype(np.float32)
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=Fraction(25))
        video.width, video.height, video.pix_fmt = 96, 64, "yuv420p"
        audio = add_aac_stream(container, rate)
        img = np.zeros((64, 96, 3), np.uint8)
        img[:] = colour
        for i in range(int(seconds * 25)):
            img[0:8, (i * 4) % 88 : (i * 4) % 88 + 8] = 255 - np.array(colour)  # a little motion
            for packet in video.encode(av.VideoFrame.from_ndarray(img.copy(), format="rgb24")):
                container.mux(packet)
            img[:] = colour
        for packet in video.encode():
            container.mux(packet)
        mux_aac(container, audio, sound)
    return path


def test_a_segment_of_several_clips_gets_a_reencoded_preview(server, tmp_path):
    red = _solid_clip(tmp_path / "red.mp4", (200, 30, 30), 4.0)
    blue = _solid_clip(tmp_path / "blue.mp4", (30, 30, 200), 4.0, beep=(2.0, 3.0))
    run = cli("score", f"{red}#t=1,3", f"{blue}#t=1.5,3.5", "--server", server.address, "--out-dir",
              str(tmp_path / "out"), "--name", "both", "--preview", home=tmp_path / "home")
    assert run.returncode == 0, run.stderr
    preview = tmp_path / "out" / "both" / "preview.mp4"
    with av.open(str(preview)) as container:
        pictures = [(float(f.time), f.to_ndarray(format="rgb24")[32:, :].reshape(-1, 3).mean(axis=0))
                    for f in container.decode(container.streams.video[0])]
    assert abs(pictures[-1][0] - 4.0) < 0.1  # the segment's length: 2 s of each clip
    for t, (r, _, b) in pictures:
        if 0.1 < t < 1.9:
            assert r > 150 and b < 80, (t, r, b)  # the first clip's picture
        if 2.1 < t < 3.9:
            assert b > 150 and r < 80, (t, r, b)  # then the second's
    sound, rate = _preview_sound(preview)
    # blue's beep is at 2-3 s of its own time: from its in point 1.5 s, record 2.5-3.5 s.
    assert _band_db(sound, rate, 2.6, 3.4) > _band_db(sound, rate, 0.5, 1.3) + 15
    assert _band_db(sound, rate, 3.0, 3.35) > _band_db(sound, rate, 3.6, 3.95) + 10  # equal lengths


def test_doctors_vmas_fix_is_the_readmes_train_command():
    """What `doctor` and a refused vmas request tell a user to run is what the README runs."""
    import re
    import shlex

    from scorecut.models.vmas.serving import FIX

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    block = readme[readme.index("## The VMAS model"):]
    train = re.search(r"^scorecut train --config small --data .*?(?<!\\)$", block.replace("\\\n", " "), re.M)
    assert train, "the README's VMAS section has no train command"
    flags = {w for w in shlex.split(train.group(0)) if w.startswith("--")}
    told = re.search(r"`(scorecut train [^`]*)`", FIX).group(1)
    assert flags <= {w for w in shlex.split(told) if w.startswith("--")}, (flags, told)
    add = re.search(r"^scorecut models add vmas .*$", block, re.M).group(0)
    add_flags = {w for w in shlex.split(add) if w.startswith("--")}
    assert add_flags <= set(re.findall(r"--[a-z-]+", FIX)), (add_flags, FIX)
