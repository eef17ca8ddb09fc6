"""Fine-tuning VMAS on a frozen MusicGen (`scorecut train --init musicgen`), on CPU.

A tiny random MusicGen folder (tests/vmas_musicgen.py) is installed with `scorecut models add
musicgen` into an isolated model folder; six PyAV-made music videos are the user's edits. One
module-scoped 30-step run is then asked: did the loss fall, is the frozen base bit-identical, is
the trainable parameter count the config's (counted here from the shapes), does the checkpoint
hold only the trained weights and serve through a real server, and is a missing or different
base refused by name.
"""

from __future__ import annotations

import json
import subprocess
import sys
import wave

import numpy as np
import pytest
import torch
from vmas_media import make_music_video
from vmas_musicgen import save_tiny_musicgen

from scorecut.models.interface import ModelUnavailable
from scorecut.models.vmas import finetune, serving
from scorecut.models.vmas.checkpoint import load_checkpoint
from scorecut.models.vmas.config import DEBUG
from scorecut.models.vmas.pretrained import load_musicgen, weights_sha256
from scorecut.models.vmas.train import TrainOptions, train
from tests.helpers.servers import ServerProcess, free_port, isolated_env

STEPS = 30
BPMS = (90, 105, 120, 135, 150, 165)


def _models_dir(home):
    return home / ".local/share/scorecut/models"  # where isolated_env(home) puts the model folder


def _cli(*args, env, timeout=300):
    return subprocess.run([sys.executable, "-m", "scorecut.cli.main", *args], env=env, capture_output=True,
                          text=True, timeout=timeout)


