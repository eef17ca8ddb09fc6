"""The client library: import purity, media fragments, WAV writing, requests, and real jobs
(cancel, upload) against a real server on loopback."""

from __future__ import annotations

import io
import json
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import wave
from pathlib import Path

import pytest

from scorecut.plugins.client import (
    ClipSpec,
    JobCancelled,
    JobFailed,
    JobOptions,
    ScorecutClient,
    ServerUnavailable,
    build_request,
    is_loopback,
    parse_media_fragment,
)
from scorecut.plugins.client.wav import StreamingWav, wav_header
from tests.helpers.servers import free_port
from tests.helpers.videos import VideoSpec, make_video
from tests.helpers.wavcheck import read_wav, sha256_file


# -- import purity ----------------------------------------------------------------------------
def test_client_imports_without_numeric_libraries():
    code = ("import sys, scorecut.plugins.client as c; "
            "bad = [m for m in ('numpy', 'torch', 'av') if m in sys.modules]; "
            "assert not bad, bad; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


# -- media fragments --------------------------------------------------------------------------
@pytest.mark.parametrize("arg, expected", [
    ("clip.mp4", ("clip.mp4", 0.0, None)),
    ("clip.mp4#t=1.5,4", ("clip.mp4", 1.5, 4.0)),
    ("clip.mp4#t=10", ("clip.mp4", 10.0, None)),
    ("clip.mp4#t=,20", ("clip.mp4", 0.0, 20.0)),
    ("clip.mp4#t=npt:1:02.5,1:10", ("clip.mp4", 62.5, 70.0)),
    ("clip.mp4#t=0:01:00,0:01:30", ("clip.mp4", 60.0, 90.0)),
    ("dir/a#b.mp4#t=2,3", ("dir/a#b.mp4", 2.0, 3.0)),
    ("clip.mp4#xywh=0,0,10,10&t=2,3", ("clip.mp4", 2.0, 3.0)),
    ("clip.mp4#chapter2", ("clip.mp4#chapter2", 0.0, None)),  # not temporal: a (missing) file name
])
def test_parse_media_fragment(arg, expected):
    clip = parse_media_fragment(arg)
    assert (clip.path, clip.source_in_s, clip.source_out_s) == expected


@pytest.mark.parametrize("arg", ["clip.mp4#t=4,1.5", "clip.mp4#t=a,b", "clip.mp4#t=,", "clip.mp4#t=1:2:3:4"])
def test_parse_media_fragment_rejects_bad_ranges(arg):
    with pytest.raises(ValueError, match="#t="):
        parse_media_fragment(arg)


def test_file_whose_name_contains_hash_is_taken_literally(tmp_path):
    literal = tmp_path / "take#t=1,2.mp4"  # looks like a fragment, but the file exists
    literal.write_bytes(b"x")
    clip = parse_media_fragment(str(literal))
    assert (clip.path, clip.source_in_s, clip.source_out_s) == (str(literal), 0.0, None)
    ranged = parse_media_fragment(f"{literal}#t=0.5,1")
    assert (ranged.path, ranged.source_in_s, ranged.source_out_s) == (str(literal), 0.5, 1.0)


# -- WAV writing ------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt, width", [("s24le", 3), ("s16le", 2)])
@pytest.mark.parametrize("channels", [1, 2])
def test_streaming_wav_is_read_by_stdlib_wave(tmp_path, fmt, width, channels):
    frames = 1001  # odd byte count for mono 24-bit: exercises the RIFF pad byte
    pcm = bytes((i * 7) % 256 for i in range(frames * channels * width))
    path = tmp_path / "x.wav"
    with open(path, "wb") as f:
        wav = StreamingWav(f, channels, 44_100, fmt)
        half = (frames // 2) * channels * width
        wav.write(0, pcm[:half])
        wav.write(frames // 2, pcm[half:])
        wav.finish()
    with wave.open(str(path)) as w:
        shape = (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes())
        assert shape == (channels, width, 44_100, frames)
        assert w.readframes(frames) == pcm
    assert path.stat().st_size % 2 == 0


def test_wav_header_float_and_multichannel_layouts():
    f32 = wav_header(10, 2, 48_000, "f32le")
    assert struct.unpack("<H", f32[20:22])[0] == 3  # IEEE float
    assert b"fact" in f32 and f32.endswith(b"data" + struct.pack("<I", 80))
    six = wav_header(10, 6, 48_000, "s24le")
    tag, channels, rate, byte_rate, align, bits, cb, valid, mask = struct.unpack("<HHIIHHHHI", six[20:44])
    assert (tag, channels, align, bits, cb, valid, mask) == (0xFFFE, 6, 18, 24, 22, 24, 0x3F)
    assert struct.unpack("<I", six[4:8])[0] == len(six) - 8 + 180


def test_streaming_wav_refuses_out_of_order_audio():
    wav = StreamingWav(io.BytesIO(), 2, 48_000, "s24le")
    wav.write(0, b"\0" * 6 * 10)
    with pytest.raises(ValueError, match="out of order"):
        wav.write(20, b"\0" * 6)


# -- requests ---------------------------------------------------------------------------------
def test_build_request_places_clips_back_to_back(tmp_path):
    a, b = str(tmp_path / "a.mp4"), str(tmp_path / "b.mp4")
    request = build_request([ClipSpec(a, 1.0, 4.0), ClipSpec(b, 0.5, 3.3), ClipSpec(a)],
                            JobOptions(seed=0, stems=("drums",), loudness_lufs=-20),
                            media_ids={b: "f" * 64})
    c0, c1, c2 = request.clips
    assert (c0.path, c0.record_start_s, c0.record_end_s) == (a, 0.0, 3.0)
    assert (c1.media_id, c1.record_start_s, c1.record_end_s) == ("f" * 64, 3.0, pytest.approx(5.8))
    assert (c2.source_out_s, c2.record_end_s) == (0.0, 0.0)  # the server resolves the media's end
    assert request.options.HasField("seed") and request.options.seed == 0
    assert request.options.loudness_lufs == -20 and list(request.options.stems) == ["drums"]
    assert not build_request([ClipSpec(a)]).options.HasField("seed")


@pytest.mark.parametrize("seed", [-1, 2**64, 99999999999999999999, 1.5, "7"])
def test_seeds_the_contract_cannot_carry_are_refused_clearly(tmp_path, seed):
    from scorecut.plugins.client import InvalidRequest

    with pytest.raises(InvalidRequest, match="seed .* give a seed from 0 to 18446744073709551615") as refused:
        build_request([ClipSpec(str(tmp_path / "a.mp4"))], JobOptions(seed=seed))
    assert isinstance(refused.value, JobFailed) and isinstance(refused.value, ValueError)
    assert refused.value.code == "INVALID_ARGUMENT"
    # The client refuses before it looks for a server (none runs at this port).
    with ScorecutClient(f"127.0.0.1:{free_port()}") as client, pytest.raises(InvalidRequest):
        client.score([ClipSpec(str(tmp_path / "a.mp4"))], JobOptions(seed=seed), out_dir=tmp_path, name="x")
    assert list(tmp_path.iterdir()) == []


def test_seeds_at_the_ends_of_the_range_are_sent(tmp_path):
    for seed in (0, 2**64 - 1):
        assert build_request([ClipSpec(str(tmp_path / "a.mp4"))], JobOptions(seed=seed)).options.seed == seed


def test_loopback_detection():
    assert is_loopback("127.0.0.1:50777") and is_loopback("localhost:1") and is_loopback("[::1]:5")
    assert not is_loopback("10.1.2.3:50777") and not is_loopback("render-node:50777")


def test_no_server_raises_server_unavailable_with_the_fix(tmp_path):
    with ScorecutClient(f"127.0.0.1:{free_port()}") as client:
        assert not client.ping(timeout=0.5)
        with pytest.raises(ServerUnavailable, match="scorecut serve"):
            client.score([ClipSpec(str(tmp_path / "x.mp4"))], out_dir=tmp_path / "out", name="x")
    assert not (tmp_path / "out").exists()


# -- real jobs --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def client_video(media_root):
    return make_video(media_root / "client_video.mp4", VideoSpec(6.0, cuts_s=(1.7, 3.9), seed=21))


def test_server_error_raises_job_failed_with_its_message(server, tmp_path, client_video):
    with ScorecutClient(server.address) as client:
        with pytest.raises(JobFailed) as info:
            client.score([ClipSpec(str(client_video), 4.0, 2.0)], out_dir=tmp_path, name="bad")
    assert info.value.code == "INVALID_ARGUMENT" and "in point" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_cancel_midway_raises_and_leaves_nothing(server, tmp_path, client_video):
    cancel = threading.Event()
    seen = []

    def on_event(event):
        seen.append(event.kind)
        if event.kind == "progress" and event.fraction > 0.0:
            cancel.set()  # midway: the job has started working

    out_dir = tmp_path / "out"
    with ScorecutClient(server.address) as client:
        with pytest.raises(JobCancelled):
            client.score([ClipSpec(str(client_video))], JobOptions(seed=987_654), out_dir=out_dir,
                         name="cancelled", on_event=on_event, cancel=cancel)
        assert "manifest" not in seen and "accepted" in seen
        assert not out_dir.exists() or list(out_dir.iterdir()) == []
        assert client.ping()  # the server still serves


def test_server_killed_during_the_job_says_it_stopped_during_the_job(fresh_server, media_root, tmp_path):
    srv = fresh_server()
    video = make_video(media_root / "killed_mid_job.mp4", VideoSpec(20.0, cuts_s=(5.0, 12.0), seed=23))

    def on_event(event):
        if event.kind == "accepted":  # the server has taken the job: now it dies, no goodbye
            srv.proc.kill()

    out_dir = tmp_path / "out"
    with ScorecutClient(srv.address) as client:
        with pytest.raises(ServerUnavailable) as info:
            client.score([ClipSpec(str(video))], out_dir=out_dir, name="killed", on_event=on_event)
    error = info.value
    assert error.during_job and error.job_id
    assert "stopped during the job" in str(error) and "no Scorecut server answers" not in str(error)
    assert not out_dir.exists() or list(out_dir.iterdir()) == []


def _hashes(score: dict) -> dict[str, str]:
    return {e["name"]: e["sha256"] for e in (score["mix"], *score["stems"])}


def test_upload_once_and_same_result_as_path_reference(server, fresh_server, media_root, tmp_path):
    video = make_video(media_root / "upload_video.mp4", VideoSpec(4.0, cuts_s=(1.3,), seed=33))
    remote_server = fresh_server()  # its own cache: nothing there before
    options = JobOptions(seed=5, stems=("drums", "bass"))
    with ScorecutClient(remote_server.address, remote=True) as remote:
        first = remote.score([ClipSpec(str(video))], options, out_dir=tmp_path / "remote", name="one")
        assert remote.uploads == 1
        second = remote.score([ClipSpec(str(video), 1.0, 3.0)], options, out_dir=tmp_path / "remote", name="two")
        assert remote.uploads == 1  # HasMedia said the server has it
    assert second.score["mix"]["samples"] == round(2.0 * second.score["sample_rate"])
    with ScorecutClient(server.address) as local:  # another server, reading the file by path
        by_path = local.score([ClipSpec(str(video))], options, out_dir=tmp_path / "local", name="one")
    assert _hashes(first.score) == _hashes(by_path.score)
    assert sha256_file(first.mix) == sha256_file(by_path.mix)
    assert set(first.stems) == {"drums", "bass"}
    for result in (first, by_path):
        assert json.loads((result.folder / "score.json").read_text()) == result.score
        assert read_wav(result.mix)[0].shape[0] == result.score["mix"]["samples"]
    # score.json records the request as made here: the same record whether the media went by path or upload.
    st = video.stat()
    assert first.score["request"] == by_path.score["request"] == {
        "clips": [{"path": str(video), "name": "upload_video.mp4"}],
        "options": {"seed": 5, "stems": ["drums", "bass"]},
        "media": [{"size": st.st_size, "modified_ns": st.st_mtime_ns}]}
    assert second.score["request"]["clips"][0] == {"path": str(video), "name": "upload_video.mp4",
                                                   "source_in_s": 1.0, "source_out_s": 3.0,
                                                   "record_end_s": 2.0}


def test_local_media_outside_the_servers_roots_is_uploaded_instead(server, tmp_path):
    """A local server refuses paths outside its --media-root; the client then sends the file."""
    outside = Path(tempfile.mkdtemp(prefix="scorecut-outside-", dir="/var/tmp"))
    try:
        video = make_video(outside / "elsewhere.mp4", VideoSpec(2.0, cuts_s=(0.8,), seed=34))
        before = sha256_file(video)
        with ScorecutClient(server.address) as local:
            assert not local.remote
            result = local.score([ClipSpec(str(video))], JobOptions(seed=2, stems=("drums",)),
                                 out_dir=tmp_path, name="elsewhere")
            assert local.uploads == 1
        assert result.score["mix"]["samples"] == round(2.0 * result.score["sample_rate"])
        assert sha256_file(video) == before
    finally:
        shutil.rmtree(outside)


# -- writing a job's events (the wire messages the server sends) -------------------------------
def _events(job_id: str, frames: int, *, corrupt: str = "", stems=("drums", "bass")):
    """A job's ScoreEvents as the server streams them: mono s16le stems and a mix equal to their sum."""
    import hashlib

    from scorecut.v1 import scorecut_pb2 as pb

    pcm = {name: struct.pack(f"<{frames}h", *[(i * (k + 3)) % 2000 - 1000 for i in range(frames)])
           for k, name in enumerate(stems)}
    pcm = {"mix": struct.pack(f"<{frames}h", *[sum(struct.unpack_from("<h", pcm[s], 2 * i)[0] for s in stems)
                                              for i in range(frames)]), **pcm}
    yield pb.ScoreEvent(job_id=job_id, accepted=pb.Accepted())
    yield pb.ScoreEvent(job_id=job_id, progress=pb.Progress(stage="analysis", fraction=0.3))
    infos = []
    for name, data in pcm.items():
        for offset in range(0, frames, 300):
            chunk = data[2 * offset: 2 * (offset + 300)]
            yield pb.ScoreEvent(job_id=job_id, chunk=pb.StemChunk(stem=name, channels=1, sample_rate=8000,
                                offset_frames=offset, pcm=chunk, sample_format="s16le"))
        digest = hashlib.sha256(data if name != corrupt else b"other").hexdigest()
        infos.append(pb.StemInfo(name=name, frames=frames, channels=1, sample_rate=8000, sha256=digest,
                                 sample_format="s16le"))
    score_json = json.dumps({"version": "0.1.0", "model": "composer", "seed": 7, "tempo_bpm": 90.0})
    yield pb.ScoreEvent(job_id=job_id, manifest=pb.Manifest(stems=infos, model="composer", seed=7,
                                                            version="0.1.0", score_json=score_json))


def test_write_job_lands_the_layout_and_replaces_an_older_result(tmp_path):
    from scorecut.plugins.client import write_job

    out = tmp_path / "out"
    kinds = []
    first = write_job(_events("j1", 1000), out, "take", on_event=lambda e: kinds.append(e.kind))
    assert kinds[:2] == ["accepted", "progress"] and kinds[-1] == "manifest"
    assert first.folder == out / "take" and set(first.stems) == {"drums", "bass"}
    assert sorted(p.name for p in first.folder.iterdir()) == ["bass.wav", "drums.wav", "mix.wav", "score.json"]
    score = json.loads((first.folder / "score.json").read_text())
    assert score["tempo_bpm"] == 90.0 and score["sample_rate"] == 8000
    assert [e["name"] for e in score["stems"]] == ["drums", "bass"]
    for entry in (score["mix"], *score["stems"]):
        assert entry["samples"] == 1000 and entry["sha256"] == sha256_file(first.folder / entry["file"])
    mix, drums, bass = (read_wav(first.folder / f"{n}.wav")[0] for n in ("mix", "drums", "bass"))
    assert mix.shape == (1000, 1) and (mix == drums + bass).all()

    (first.folder / "stale.txt").write_text("from the old result")
    second = write_job(_events("j2", 1200), out, "take", replace=True)
    assert second.replaced and second.folder == out / "take"
    assert second.score["mix"]["samples"] == 1200 and not (second.folder / "stale.txt").exists()
    assert sorted(p.name for p in out.iterdir()) == ["take"]  # nothing aside, nothing temporary


def test_write_job_failure_leaves_nothing(tmp_path):
    from scorecut.plugins.client import write_job

    out = tmp_path / "out"
    with pytest.raises(JobFailed) as info:
        write_job(_events("j", 500, corrupt="bass"), out, "take")
    assert info.value.code == "DATA_LOSS" and "bass" in str(info.value)
    assert not out.exists()  # it did not exist before, so it is gone again

    out.mkdir()
    write_job(_events("j", 500), out, "take")
    before = sha256_file(out / "take" / "mix.wav")

    def stream_then_die():
        yield from list(_events("k", 900))[:5]
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_job(stream_then_die(), out, "take")
    assert sorted(p.name for p in out.iterdir()) == ["take"]  # the older result is untouched
    assert sha256_file(out / "take" / "mix.wav") == before


def test_write_job_refuses_stem_names_that_are_paths(tmp_path):
    from scorecut.plugins.client import write_job
    from scorecut.v1 import scorecut_pb2 as pb

    events = [pb.ScoreEvent(job_id="j", chunk=pb.StemChunk(stem="../evil", channels=1, sample_rate=8000,
                                                           pcm=b"\0\0", sample_format="s16le"))]
    with pytest.raises(JobFailed, match="bad name"):
        write_job(events, tmp_path / "out", "take")
    assert not (tmp_path / "out").exists() and not (tmp_path / "evil.wav").exists()


def test_tls_with_root_certificates(media_root, tmp_path):
    import time

    from tests.helpers.servers import isolated_env

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"], check=True, capture_output=True)
    port = free_port()
    address = f"127.0.0.1:{port}"
    home = tmp_path / "home"
    log = open(tmp_path / "server.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "scorecut.cli.main", "serve", "--port", str(port),
                             "--media-root", str(media_root), "--tls-cert", str(cert), "--tls-key", str(key)],
                            env=isolated_env(home), stdout=log, stderr=subprocess.STDOUT)
    try:
        with ScorecutClient(address, root_certificates=cert.read_bytes()) as client:
            deadline = time.monotonic() + 90
            while not client.ping(timeout=1.0):
                assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "server.log").read_text()
                time.sleep(0.2)
            video = make_video(media_root / "tls_src.mp4", VideoSpec(2.0, seed=95))
            result = client.score([ClipSpec(str(video))], JobOptions(stems=("bass",)), out_dir=tmp_path / "out",
                                  name="tls")
            assert result.score["mix"]["samples"] == round(2.0 * result.score["sample_rate"])
            assert set(result.stems) == {"bass"}
        with ScorecutClient(address) as plaintext:  # no TLS: the server does not answer it
            assert not plaintext.ping(timeout=1.0)
        cli = subprocess.run([sys.executable, "-m", "scorecut.cli.main", "score", str(video), "--server",
                              address, "--tls-ca", str(cert), "--out-dir", str(tmp_path / "cli"), "--stems", "drums"],
                             env=isolated_env(home), capture_output=True, text=True, timeout=120)
        assert cli.returncode == 0, cli.stderr
        assert (tmp_path / "cli" / "tls_src" / "drums.wav").is_file()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


# -- where the WAVs are placed: the start timecode the server read -----------------------------
def _time_reference(source, stem: str = "mix") -> int:
    from scorecut.plugins.client.bext import read_bext

    return read_bext(b"RIFF\0\0\0\0WAVE" + source.chunk(stem, 48_000))["time_reference"]


@pytest.fixture(scope="module")
def camera_clip(tmp_path_factory):
    """A camera clip starting at 10:00:05:12 (25 fps), the timecode a tag on its picture stream."""
    from tests.helpers.timecode import with_timecode

    folder = tmp_path_factory.mktemp("camera")
    plain = make_video(folder / "plain.mp4", VideoSpec(1.0, seed=2))
    return with_timecode(plain, folder / "camera.mov", "10:00:05:12")


def test_bext_takes_the_start_timecode_the_server_sent(camera_clip):
    """Analysis.clip_media is believed as sent: a value unlike the file's tag, and a clip the server
    found no timecode on, show that the client did not read the file itself."""
    from scorecut.plugins.client.bext import BextSource
    from scorecut.v1 import scorecut_pb2 as pb

    clips = [ClipSpec(str(camera_clip), source_in_s=0.25)]
    said = BextSource("take", None, clips, None)
    said.use_analysis(pb.Analysis(clip_media=[pb.ClipMedia(start_timecode_s=3600.0)]))
    assert _time_reference(said) == round((3600.0 + 0.25) * 48_000)
    none = BextSource("take", None, clips, None)
    none.use_analysis(pb.Analysis(clip_media=[pb.ClipMedia()]))
    assert _time_reference(none) == 0  # the server found none: midnight, the file unopened


def test_bext_reads_the_file_when_an_older_server_sends_no_timecodes(camera_clip):
    from scorecut.plugins.client.bext import BextSource
    from scorecut.v1 import scorecut_pb2 as pb
    from tests.helpers.timecode import timecode_s

    clips = [ClipSpec(str(camera_clip), source_in_s=0.25)]
    expected = round((timecode_s("10:00:05:12", 25) + 0.25) * 48_000)
    older = BextSource("take", None, clips, None)
    older.use_analysis(pb.Analysis(duration_s=1.0))  # no clip_media: a server from before the field
    assert _time_reference(older) == expected
    assert _time_reference(BextSource("take", None, clips, None)) == expected  # no analysis at all
    timeline = BextSource("take", None, clips, 7200.0)  # a front end that knows its timeline wins
    timeline.use_analysis(pb.Analysis(clip_media=[pb.ClipMedia(start_timecode_s=3600.0)]))
    assert _time_reference(timeline) == 7200 * 48_000
