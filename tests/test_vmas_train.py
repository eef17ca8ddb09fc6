"""VMAS training, checkpoints and serving: `scorecut train` on PyAV-made music videos, bit-exact
resume, exact save/load, corrupted checkpoints refused, registry availability, exact-length
compose through the shared post-processing."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import numpy as np
import pytest
import torch
from vmas_media import make_music_video, make_scored_video

from scorecut.models.interface import Cancelled, Clip, ModelUnavailable, RequestError, ScoreOptions, Segment
from scorecut.models.registry import load_model, model_infos
from scorecut.models.vmas import serving
from scorecut.models.vmas.checkpoint import CheckpointError, load_checkpoint, serving_weights, sha256_file
from scorecut.models.vmas.config import DEBUG
from scorecut.models.vmas.train import TrainOptions, train
from tests.helpers.servers import isolated_env
from tests.helpers.videos import VideoSpec


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """Made music videos: pictures with cuts, scored by the composer (two 2 s windows each)."""
    d = tmp_path_factory.mktemp("vmas_data")
    for i, (cuts, style) in enumerate((((1.3, 2.9), "cinematic"), ((0.8, 2.2, 3.1), "electronic"),
                                       ((2.0,), "ambient"))):
        make_scored_video(d / f"clip{i}.mp4", VideoSpec(4.0, cuts_s=cuts, size=(64, 48), seed=i), seed=i, style=style)
    make_music_video(d / "silent.mp4", 4.0, seed=9, audio=False)  # no soundtrack: skipped
    return d


@pytest.fixture(scope="module")
def cli_run(data_dir, tmp_path_factory):
    """`scorecut train` as a user runs it, in its own process."""
    home = tmp_path_factory.mktemp("vmas_home")
    run = home / "run"
    cmd = [sys.executable, "-m", "scorecut.cli.main", "train", "--config", "debug", "--data",
           str(data_dir), "--steps", "40", "--out", str(run), "--batch-size", "4"]
    proc = subprocess.run(cmd, env=isolated_env(home), capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(run / "checkpoint.pt")
    return run, proc


def test_train_cli_writes_falling_metrics_and_a_checkpoint(cli_run):
    run, proc = cli_run
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, 41))
    for r in rows:
        assert {"step", "loss", "ce", "contrastive", "beat"} <= set(r)
        assert np.isfinite(r["loss"])
    first = np.mean([r["loss"] for r in rows[:5]])
    last = np.mean([r["loss"] for r in rows[-5:]])
    assert last < 0.6 * first, (first, last)
    # the silent video was left out; one whole video is held out for validation
    assert "4 training windows of 2 s from 2 videos, 2 held out" in proc.stderr
    validated = [r for r in rows if "val_loss" in r]
    assert [r["step"] for r in validated] == [40]  # at the end (the checkpoint interval is 500)
    assert {"val_ce_q0", "val_ce_q1", "val_beat_f"} <= set(validated[0])
    assert 0.0 <= validated[0]["val_beat_f"] <= 1.0
    samples = sorted(p.name for p in (run / "samples" / "step-000040").iterdir())
    assert len(samples) == 2 and samples[0].endswith(".generated.wav") and samples[1].endswith(".original.wav")
    digest = (run / "checkpoint.pt.sha256").read_text().split()[0]
    assert digest == sha256_file(run / "checkpoint.pt")
    assert json.loads((run / "config.json").read_text())["name"] == "debug"


def test_train_cli_explains_bad_arguments(tmp_path, data_dir):
    base = [sys.executable, "-m", "scorecut.cli.main", "train", "--steps", "1", "--out", str(tmp_path / "r")]
    env = isolated_env(tmp_path)
    bad_config = subprocess.run(base + ["--config", "huge", "--data", str(data_dir)], env=env,
                                capture_output=True, text=True, timeout=60)
    assert bad_config.returncode == 2 and "debug, small, medium" in bad_config.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    no_videos = subprocess.run(base + ["--config", "debug", "--data", str(empty)], env=env,
                               capture_output=True, text=True, timeout=60)
    assert no_videos.returncode == 1 and "no videos under" in no_videos.stderr
    assert "Traceback" not in no_videos.stderr + bad_config.stderr


def _metrics(run):
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "elapsed_s"} for r in rows]


def test_resume_continues_bit_exactly(data_dir, tmp_path):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    quiet = lambda msg: None  # noqa: E731
    cache = tmp_path / "cache"  # decoded once, read by all three runs
    train(DEBUG, data_dir, TrainOptions(steps=12, out=straight, checkpoint_every=6, cache_dir=cache), log=quiet)
    train(DEBUG, data_dir, TrainOptions(steps=12, out=resumed, stop_after=6, cache_dir=cache), log=quiet)  # interrupted
    assert load_checkpoint(resumed / "checkpoint.pt")["step"] == 6
    train(DEBUG, data_dir, TrainOptions(steps=12, out=resumed, resume=True, cache_dir=cache), log=quiet)
    a, b = load_checkpoint(straight / "checkpoint.pt"), load_checkpoint(resumed / "checkpoint.pt")
    assert a["step"] == b["step"] == 12
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name
    assert _metrics(straight) == _metrics(resumed)  # same losses, step for step, across the resume
    with pytest.raises(CheckpointError, match="same --config"):
        other = DEBUG.__class__(**{**DEBUG.__dict__, "name": "other"})
        train(other, data_dir, TrainOptions(steps=13, out=resumed, resume=True, cache_dir=cache), log=quiet)


def test_save_load_is_exact(cli_run):
    run, _ = cli_run
    state = load_checkpoint(run / "checkpoint.pt")
    model = serving.load(checkpoint=str(run / "checkpoint.pt"))
    loaded = model.net.state_dict()
    served = serving_weights(state)  # the moving average of the trained weights
    assert set(loaded) == set(state["model"]) == set(served)
    assert set(state["ema"]["weights"]) == {n for n, _ in model.net.named_parameters()}
    assert any(not torch.equal(state["ema"]["weights"][n], state["model"][n]) for n in state["ema"]["weights"])
    for name, tensor in served.items():
        assert torch.equal(loaded[name], tensor), name
    again = serving.load(checkpoint=str(run / "checkpoint.pt"))
    g = torch.Generator().manual_seed(0)
    batch = {"frames": torch.randint(0, 255, (2, 16, 3, 32, 32), dtype=torch.uint8, generator=g),
             "codes": torch.randint(0, 32, (2, 2, 50), generator=g),
             "music_beat": torch.rand(2, 50, generator=g), "visual_beat": torch.rand(2, 50, generator=g)}
    keep = torch.tensor([True, False])
    with torch.no_grad():
        a, b = model.net.losses(batch, keep=keep), again.net.losses(batch, keep=keep)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_corrupted_checkpoint_is_refused_with_a_clear_message(cli_run, tmp_path):
    run, _ = cli_run
    data = bytearray((run / "checkpoint.pt").read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad = tmp_path / "checkpoint.pt"
    bad.write_bytes(bytes(data))
    (tmp_path / "checkpoint.pt.sha256").write_text((run / "checkpoint.pt.sha256").read_text())
    with pytest.raises(ModelUnavailable, match="corrupted .*sha256"):
        serving.load(checkpoint=str(bad))
    truncated = tmp_path / "alone" / "checkpoint.pt"  # no sha256 beside it: torch notices
    truncated.parent.mkdir()
    truncated.write_bytes(bytes(data[: len(data) // 3]))
    with pytest.raises(ModelUnavailable, match="corrupted or not a VMAS checkpoint"):
        serving.load(checkpoint=str(truncated))
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(ModelUnavailable, match="not a VMAS checkpoint"):
        serving.load(checkpoint=str(other))


def test_registry_lists_vmas_unavailable_until_a_checkpoint_is_installed(cli_run, tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    vmas = {m.name: m for m in model_infos(model_dir=models)}["vmas"]
    assert not vmas.available and vmas.native_output == "mix" and vmas.stems == ()
    assert "scorecut train" in vmas.unavailable_reason and "--checkpoint" in vmas.unavailable_reason
    with pytest.raises(ModelUnavailable, match="scorecut train"):
        load_model("vmas", model_dir=models)
    with pytest.raises(ModelUnavailable, match="no checkpoint at"):
        load_model("vmas", checkpoint=str(tmp_path / "missing.pt"))
    run, _ = cli_run
    (models / "vmas").mkdir()
    for name in ("checkpoint.pt", "checkpoint.pt.sha256"):
        (models / "vmas" / name).write_bytes((run / name).read_bytes())
    assert {m.name: m for m in model_infos(model_dir=models)}["vmas"].available
    assert load_model("vmas", model_dir=models).name == "vmas"


def test_compose_gives_exact_length_music_for_a_timeline_segment(cli_run, data_dir):
    from scorecut.models.analysis import analyze_segment
    from scorecut.models.post import finish

    run, _ = cli_run
    model = serving.load(checkpoint=str(run / "checkpoint.pt"))
    clips = (Clip(str(data_dir / "clip0.mp4"), 0.5, 2.0, 0.0, 1.5),
             Clip(str(data_dir / "clip2.mp4"), 1.0, 3.0, 1.5, 3.3))  # the second one slowed down
    segment = Segment(clips, 3.3)  # longer than the 2 s window: the window slides
    analysis = analyze_segment(segment)
    options = ScoreOptions(model="vmas", seed=3, sample_rate=44_100)
    out = model.compose(segment, analysis, options)
    assert out.stems == {} and out.sample_rate == 44_100
    assert out.native_mix.shape == (2, round(3.3 * 44_100)) and out.native_mix.dtype == np.float32
    assert np.abs(out.native_mix).max() > 1e-3  # music, not silence
    assert all(0 <= b < 3.3 for b in out.plan.beats_s)
    again = model.compose(segment, analysis, options)
    assert np.array_equal(again.native_mix, out.native_mix)  # same seed, same music
    finished = finish(out, analysis, options)
    assert finished.mix.shape == (2, round(3.3 * 44_100)) and finished.stems == {}
    with pytest.raises(RequestError, match="segment"):
        model.compose(None, analysis, options)
    seen = []
    model.compose(segment, analysis, options, progress=lambda stage, f: seen.append(f))
    assert seen and seen[-1] == 1.0 and seen == sorted(seen)
    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled):
        model.compose(segment, analysis, options, cancel=stop)


def test_install_then_verify_serves_from_the_model_folder(cli_run, tmp_path):
    from scorecut.models.vmas.install import install, verify

    run, _ = cli_run
    models = tmp_path / "models"
    path = install(run / "checkpoint.pt", models)
    assert path == models / "vmas" / "checkpoint.pt"
    installed = load_checkpoint(path)
    assert installed["optimizer"] is None  # the serving copy carries no training state
    trained = load_checkpoint(run / "checkpoint.pt")
    assert installed["ema"] is None and installed["base"] is None
    assert all(torch.equal(installed["model"][k], v) for k, v in serving_weights(trained).items())
    report = verify(model_dir=models)
    assert report["installed"] and report["finite"] and report["config"] == "debug"
    assert report["samples"] == DEBUG.codec.sample_rate  # one second of music
    assert {m.name: m for m in model_infos(model_dir=models)}["vmas"].available
    with pytest.raises(CheckpointError, match="no VMAS checkpoint"):
        install(tmp_path / "nothing.pt", models)



def _wav_frames(path) -> int:
    import wave

    with wave.open(str(path)) as w:
        return w.getnframes()


def test_a_real_server_serves_vmas_with_a_checkpoint_and_explains_without(cli_run, data_dir, server, tmp_path):
    run, _ = cli_run
    base = [sys.executable, "-m", "scorecut.cli.main", "score", f"{data_dir / 'clip1.mp4'}#t=0.5,3.2",
            "--model", "vmas", "--server", server.address, "--seed", "5"]
    env = isolated_env(tmp_path)
    missing = subprocess.run(base + ["--out-dir", str(tmp_path / "none")], env=env, capture_output=True,
                             text=True, timeout=120)
    assert missing.returncode != 0 and "scorecut train" in missing.stderr, missing.stderr
    out = tmp_path / "scored"
    ok = subprocess.run(base + ["--checkpoint", str(run / "checkpoint.pt"), "--out-dir", str(out), "--name", "v"],
                        env=env, capture_output=True, text=True, timeout=240)
    assert ok.returncode == 0, ok.stderr
    score = json.loads((out / "v" / "score.json").read_text())
    assert score["model"] == "vmas" and score["sample_rate"] == 48_000
    assert _wav_frames(out / "v" / "mix.wav") == round(2.7 * 48_000)  # exact length
    assert score["stems"] == []  # the native output is the mix


def test_gradient_accumulation_and_device_errors(data_dir, tmp_path):
    quiet = lambda msg: None  # noqa: E731
    run = tmp_path / "accum"
    train(DEBUG, data_dir, TrainOptions(steps=3, out=run, batch_size=2, grad_accum=2), log=quiet)
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3] and all(np.isfinite(r["loss"]) for r in rows)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device"):
            train(DEBUG, data_dir, TrainOptions(steps=1, out=tmp_path / "gpu", device="cuda"), log=quiet)
    with pytest.raises(ValueError, match="unknown device"):
        train(DEBUG, data_dir, TrainOptions(steps=1, out=tmp_path / "tpu", device="tpu"), log=quiet)


def test_cache_is_sharded_and_micro_batches_come_from_one_shard(data_dir, tmp_path, monkeypatch):
    from scorecut.models.vmas import data as vdata
    from scorecut.models.vmas.codec import load_codec

    monkeypatch.setattr(vdata, "SHARD_WINDOWS", 4)
    folder = vdata.build_cache(data_dir, DEBUG, load_codec(DEBUG.codec), tmp_path / "cache")
    ds = vdata.WindowDataset(folder)
    assert ds.counts == [4, 2] and len(ds) == 6 and sorted(p.name for p in folder.glob("shard-*.pt")) == [
        "shard-00000.pt", "shard-00001.pt"]
    g = torch.Generator().manual_seed(0)
    for _ in range(10):
        picks = ds.sample(3, g)
        assert len({i >= 4 for i in picks}) == 1  # all from one shard
    whole = ds.batch(range(6))
    assert whole["frames"].shape == (6, 16, 3, 32, 32) and whole["codes"].shape == (6, 2, 50)
    assert vdata.build_cache(data_dir, DEBUG, load_codec(DEBUG.codec), tmp_path / "cache") == folder  # reused


def test_train_cli_resumes_a_run(cli_run, data_dir, tmp_path):
    import shutil

    run, _ = cli_run
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    before = (copy / "metrics.jsonl").read_text().splitlines()
    cmd = [sys.executable, "-m", "scorecut.cli.main", "train", "--config", "debug", "--data", str(data_dir),
           "--steps", "43", "--out", str(copy), "--batch-size", "4", "--resume"]
    proc = subprocess.run(cmd, env=isolated_env(tmp_path), capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    assert "resuming at step 40" in proc.stderr
    after = (copy / "metrics.jsonl").read_text().splitlines()
    assert after[:40] == before and [json.loads(x)["step"] for x in after[40:]] == [41, 42, 43]
    assert load_checkpoint(copy / "checkpoint.pt")["step"] == 43


def test_models_add_and_verify_cli_install_vmas_for_the_server(cli_run, tmp_path):
    run, _ = cli_run
    env = isolated_env(tmp_path)
    cli = [sys.executable, "-m", "scorecut.cli.main", "models"]

    def models(*args):
        return subprocess.run(cli + list(args), env=env, capture_output=True, text=True, timeout=120)

    before = models("list", "--local")
    assert before.returncode == 0 and "unavailable" in before.stdout.split("vmas", 1)[1].splitlines()[0]
    missing = models("verify", "vmas")
    assert missing.returncode == 1 and "scorecut train" in missing.stderr
    bad = models("add", "vmas", str(tmp_path / "nothing.pt"))
    assert bad.returncode == 1 and "no VMAS checkpoint" in bad.stderr and "Traceback" not in bad.stderr
    added = models("add", "vmas", str(run / "checkpoint.pt"))
    assert added.returncode == 0, added.stderr
    installed = tmp_path / ".local/share/scorecut/models/vmas/checkpoint.pt"
    assert installed.is_file() and str(installed) in added.stdout
    verified = models("verify", "vmas")
    assert verified.returncode == 0 and "vmas: ok" in verified.stdout, verified.stderr
    after = models("list", "--local")
    assert "available" in after.stdout.split("vmas", 1)[1].splitlines()[0]
    assert "unavailable" not in after.stdout.split("vmas", 1)[1].splitlines()[0]


def test_epochs_draw_every_window_once_and_no_video_twice_in_a_batch():
    from scorecut.models.vmas.sampler import EpochSampler, split_by_source

    sources = [f"v{i % 7}.mp4" for i in range(40)]  # 7 videos, 5-6 windows each, interleaved as in shards
    train_idx, held = split_by_source(sources, 0.2)
    assert held and not {sources[i] for i in held} & {sources[i] for i in train_idx}  # whole videos held out
    assert sorted(train_idx + held) == list(range(40))
    s = EpochSampler(train_idx, sources, batch=4, seed=3)
    seen, draw = [], 0
    while len(seen) + 4 <= len(train_idx) - 4:  # well inside the first epoch
        batch = s.draw(draw)
        assert len(batch) == 4 and len({sources[i] for i in batch}) == 4  # no video twice
        seen += batch
        draw += 1
    assert len(seen) == len(set(seen))  # without replacement
    again = EpochSampler(train_idx, sources, batch=4, seed=3)
    assert [again.draw(n) for n in (5, 0, 2)] == [s.draw(5), s.draw(0), s.draw(2)]  # a pure function of the draw
    assert EpochSampler(train_idx, sources, batch=9, seed=0).batch == len({sources[i] for i in train_idx})


def test_a_window_read_late_continues_into_the_same_videos_next_window(data_dir, tmp_path):
    from scorecut.models.vmas.codec import load_codec
    from scorecut.models.vmas.data import WindowDataset, build_cache
    from scorecut.models.vmas.loader import WindowReader
    from scorecut.models.vmas.sampler import WindowRef, grain

    reader = WindowReader(WindowDataset(build_cache(data_dir, DEBUG, load_codec(DEBUG.codec), tmp_path / "c",
                                                    log=lambda m: None)), DEBUG.window_s)
    g = grain(*reader.rates())
    assert g == (8, 25)  # 1 s: 8 frames at 8 fps, 25 codec frames at 25 Hz
    first = reader.has_next.index(True)
    assert reader.sources[first + 1] == reader.sources[first] and not reader.has_next[first + 1]
    a, b = reader.window(first), reader.window(first + 1)
    late = reader.read(WindowRef(first, 1), g)
    video_key = next(k for k in late if k not in ("codes", "music_beat", "visual_beat"))
    assert torch.equal(late["codes"], torch.cat([a["codes"], b["codes"]], 1)[:, 25:75])
    assert torch.equal(late[video_key], torch.cat([a[video_key], b[video_key]])[8:24])
    assert torch.equal(late["music_beat"], torch.cat([a["music_beat"], b["music_beat"]])[25:75])
    assert torch.equal(reader.read(WindowRef(first, 0), g)["codes"], a["codes"])


def test_weight_decay_falls_on_matrices_only():
    from scorecut.models.vmas.model import VmasNet
    from scorecut.models.vmas.optim import decay_split, make_optimizer

    net = VmasNet(DEBUG)
    decayed, plain = decay_split(net)
    assert "logit_scale" in plain
    assert any("embed_tokens" in n for n in plain) and not any("embed_tokens" in n or "emb." in n for n in decayed)
    assert not any(n.endswith(".bias") for n in decayed)
    assert not any("norm" in n or ".ln" in n for n in decayed)  # LayerNorm / GroupNorm gains
    assert all(n.endswith(".weight") for n in decayed) and "lm.layers.0.fc1.weight" in decayed
    assert set(decayed) | set(plain) == {n for n, _ in net.named_parameters()}
    groups = make_optimizer(net, 1e-3, 0.1).param_groups
    assert [g["weight_decay"] for g in groups] == [0.1, 0.0]


def test_the_prefetcher_keeps_order_and_raises_the_loaders_error():
    from scorecut.models.vmas.loader import Prefetcher

    with Prefetcher(range(5), lambda d: {"x": torch.tensor([d])}) as p:
        assert [d for d, _ in p] == list(range(5))

    def broken(d):
        if d == 2:
            raise ValueError("edit2.mp4: its sound cannot be decoded")
        return {"x": torch.tensor([d])}

    got = []
    with pytest.raises(ValueError, match="edit2.mp4"), Prefetcher(range(5), broken) as p:
        for d, _ in p:
            got.append(d)
    assert got == [0, 1]


def test_torchrun_trains_data_parallel_with_one_writer(data_dir, tmp_path):
    import shutil

    torchrun = shutil.which("torchrun", path=str(__import__("pathlib").Path(sys.executable).parent))
    assert torchrun, "torchrun comes with torch"
    run = tmp_path / "ddp"
    cmd = [torchrun, "--nproc-per-node", "2", "-m", "scorecut.cli.main", "train", "--config", "debug", "--data",
           str(data_dir), "--steps", "3", "--out", str(run), "--batch-size", "1", "--device", "cpu",
           "--samples", "0"]
    proc = subprocess.run(cmd, env=isolated_env(tmp_path), capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [str(run / "checkpoint.pt")]  # rank 0 alone answers
    assert proc.stderr.count("step 3/3") == 1  # and logs
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3] and "val_loss" in rows[-1]
    assert load_checkpoint(run / "checkpoint.pt")["step"] == 3  # the ranks ended in step (checked by train)


@pytest.mark.skipif(__import__("importlib").util.find_spec("demucs") is not None, reason="a separator is installed")
def test_remove_vocals_without_a_separator_says_what_to_install(data_dir, tmp_path):
    cmd = [sys.executable, "-m", "scorecut.cli.main", "train", "--config", "debug", "--data", str(data_dir),
           "--steps", "1", "--out", str(tmp_path / "r"), "--remove-vocals"]
    proc = subprocess.run(cmd, env=isolated_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "--remove-vocals needs a source separator" in proc.stderr and "pip install demucs" in proc.stderr
    assert not (tmp_path / "r" / "cache").exists()  # refused before decoding anything