def _named(folder, name):
    """The name a published folder's config.json carries (facebook/musicgen-small: `_name_or_path`)."""
    path = folder / "config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "_name_or_path": name}, indent=2))
    return folder


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Videos, two different tiny MusicGens, a user home with the first one installed."""
    root = tmp_path_factory.mktemp("vmas_ft")
    data = root / "videos"
    data.mkdir()
    for i, bpm in enumerate(BPMS):
        make_music_video(data / f"edit{i}.mp4", 2.0, bpm=bpm, seed=i)
    base = _named(save_tiny_musicgen(root / "musicgen-tiny", seed=0), "test/musicgen-tiny")
    other = _named(save_tiny_musicgen(root / "musicgen-other", seed=1), "test/musicgen-other")
    home = root / "home"
    added = _cli("models", "add", "musicgen", str(base), env=isolated_env(home), timeout=120)
    assert added.returncode == 0, added.stderr
    return {"root": root, "data": data, "base": base, "other": other, "home": home}


@pytest.fixture(scope="module")
def run(world):
    """A 30-step fine-tune on the installed MusicGen; the trained network is kept for inspection."""
    made = []
    prepare = finetune.prepare

    def keep(*args, **kwargs):  # the real prepare; the test keeps what it built
        made.append(prepare(*args, **kwargs))
        return made[-1]

    finetune.prepare = keep
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model: threads only contend on a shared machine
    try:
        out = world["root"] / "run"
        log = []
        opts = TrainOptions(steps=STEPS, out=out, init="musicgen", model_dir=_models_dir(world["home"]),
                            batch_size=4, lr=3e-3, checkpoint_every=STEPS, validate_every=STEPS, samples=1,
                            precision="bf16")
        path = train(DEBUG, world["data"], opts, log=log.append)
    finally:
        finetune.prepare = prepare
        torch.set_num_threads(threads)
    return {"path": path, "out": out, "setup": made[0], "log": log}


def test_loss_falls_and_validation_is_recorded(run):
    rows = [json.loads(x) for x in (run["out"] / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, STEPS + 1))
    first = np.mean([r["loss"] for r in rows[:5]])
    last = np.mean([r["loss"] for r in rows[-5:]])
    assert last < 0.9 * first, (first, last)
    end = rows[-1]
    assert {"val_loss", "val_ce_q0", "val_ce_q1", "val_ce_q2", "val_ce_q3", "val_beat_f"} <= set(end)
    assert any("training windows of 0.5 s" in line for line in run["log"])  # the tiny base's 256 positions
    assert any("1 held out" in line or "held out" in line for line in run["log"])
    wavs = sorted((run["out"] / "samples" / f"step-{STEPS:06d}").glob("*.wav"))
    assert [w.name.split(".", 1)[1] for w in wavs] == ["generated.wav", "original.wav"]
    with wave.open(str(wavs[0])) as w:
        assert w.getframerate() == 8000 and w.getnframes() == 4000  # 0.5 s at the tiny EnCodec's rate


def test_the_frozen_base_is_bit_identical_after_training(run, world):
    net = run["setup"].net
    fresh = load_musicgen(world["base"]).lm.state_dict()
    trained_lm = {finetune._base_name(n): p for n, p in net.lm.named_parameters()}
    checked = 0
    for name in load_musicgen(world["base"]).lm.base_parameter_names():
        assert not trained_lm[name].requires_grad, name
        assert torch.equal(trained_lm[name].detach(), fresh[name]), name
        checked += 1
    assert checked > 20
    assert weights_sha256(world["base"]) == run["setup"].base["sha256"]


def test_trainable_parameter_count_is_what_the_config_says(run, world):
    from scorecut.models.vmas.video_encoder import VideoEncoder

    net, setup = run["setup"].net, run["setup"]
    musicgen = json.loads((world["base"] / "config.json").read_text())["decoder"]
    d, layers, heads = musicgen["hidden_size"], musicgen["num_hidden_layers"], musicgen["num_attention_heads"]
    n_q, card = musicgen["num_codebooks"], musicgen["vocab_size"]
    r = finetune.LORA_RANKS["debug"]
    v, e = DEBUG.video.dim, DEBUG.embed_dim
    lora = layers * 8 * r * (d + d)  # q, k, v, out of self- and cross-attention: A (r x d) and B (d x r)
    gates = layers * heads  # one video gate per head and layer
    beat = (d + d) + (d + 1)  # beat_proj Linear(1, d), beat_head Linear(d, 1)
    video_proj = v * d + d
    music_embed = n_q * card * v + 2 * (v * v * 3 + v) + (v * e + e)  # embeddings, two convs, projection
    contrastive = (v * e + e) + 1  # video_embed, logit_scale
    video = sum(p.numel() for p in VideoEncoder(DEBUG.video).parameters())  # the debug CNN + temporal layers
    want = lora + gates + beat + video_proj + music_embed + contrastive + video
    have = sum(p.numel() for p in net.parameters() if p.requires_grad)
    assert have == want, (have, want)
    assert setup.finetune["lora_rank"] == r and setup.finetune["adapters"] == "lora"
    state = load_checkpoint(run["path"])
    assert sum(t.numel() for t in state["model"].values()) == want  # only the trained weights are kept
    assert set(state["model"]) == set(state["ema"]["weights"])
    assert state["base"]["sha256"] == weights_sha256(world["base"]) and state["base"]["kind"] == "musicgen"


def test_the_checkpoint_serves_through_a_real_server(run, world, media_root):
    home = world["root"] / "server-home"
    env = isolated_env(home)
    added = _cli("models", "add", "musicgen", str(world["base"]), env=env, timeout=120)
    assert added.returncode == 0, added.stderr
    srv = ServerProcess(free_port(), home, media_root, []).start()
    try:
        out = world["root"] / "scored"
        clip = f"{world['data'] / 'edit2.mp4'}#t=0.2,1.4"
        ok = _cli("score", clip, "--model", "vmas", "--checkpoint", str(run["path"]), "--server", srv.address,
                  "--seed", "3", "--out-dir", str(out), "--name", "ft", env=env)
        assert ok.returncode == 0, ok.stderr + srv.log()[-3000:]
        score = json.loads((out / "ft" / "score.json").read_text())
        assert score["model"] == "vmas" and score["sample_rate"] == 48_000
        with wave.open(str(out / "ft" / "mix.wav")) as w:
            assert w.getnframes() == round(1.2 * 48_000)  # exact length
            pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.uint8)
        assert pcm.any()  # sound, not silence
    finally:
        srv.stop()


def test_a_missing_or_different_base_is_refused_by_name(run, world, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelUnavailable) as missing:
        serving.load(checkpoint=str(run["path"]), model_dir=empty)
    msg = str(missing.value)
    assert "'test/musicgen-tiny'" in msg and "not installed" in msg and str(empty / "musicgen") in msg
    assert "scorecut models add musicgen" in msg
    other_dir = tmp_path / "other"
    added = _cli("models", "add", "musicgen", str(world["other"]), "--model-dir", str(other_dir),
                 env=isolated_env(tmp_path), timeout=120)
    assert added.returncode == 0, added.stderr
    with pytest.raises(ModelUnavailable) as different:
        serving.load(checkpoint=str(run["path"]), model_dir=other_dir)
    msg = str(different.value)
    want = weights_sha256(world["base"])[:12]
    have = weights_sha256(world["other"])[:12]
    assert "'test/musicgen-tiny'" in msg and want in msg and "different MusicGen" in msg
    assert "'test/musicgen-other'" in msg and have in msg and str(other_dir / "musicgen") in msg
    served = serving.load(checkpoint=str(run["path"]), model_dir=_models_dir(world["home"]))
    assert served.name == "vmas"  # the right base serves


def test_cross_attention_option_trains_the_whole_cross_attention(world, tmp_path):
    opts = TrainOptions(steps=2, out=tmp_path / "cross", init=str(world["base"]), adapters="cross",
                        batch_size=2, holdout=0.0, samples=0, cache_dir=world["root"] / "run" / "cache")
    train(DEBUG, world["data"], opts, log=lambda m: None)
    state = load_checkpoint(tmp_path / "cross" / "checkpoint.pt")
    names = set(state["model"])
    assert not any("lora_" in n for n in names)
    for i in range(2):
        for proj in ("q", "k", "v", "out"):
            assert f"lm.layers.{i}.encoder_attn.{proj}_proj.weight" in names
            assert f"lm.layers.{i}.self_attn.{proj}_proj.weight" not in names  # self-attention stays frozen
    assert state["finetune"]["adapters"] == "cross"


def test_train_cli_says_how_to_install_a_missing_base(world, tmp_path):
    env = isolated_env(tmp_path)  # a user who never installed MusicGen
    proc = _cli("train", "--config", "debug", "--init", "musicgen", "--data", str(world["data"]), "--steps", "1",
                "--out", str(tmp_path / "run"), env=env, timeout=120)
    assert proc.returncode == 1 and "no MusicGen is installed" in proc.stderr
    assert "scorecut models add musicgen" in proc.stderr and "Traceback" not in proc.stderr
    bad = _cli("train", "--config", "debug", "--init", str(tmp_path), "--data", str(world["data"]), "--steps", "1",
               "--out", str(tmp_path / "run"), env=env, timeout=120)
    assert bad.returncode == 1 and "not a MusicGen folder" in bad.stderr


def test_models_add_vmas_installs_a_fine_tune_that_verifies_on_its_base(run, world, tmp_path):
    from scorecut.models.vmas.install import install, verify

    models = _models_dir(world["home"])
    path = install(run["path"], models)
    installed = load_checkpoint(path)
    assert installed["optimizer"] is None and installed["ema"] is None
    assert installed["base"] == load_checkpoint(run["path"])["base"]  # still tied to its MusicGen
    report = verify(model_dir=models)
    assert report["installed"] and report["finite"] and report["samples"] == 8000  # 1 s at 8 kHz
    with pytest.raises(ModelUnavailable, match="not installed"):
        verify(model_dir=tmp_path, checkpoint=str(path))  # no MusicGen there
