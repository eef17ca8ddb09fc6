"""VMAS music LM: delay pattern, causality, static-KV-cache decoding, sampling (debug config, CPU)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from scorecut.models.vmas.config import DEBUG
from scorecut.models.vmas.delay import apply_delay, delay_valid_mask, revert_delay
from scorecut.models.vmas.music_lm import Memory, MusicLM, sample_logits


@pytest.mark.parametrize("k", [1, 2, 3, 4, 8])
@pytest.mark.parametrize("t", [1, 2, 5, 17, 100])
def test_delay_pattern_round_trips(k, t):
    codes = torch.randint(0, 50, (3, k, t))
    delayed = apply_delay(codes, special=50)
    assert delayed.shape == (3, k, t + k - 1)
    assert torch.equal(revert_delay(delayed), codes)
    mask = delay_valid_mask(k, t)
    assert torch.equal(mask.expand_as(delayed), delayed != 50)  # tokens exactly where valid
    for q in range(k):  # codebook q starts q steps late
        assert torch.equal(delayed[:, q, q : q + t], codes[:, q])


def test_delay_grid_matches_documented_example():
    codes = torch.tensor([[[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]]])
    s = 0
    assert apply_delay(codes, s).tolist() == [[[1, 2, 3, 4, 0, 0], [0, 5, 6, 7, 8, 0], [0, 0, 9, 10, 11, 12]]]
    with pytest.raises(ValueError):
        revert_delay(apply_delay(codes, s), n_frames=5)


@pytest.fixture
def one_thread():
    """Step-by-step decoding of a tiny model is all overhead: threads only contend on a shared box."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _model(max_steps=256, seed=0):
    torch.manual_seed(seed)
    cfg = dataclasses.replace(DEBUG, lm=dataclasses.replace(DEBUG.lm, max_steps=max_steps))
    return MusicLM(cfg.lm, cfg.codec.n_q, cfg.codec.cardinality).eval(), cfg


def _inputs(model, cfg, b, t, seed=1):
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, cfg.codec.cardinality + 1, (b, cfg.codec.n_q, t), generator=g)
    beat = torch.rand(b, t, generator=g)
    video = torch.randn(b, 12, cfg.lm.dim, generator=g)
    keep = torch.tensor([True] * (b - 1) + [False])  # last row unconditional
    memory = model.memory(b, video=video, video_steps=torch.arange(12) * 6.0, keep_video=keep)
    return tokens, beat, memory


def test_changing_future_tokens_never_changes_past_logits():
    model, cfg = _model()
    tokens, beat, memory = _inputs(model, cfg, 2, 60)
    with torch.no_grad():
        base, _ = model(tokens, beat, memory)
        for cut in (1, 17, 59):
            changed, changed_beat = tokens.clone(), beat.clone()
            changed[:, :, cut:] = torch.randint(0, cfg.codec.cardinality, changed[:, :, cut:].shape)
            changed_beat[:, cut:] = 1 - changed_beat[:, cut:]
            out, _ = model(changed, changed_beat, memory)
            assert torch.equal(out[:, :, :cut], base[:, :, :cut])
            assert not torch.allclose(out[:, :, cut:], base[:, :, cut:])  # the future did change


def test_video_changes_the_logits_unless_dropped():
    model, cfg = _model()
    tokens, beat, memory = _inputs(model, cfg, 2, 20)
    with torch.no_grad():
        base, _ = model(tokens, beat, memory)
        shifted = torch.cat([memory.states[:, :1], memory.states[:, 1:] + 1.0], dim=1)
        out, _ = model(tokens, beat, Memory(shifted, memory.mask, memory.n_text))
    assert not torch.allclose(out[0], base[0])  # conditioned row follows the video
    assert torch.equal(out[1], base[1])  # the dropped row reads only the null memory


def test_cached_decode_equals_full_forward_for_200_steps(one_thread):
    model, cfg = _model(max_steps=256)
    tokens, beat, memory = _inputs(model, cfg, 3, 200)
    with torch.no_grad():
        full, _ = model(tokens, beat, memory)
        with model.decoding(3, 256, memory) as state:
            prefill = 5  # a prompt in one call, then one step at a time
            out, _ = model(tokens[..., :prefill], beat[:, :prefill], state=state, pos=torch.arange(prefill))
            steps = [out]
            for t in range(prefill, 200):
                out, _ = model(tokens[..., t : t + 1], beat[:, t : t + 1], state=state, pos=torch.tensor([t]))
                steps.append(out)
    cached = torch.cat(steps, dim=2)
    assert cached.shape == full.shape == (3, cfg.codec.n_q, 200, cfg.codec.cardinality)
    assert (cached - full).abs().max().item() < 1e-5


def test_decoding_refuses_more_steps_than_the_window():
    model, cfg = _model(max_steps=64)
    _, _, memory = _inputs(model, cfg, 2, 4)
    with pytest.raises(ValueError, match="exceed"), model.decoding(2, 65, memory):
        pass


def test_sampling_greedy_top_k_top_p():
    logits = torch.tensor([[0.0, 3.0, 2.9, -1.0]]).repeat(2000, 1)
    assert sample_logits(logits, temperature=0).eq(1).all()
    g = torch.Generator().manual_seed(0)
    top2 = sample_logits(logits, 1.0, top_k=2, generator=g)
    assert set(top2.tolist()) == {1, 2}  # both top-2 drawn, nothing else
    top_p = sample_logits(logits, 1.0, top_p=0.3, generator=g)
    assert set(top_p.tolist()) == {1}  # the most likely token alone reaches 30 %
    anything = sample_logits(logits, 1.0, generator=g)
    assert set(anything.tolist()) == {0, 1, 2, 3}
    a = sample_logits(logits[:10], 1.0, generator=torch.Generator().manual_seed(5))
    b = sample_logits(logits[:10], 1.0, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)  # seeded: reproducible
