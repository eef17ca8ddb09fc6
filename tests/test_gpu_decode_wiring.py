"""The server and the CLI choose what decodes the pictures: `scorecut serve --decode auto|cpu|cuda`
(auto follows the models' device), `scorecut analyze --decoder`. This machine has no GPU: a request
for the GPU falls back to the CPU, says why, and gives the CPU's cuts and music."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.helpers.server_calls import clip, request, score, video
from tests.helpers.servers import isolated_env, start_server

CUTS_S = (1.2, 2.6)


@pytest.fixture(scope="module")
def cut_video(media_root):
    return video(media_root, "decode-wiring.mp4", 4.0, CUTS_S)


@pytest.fixture(scope="module")
def cpu_take(tmp_path_factory, media_root, cut_video):
    """A take from a server on the CPU: its log, and the stream it sent."""
    srv = start_server(tmp_path_factory, media_root, "--device", "cpu")
    try:
        return srv.log(), score(srv.address, request(clip(cut_video, source_out_s=4.0), seed=7))
    finally:
        srv.stop()


def _analysis(take):
    return next(e.analysis for e in take.events if e.WhichOneof("event") == "analysis")


def test_a_server_on_the_cpu_decodes_on_the_cpu(cpu_take):
    log, take = cpu_take
    assert "device cpu, pictures decoded on cpu" in log
    assert "--decode" not in log and "cannot be decoded" not in log  # nothing fell back: nothing to say
    cuts = list(_analysis(take).cuts_s)
    assert cuts == pytest.approx(list(CUTS_S), abs=0.02)


def test_a_server_asked_for_the_gpu_here_falls_back_says_why_and_cuts_alike(tmp_path_factory, media_root,
                                                                            cut_video, cpu_take):
    from scorecut.server.picture_decoder import nvdec_unavailable

    why = nvdec_unavailable()
    if not why:
        pytest.skip("this machine can decode on the GPU: the fall-back is not what it does")
    srv = start_server(tmp_path_factory, media_root, "--device", "cpu", "--decode", "cuda")
    try:
        take = score(srv.address, request(clip(cut_video, source_out_s=4.0), seed=7))
        log = srv.log()
    finally:
        srv.stop()
    assert f"--decode cuda: pictures cannot be decoded on the GPU here: {why}; the CPU decodes them" in log
    assert "pictures decoded on cpu" in log
    cpu = cpu_take[1]
    assert list(_analysis(take).cuts_s) == list(_analysis(cpu).cuts_s)
    assert list(_analysis(take).motion) == list(_analysis(cpu).motion)
    assert take.manifest.stems and [(s.name, s.sha256) for s in take.manifest.stems] == \
        [(s.name, s.sha256) for s in cpu.manifest.stems]


@pytest.mark.parametrize("args, words", [
    (["serve", "--decode", "gpu"], ["--decode", "cpu", "cuda"]),
    (["serve", "--ray", "local", "--decode", "cuda"], ["--decode cuda", "--ray", "CPU"]),
    (["analyze", "no-such.mp4", "--decoder", "nvdec"], ["--decoder", "cpu", "cuda"]),
])
def test_a_bad_choice_is_refused_in_words_with_exit_2(tmp_path, args, words):
    done = subprocess.run([sys.executable, "-m", "scorecut.cli.main", *args], env=isolated_env(tmp_path),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    for word in words:
        assert word in done.stderr, done.stderr


def test_auto_follows_the_models_device():
    from scorecut.server.picture_decoder import PictureDecoder, nvdec_unavailable, picture_decoder

    assert picture_decoder("auto", "cpu") == PictureDecoder("cpu")
    assert picture_decoder("cpu", "cuda:0") == PictureDecoder("cpu")
    why = nvdec_unavailable()
    for decode, device in (("auto", "cuda:0"), ("auto", "cuda:1"), ("cuda", "cpu")):
        chosen = picture_decoder(decode, device)
        if why:
            assert chosen.name == "cpu" and why in chosen.note
        else:
            assert chosen == PictureDecoder("cuda")
    with pytest.raises(ValueError, match="auto, cpu, cuda"):
        picture_decoder("gpu", "cpu")
    from scorecut.server.config import ServerConfig

    assert ServerConfig(decode="cuda").problems() == []
    assert any("--decode auto, cpu, cuda" in p for p in ServerConfig(decode="gpu").problems())


def test_a_gpu_analysis_is_keyed_apart_from_a_cpu_one(tmp_path, media_root, cut_video):
    """The results cache and the worker's analyses are keyed by the request's analysis key: a "cuda"
    server's differs from a CPU server's for the same clips and options."""
    from scorecut.models.composer.model import ComposerModel
    from scorecut.server.config import ServerConfig
    from scorecut.server.media import FileHasher, UploadStore
    from scorecut.server.request import MediaProber, build_job_spec

    infos = {"composer": ComposerModel().info()}
    req = request(clip(cut_video, source_out_s=4.0), seed=7)
    specs = {}
    for decode in ("cpu", "cuda"):
        config = ServerConfig(media_roots=(media_root,), cache_dir=tmp_path / "cache", decode=decode)
        tools = (UploadStore(config.uploads, config.max_upload_bytes), MediaProber(), FileHasher())
        specs[decode] = build_job_spec(req, "ipv4:127.0.0.1:5555", config, infos, *tools)
    assert specs["cpu"].analysis_key != specs["cuda"].analysis_key
    assert specs["cpu"].result_key != specs["cuda"].result_key


def test_the_worker_asks_the_analysis_for_its_decoder(tmp_path, media_root, cut_video, caplog):
    """A queue told to decode on the GPU passes that to the analysis, which decodes where it can
    and notes why not; the worker logs the note."""
    from scorecut.models.composer.model import ComposerModel
    from scorecut.server.config import ServerConfig
    from scorecut.server.jobs import Done, JobQueue
    from scorecut.server.media import FileHasher, UploadStore
    from scorecut.server.picture_decoder import nvdec_unavailable
    from scorecut.server.request import MediaProber, build_job_spec

    config = ServerConfig(media_roots=(media_root,), cache_dir=tmp_path / "cache", decode="cuda")
    tools = (UploadStore(config.uploads, config.max_upload_bytes), MediaProber(), FileHasher())
    spec = build_job_spec(request(clip(cut_video, source_out_s=4.0), seed=7), "ipv4:127.0.0.1:5555", config,
                          {"composer": ComposerModel().info()}, *tools)
    jobs = JobQueue(max_queue=1, device="cpu", model_dir=tmp_path, decoder="cuda")
    jobs.start(warm_model=None)
    try:
        with caplog.at_level("WARNING", logger="scorecut.server"):
            job, _ = jobs.submit(spec)
            while not isinstance(done := job.events.get(timeout=120), Done):
                assert not hasattr(done, "error"), done
    finally:
        jobs.shutdown()
    analysis = done.analysis
    assert list(analysis.cuts_s) == pytest.approx(list(CUTS_S), abs=0.02)
    if nvdec_unavailable():  # no GPU here: the CPU decoded, and the analysis and the log say why
        assert analysis.decoder == "cpu"
        assert "the CPU decoded the pictures" in analysis.decoder_note
        assert f"job {job.id}: {analysis.decoder_note}" in caplog.text
    else:
        assert analysis.decoder == "cuda", analysis.decoder_note


def test_analyze_cli_decoder_choice(tmp_path, cut_video):
    def analyze(*args):
        done = subprocess.run([sys.executable, "-m", "scorecut.cli.main", "analyze", str(cut_video), *args],
                              env=isolated_env(tmp_path), capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    from scorecut.server.picture_decoder import nvdec_unavailable

    cpu = json.loads(analyze("--json", "--decoder", "cpu"))
    assert (cpu["decoder"], cpu["decoder_note"]) == ("cpu", "")
    cuda = json.loads(analyze("--json", "--decoder", "cuda"))
    auto = json.loads(analyze("--json"))
    if nvdec_unavailable():
        assert cuda["decoder"] == "cpu" and "the CPU decoded the pictures" in cuda["decoder_note"]
        assert (auto["decoder"], auto["decoder_note"]) == ("cpu", "")  # auto never asks for what is not here
        assert cuda["cuts_s"] == cpu["cuts_s"] and cuda["motion"] == cpu["motion"]
    else:
        assert cuda["decoder"] == auto["decoder"] == "cuda"
    assert "pictures decoded on: cpu\n" in analyze("--decoder", "cpu")
