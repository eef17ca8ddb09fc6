"""The MusicGen port: our MusicLM with a MusicGen folder's weights against transformers itself.

A tiny random MusicgenForConditionalGeneration (4 codebooks, every weight random, LayerNorms
included) is saved to disk by tests/vmas_musicgen.py; the tests load it both ways.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading

import pytest
import torch

pytest.importorskip("transformers", reason="the MusicGen port is checked against transformers")

from safetensors.torch import load_file, save_file
from transformers import MusicgenForConditionalGeneration
from vmas_musicgen import HOP, save_tiny_musicgen

from scorecut.models.interface import Cancelled
from scorecut.models.vmas.codec import load_codec
from scorecut.models.vmas.config import DEBUG
from scorecut.models.vmas.generate import (
    GenerateOptions,
    WindowCondition,
    generate,
    generate_codes,
)
from scorecut.models.vmas.model import VmasNet
from scorecut.models.vmas.music_lm import Memory
from scorecut.models.vmas.pretrained import (
    MusicGenFolderError,
    load_musicgen,
    read_musicgen_info,
    weights_sha256,
)
from scorecut.models.vmas.video_encoder import VideoTokens

PROMPTS = ["calm piano", "upbeat electronic drums with warm bass and bright strings"]  # padded: lengths differ


@pytest.fixture(autouse=True)
def one_thread():
    """A tiny model is all per-op overhead: on a shared box more threads only contend (10-100x slower)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return save_tiny_musicgen(tmp_path_factory.mktemp("musicgen") / "tiny", n_q=4, seed=3)


@pytest.fixture(scope="module")
def base(folder):
    return load_musicgen(folder)


@pytest.fixture(scope="module")
def ref(folder):
    return MusicgenForConditionalGeneration.from_pretrained(str(folder)).eval()


def _codes(b, k, t, seed=0, card=32):
    """Decoder inputs including the special id (start / no token), as the delay pattern has them."""
    return torch.randint(0, card + 1, (b, k, t), generator=torch.Generator().manual_seed(seed))


def _ref_logits(ref, base, ids, prompts=PROMPTS):
    tok = base.text.tokenizer(prompts, padding=True, return_tensors="pt")
    b, k, t = ids.shape
    with torch.no_grad():
        out = ref(input_ids=tok.input_ids, attention_mask=tok.attention_mask,
                  decoder_input_ids=ids.reshape(b * k, t)).logits
    return out.reshape(b, k, t, -1)


def test_info_reads_the_config_only(folder):
    info = read_musicgen_info(folder)
    dec = json.loads((folder / "config.json").read_text())["decoder"]
    assert (info.lm.dim, info.lm.n_layers, info.lm.n_heads, info.lm.ffn_dim) == (32, 2, 4, 64)
    assert info.lm.max_steps == dec["max_position_embeddings"]
    assert (info.codec.kind, info.codec.n_q, info.codec.cardinality) == ("musicgen", 4, 32)
    assert (info.codec.sample_rate, info.codec.frame_rate) == (8000, 8000 // HOP)
    assert info.has_proj and info.text_dim == 16
    assert "CC-BY-NC" in info.licence_note


def test_full_pass_logits_equal_transformers(base, ref):
    ids = _codes(2, 4, 24)
    expected = _ref_logits(ref, base, ids)
    states, mask = base.text.encode(PROMPTS)
    assert mask.shape == (2, states.shape[1]) and not bool(mask[0].all())  # the short prompt is padded
    with torch.no_grad():
        logits, _ = base.lm(ids, torch.zeros(2, 24), base.lm.memory(2, text=states, text_mask=mask))
    assert logits.shape == expected.shape == (2, 4, 24, 32)
    assert (logits - expected).abs().max().item() < 1e-5
    assert expected.abs().max().item() > 0.1  # a real comparison, not of near-zero outputs


def test_text_states_equal_transformers_projected_encoder(base, ref):
    tok = base.text.tokenizer(PROMPTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        h = ref.text_encoder(input_ids=tok.input_ids, attention_mask=tok.attention_mask).last_hidden_state
        h = ref.enc_to_dec_proj(h) * tok.attention_mask[..., None]
    states, mask = base.text.encode(PROMPTS)
    assert torch.equal(mask, tok.attention_mask.bool())
    assert (states - h).abs().max().item() < 1e-6


def test_cached_one_token_decode_equals_transformers(base, ref):
    ids = _codes(2, 4, 40, seed=1)
    expected = _ref_logits(ref, base, ids)
    memory = base.text_memory(PROMPTS)
    beat = torch.zeros(2, 40)
    with torch.no_grad(), base.lm.decoding(2, 64, memory) as state:
        out, _ = base.lm(ids[..., :3], beat[:, :3], state=state, pos=torch.arange(3))  # a 3-step prefill
        steps = [out]
        for t in range(3, 40):
            out, _ = base.lm(ids[..., t : t + 1], beat[:, t : t + 1], state=state, pos=torch.tensor([t]))
            steps.append(out)
    cached = torch.cat(steps, dim=2)
    assert (cached - expected).abs().max().item() < 1e-5


def test_null_condition_equals_transformers_unconditional(base, ref):
    ids = _codes(2, 4, 16, seed=2)
    with torch.no_grad():
        ours, _ = base.lm(ids, torch.zeros(2, 16), base.null_memory(2))
        # What generate() feeds guidance's null half: zero T5 states, an all-zero attention mask.
        zeros = torch.zeros(2, 7, 16)
        theirs = ref(encoder_outputs=(zeros,), attention_mask=torch.zeros(2, 7, dtype=torch.long),
                     decoder_input_ids=ids.reshape(8, 16)).logits.reshape(2, 4, 16, -1)
        uncond = ref.get_unconditional_inputs(num_samples=2)  # transformers' unconditional generation
        theirs2 = ref(encoder_outputs=uncond.encoder_outputs, attention_mask=uncond.attention_mask,
                      decoder_input_ids=ids.reshape(8, 16)).logits.reshape(2, 4, 16, -1)
        conditioned, _ = base.lm(ids, torch.zeros(2, 16), base.text_memory(PROMPTS))
    assert (ours - theirs).abs().max().item() < 1e-5
    assert (ours - theirs2).abs().max().item() < 1e-5
    assert (ours - conditioned).abs().max().item() > 1e-2  # the text does matter
    # A row whose text is dropped reads exactly the null condition too.
    states, mask = base.text.encode(PROMPTS)
    dropped = base.lm.memory(2, text=states, text_mask=mask, keep_text=torch.tensor([True, False]))
    with torch.no_grad():
        mixed, _ = base.lm(ids, torch.zeros(2, 16), dropped)
    assert (mixed[1] - ours[1]).abs().max().item() < 1e-6
    assert (mixed[0] - conditioned[0]).abs().max().item() < 1e-6


def test_guided_greedy_generation_equals_transformers(base, ref):
    """transformers' generate (greedy, guidance 3) and ours make the same music, sample for sample."""
    tok = base.text.tokenizer(PROMPTS[:1], return_tensors="pt")
    steps = 20
    with torch.no_grad():
        audio = ref.generate(**tok, do_sample=False, guidance_scale=3.0, max_new_tokens=steps)  # (1, 1, N)
    n_frames = audio.shape[-1] // HOP
    assert n_frames > 10
    opts = GenerateOptions(temperature=0.0, cfg_scale=3.0, candidates=1)
    cond = WindowCondition(base.text_memory(PROMPTS[:1]), base.null_memory())
    codes = generate(base.lm, cond, n_frames, window_frames=n_frames, opts=opts)
    ours = base.codec.decode(codes)
    assert ours.shape == audio.shape
    assert (ours - audio).abs().max().item() < 1e-4


def test_new_parameters_start_inert(base):
    """With video tokens and a beat stream given, step 0 is text-only MusicGen; opening a gate changes it."""
    lm = base.lm
    ids = _codes(2, 4, 12, seed=4)
    states, mask = base.text.encode(PROMPTS)
    g = torch.Generator().manual_seed(5)
    video = torch.randn(2, 6, lm.dim, generator=g) * 3.0
    beat = torch.rand(2, 12, generator=g)
    with_video = lm.memory(2, text=states, text_mask=mask, video=video, video_steps=torch.arange(6) * 2.0)
    with torch.no_grad():
        text_only, _ = lm(ids, torch.zeros(2, 12), lm.memory(2, text=states, text_mask=mask))
        both, _ = lm(ids, beat, with_video)
    assert (both - text_only).abs().max().item() < 1e-6
    # Trainable from there: the gates and the beat stream get gradients at step 0.
    assert lm.cfg == base.lm_config  # the LM's shape is the folder's
    logits, _ = lm(ids, beat, with_video)
    logits.logsumexp(-1).sum().backward()
    gate = lm.layers[0].encoder_attn.video_gate
    assert gate.grad is not None and gate.grad.abs().max() > 0
    assert lm.beat_proj.weight.grad.abs().max() > 0
    lm.zero_grad(set_to_none=True)
    with torch.no_grad():
        gate.fill_(1.0)
        opened, _ = lm(ids, beat, with_video)
        gate.zero_()
    assert (opened - text_only).abs().max().item() > 1e-3


def test_a_vmas_net_on_the_base_starts_as_musicgen_and_generates(base, folder):
    cfg = dataclasses.replace(DEBUG, lm=base.lm_config, codec=base.codec_config, window_s=0.05)  # 25 frames
    torch.manual_seed(0)
    net = VmasNet(cfg, lm=base.lm).eval()
    states, mask = base.text.encode(PROMPTS[:1])
    vt = VideoTokens(tokens=torch.randn(1, 3, cfg.video.dim), times_s=torch.tensor([0.01, 0.03, 0.05]),
                     pooled=torch.randn(1, cfg.video.dim))
    ids = _codes(1, 4, 10, seed=6)
    memory = net.memory(vt.tokens, vt.times_s * cfg.codec.frame_rate, 1, text_states=states, text_mask=mask)
    with torch.no_grad():
        vmas, _ = net.lm(ids, torch.rand(1, 10), memory)
        musicgen, _ = base.lm(ids, torch.zeros(1, 10), base.text_memory(PROMPTS[:1]))
    assert (vmas - musicgen).abs().max().item() < 1e-6
    beat = torch.zeros(60)
    codes = generate_codes(net, vt, beat, 60, GenerateOptions(top_k=5, candidates=2, seed=1), text=(states, mask))
    assert codes.shape == (2, 4, 60) and int(codes.max()) < 32  # three windows of 25 with continuation
    with pytest.raises(ValueError, match="shape"):
        VmasNet(DEBUG, lm=base.lm)


def test_windowed_generation_continues_and_is_seeded(base):
    cond = WindowCondition(base.text_memory(PROMPTS[:1]), base.null_memory())
    opts = GenerateOptions(top_k=8, candidates=2, overlap=0.5, seed=7)
    seen = []
    a = generate(base.lm, cond, 70, window_frames=30, opts=opts, progress=lambda stage, f: seen.append(f))
    b = generate(base.lm, cond, 70, window_frames=30, opts=opts)
    assert a.shape == (2, 4, 70) and torch.equal(a, b)
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) == 4  # windows at 0, 15, 30, 45 frames
    # Greedy: the first window alone is the prefix of the long run (continuation keeps what was made).
    greedy = dataclasses.replace(opts, temperature=0.0, candidates=1)
    short = generate(base.lm, cond, 30, window_frames=30, opts=greedy)
    long = generate(base.lm, cond, 70, window_frames=30, opts=greedy)
    assert torch.equal(long[..., :30], short)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        generate(base.lm, cond, 70, window_frames=30, opts=opts, cancel=cancel)
    with pytest.raises(ValueError, match="null rows"):
        generate(base.lm, WindowCondition(cond.cond), 10, window_frames=30, opts=opts)


def test_memory_padding_and_stacking_keep_attention(base):
    lm = base.lm
    states, mask = base.text.encode(PROMPTS)
    mem = lm.memory(2, text=states, text_mask=mask, video=torch.randn(2, 3, lm.dim), video_steps=torch.arange(3.0))
    for layer in lm.layers:
        layer.encoder_attn.video_gate.data.fill_(0.7)
    try:
        ids = _codes(2, 4, 8, seed=8)
        with torch.no_grad():
            plain, _ = lm(ids, torch.zeros(2, 8), mem)
            padded, _ = lm(ids, torch.zeros(2, 8), mem.padded(mem.n_text + 4, mem.n_video + 5))
            both = Memory.stack([mem, lm.memory(2)])  # conditional rows, then null rows
            stacked, _ = lm(ids.repeat(2, 1, 1), torch.zeros(4, 8), both)
            null, _ = lm(ids, torch.zeros(2, 8), lm.memory(2))
    finally:
        for layer in lm.layers:
            layer.encoder_attn.video_gate.data.zero_()
    assert (plain - padded).abs().max().item() < 1e-6
    assert (plain - stacked[:2]).abs().max().item() < 1e-6
    assert (null - stacked[2:]).abs().max().item() < 1e-6


def test_codec_and_hash_of_the_folder(base, folder):
    codes = base.codec.encode(torch.randn(1, 1, 800) * 0.1)
    assert codes.shape == (1, 4, 800 // HOP)
    assert base.codec.decode(codes).shape == (1, 1, 800)
    assert load_codec(base.codec_config).n_q == 4  # kind "musicgen": the codec alone, from the folder
    digest = hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()
    assert base.base_sha256 == weights_sha256(folder) == digest


def _broken_copy(folder, tmp_path, edit):
    import shutil

    copy = tmp_path / "broken"
    shutil.copytree(folder, copy)
    tensors = load_file(str(copy / "model.safetensors"))
    edit(tensors)
    save_file(tensors, str(copy / "model.safetensors"), metadata={"format": "pt"})
    return copy


@pytest.mark.parametrize("edit, named", [
    (lambda t: t.pop("decoder.model.decoder.layers.1.fc2.weight"), "decoder.model.decoder.layers.1.fc2.weight"),
    (lambda t: t.update({"decoder.lm_heads.2.weight": torch.zeros(31, 32)}), "decoder.lm_heads.2.weight"),
    (lambda t: t.update({"decoder.model.decoder.layers.0.fc1.bias": torch.zeros(64)}),
     "decoder.model.decoder.layers.0.fc1.bias"),
    (lambda t: t.pop("enc_to_dec_proj.weight"), "enc_to_dec_proj.weight"),
    (lambda t: t.pop("text_encoder.encoder.final_layer_norm.weight"), "text_encoder.encoder.final_layer_norm.weight"),
    (lambda t: t.update({"something.else": torch.zeros(1)}), "something.else"),
])
def test_loading_refuses_a_missing_mismatched_or_extra_tensor(folder, tmp_path, edit, named):
    broken = _broken_copy(folder, tmp_path, edit)
    with pytest.raises(MusicGenFolderError, match="'" + named.replace(".", r"\.")):
        load_musicgen(broken)


def test_folders_that_are_not_a_usable_musicgen_are_named(folder, tmp_path):
    import shutil

    melody = tmp_path / "melody"
    shutil.copytree(folder, melody)
    cfg = json.loads((melody / "config.json").read_text())
    cfg["model_type"] = "musicgen_melody"
    (melody / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(MusicGenFolderError, match="musicgen-melody"):
        read_musicgen_info(melody)
    no_tok = tmp_path / "notok"
    shutil.copytree(folder, no_tok)
    (no_tok / "tokenizer.json").unlink()
    with pytest.raises(MusicGenFolderError, match="tokenizer"):
        read_musicgen_info(no_tok)
    with pytest.raises(MusicGenFolderError, match="no config.json"):
        read_musicgen_info(tmp_path / "nowhere")


def test_sharded_weights_load_and_hash_by_shard(folder, tmp_path, base):
    from vmas_musicgen import tiny_musicgen_model, tiny_tokenizer

    sharded = tmp_path / "sharded"
    tiny_musicgen_model(n_q=4, seed=3).save_pretrained(sharded, max_shard_size="40KB")
    tiny_tokenizer().save_pretrained(sharded)
    shards = sorted(sharded.glob("model-*.safetensors"))
    assert len(shards) > 1 and (sharded / "model.safetensors.index.json").is_file()
    loaded = load_musicgen(sharded)
    ids = _codes(1, 4, 6, seed=9)
    with torch.no_grad():
        a, _ = loaded.lm(ids, torch.zeros(1, 6), loaded.text_memory(PROMPTS[:1]))
        b, _ = base.lm(ids, torch.zeros(1, 6), base.text_memory(PROMPTS[:1]))
    assert torch.equal(a, b)  # the same weights, whichever way they were stored
    assert loaded.base_sha256 != base.base_sha256  # a digest over the shards' own digests
    shards[0].write_bytes(shards[0].read_bytes()[:-1] + b" ")  # one byte changed
    assert weights_sha256(sharded) != loaded.base_sha256


def test_an_older_saved_folder_loads(folder, tmp_path, base):
    """Folders saved by older transformers: weight_g / weight_v of the EnCodec convolutions, and the
    decoder's position table stored (checked against MusicGen's formula, not loaded)."""
    from scorecut.models.vmas.music_lm import musicgen_positions

    def old_style(t):
        for k in [k for k in t if ".parametrizations.weight.original" in k]:
            new = k.replace(".parametrizations.weight.original0", ".weight_g")
            new = new.replace(".parametrizations.weight.original1", ".weight_v")
            t[new] = t.pop(k)
        t["decoder.model.decoder.embed_positions.weights"] = musicgen_positions(torch.arange(256), 32)

    old = _broken_copy(folder, tmp_path, old_style)
    loaded = load_musicgen(old)
    wav = torch.randn(1, 1, 320) * 0.1
    assert torch.equal(loaded.codec.encode(wav), base.codec.encode(wav))
    wrong = _broken_copy(folder, tmp_path / "w", lambda t: t.update(
        {"decoder.model.decoder.embed_positions.weights": torch.zeros(256, 32)}))
    with pytest.raises(MusicGenFolderError, match="sinusoidal"):
        load_musicgen(wrong)
