"""VMAS parts on their own: temporal video encoder, codecs, beats, losses (debug sizes, CPU)."""

from __future__ import annotations

import dataclasses
import math
import types

import numpy as np
import pytest
import torch
from vmas_media import beat_times, soundtrack

from scorecut.models.interface import Clip, Segment
from scorecut.models.vmas.beats import (
    activation,
    beat_agreement,
    pick_peaks,
    rerank,
    track_music_beats,
    visual_beat_times,
)
from scorecut.models.vmas.codec import CodecUnavailable, TinyCodec, load_codec
from scorecut.models.vmas.config import (
    CONFIGS,
    DEBUG,
    CodecConfig,
    VmasConfig,
    get_config,
)
from scorecut.models.vmas.data import sample_frames, segment_frames
from scorecut.models.vmas.losses import beat_bce, info_nce, token_ce
from scorecut.models.vmas.video_encoder import VideoEncoder
from tests.helpers.videos import VideoSpec, make_video


def test_configs_round_trip_and_names():
    assert set(CONFIGS) == {"debug", "small", "medium"}
    for cfg in CONFIGS.values():
        assert VmasConfig.from_dict(cfg.to_dict()) == cfg
        assert cfg.window_frames + cfg.codec.n_q - 1 <= cfg.lm.max_steps  # a window fits the cache
    with pytest.raises(ValueError, match="debug, small, medium"):
        get_config("huge")


def _encoder(**kw):
    torch.manual_seed(0)
    return VideoEncoder(dataclasses.replace(DEBUG.video, **kw)).eval()


def test_video_tokens_are_time_aligned_and_merged():
    enc = _encoder(merge=2)
    frames = torch.randint(0, 255, (2, 17, 3, 32, 32), dtype=torch.uint8)
    out = enc(frames)
    assert out.tokens.shape == (2, 9, DEBUG.video.dim) and out.pooled.shape == (2, DEBUG.video.dim)
    fps = DEBUG.video.fps
    assert torch.allclose(out.times_s, (torch.arange(9) * 2 + 0.5) / fps)  # centre of each pair


def test_temporal_layers_are_local_so_cost_is_linear():
    enc = _encoder(n_layers=2, window=8)  # two layers, the second shifted: reach < 2 windows
    frames = torch.randint(0, 255, (1, 64, 3, 32, 32), dtype=torch.uint8)
    changed = frames.clone()
    changed[:, 63] = 255 - changed[:, 63]
    with torch.no_grad():
        a, b = enc(frames).tokens, enc(changed).tokens
    assert torch.equal(a[:, :40], b[:, :40])  # far tokens untouched: attention stays in windows
    assert not torch.allclose(a[:, 63], b[:, 63])


def test_chunked_backbone_and_streaming_equal_one_pass():
    frames = torch.randint(0, 255, (1, 50, 3, 32, 32), dtype=torch.uint8)
    whole = _encoder(chunk_frames=1000)
    chunked = _encoder(chunk_frames=7)
    with torch.no_grad():
        a = whole(frames)
        b = chunked(frames)
        c = chunked.encode_stream(frames[0, i : i + 13] for i in range(0, 50, 13))
    assert (a.tokens - b.tokens).abs().max() < 1e-5
    assert (a.tokens - c.tokens).abs().max() < 1e-5


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit: still how image models ship as one file
def test_backbone_features_are_projected_by_trained_layers():
    # The frozen CLIP/SigLIP backbone runs outside the encoder (features cached in the shards,
    # tests/test_vmas_video.py); the encoder reads its (B, N, F) features.
    enc = _encoder(backbone="clip", backbone_width=5)
    assert enc.input_key == "features"
    out = enc(torch.randn(1, 4, 5))
    assert out.tokens.shape == (1, 4, DEBUG.video.dim)
    assert all(p.requires_grad for p in enc.backbone.parameters())  # the projection trains


def test_tiny_codec_keeps_level_and_timing():
    codec = TinyCodec(DEBUG.codec)
    sr = codec.sample_rate
    t = torch.arange(2 * sr) / sr
    quiet_loud = torch.where(t < 1, 0.05, 0.5) * torch.sin(2 * math.pi * 220 * t)
    codes = codec.encode(quiet_loud[None, None])
    assert codes.shape == (1, DEBUG.codec.n_q, 2 * codec.frame_rate) and codes.dtype == torch.long
    assert codes[0, 0, : codec.frame_rate].float().mean() < codes[0, 0, codec.frame_rate :].float().mean()
    wav = codec.decode(codes)
    assert wav.shape == (1, 1, 2 * sr)
    for half in (slice(0, sr), slice(sr, 2 * sr)):  # level within 2 dB where it was
        db = 20 * math.log10(wav[0, 0, half].pow(2).mean().sqrt() / quiet_loud[half].pow(2).mean().sqrt())
        assert abs(db) < 2.0
    assert codec.decode(codec.encode(torch.zeros(1, 1, 800))).abs().max() == 0  # silence stays silent


def tiny_encodec(tmp_path) -> CodecConfig:
    """A tiny EnCodec (8 kHz, 2 codebooks of 16) saved with transformers, as a local codec folder."""
    transformers = pytest.importorskip("transformers", reason="the EnCodec codec needs transformers")
    torch.manual_seed(0)
    mc = transformers.EncodecConfig(sampling_rate=8000, upsampling_ratios=[4, 4], codebook_size=16, codebook_dim=8,
                                    hidden_size=8, num_filters=4, num_lstm_layers=1, target_bandwidths=[4.0])
    transformers.EncodecModel(mc).save_pretrained(tmp_path / "encodec")
    return CodecConfig(kind="encodec", sample_rate=8000, frame_rate=500, n_q=2, cardinality=16,
                       path=str(tmp_path / "encodec"))


def test_encodec_codec_loads_from_a_local_folder_only(tmp_path):
    cfg = tiny_encodec(tmp_path)
    codec = load_codec(cfg)
    codes = codec.encode(torch.randn(2, 1, 1600) * 0.1)
    assert codes.shape == (2, 2, 100) and int(codes.max()) < 16
    assert codec.decode(codes).shape == (2, 1, 1600)
    with pytest.raises(CodecUnavailable, match="built for"):
        load_codec(dataclasses.replace(cfg, n_q=4))
    with pytest.raises(CodecUnavailable, match="no EnCodec weights"):
        load_codec(dataclasses.replace(cfg, path=str(tmp_path / "nowhere")))


def test_activation_and_peaks_round_trip():
    beats = [0.2, 0.7, 1.3]
    act = activation(beats, 50, 25, 0.03)
    assert act.shape == (50,) and act.max() <= 1.0
    assert np.allclose(pick_peaks(act, 25, threshold=0.5), [0.2, 0.72, 1.32], atol=0.041)
    close = np.array([0, 0.6, 0, 0.9, 0, 0, 0, 0, 0.7, 0])
    assert list(pick_peaks(close, 10, min_gap_s=0.25, threshold=0.5)) == [0.3, 0.8]  # higher of a close pair


def test_music_beats_are_tracked_within_20_ms():
    for bpm in (84, 128, 150):
        wav = soundtrack(6.0, bpm, seed=bpm, rate=16_000)
        found = track_music_beats(wav, 16_000)
        truth = beat_times(6.0, bpm)
        assert len(found) >= len(truth) - 1
        nearest = np.abs(found[:, None] - truth[None, :]).min(axis=1)
        assert np.median(nearest) < 0.02, (bpm, found)
    assert len(track_music_beats(np.zeros(16_000, np.float32), 16_000)) == 0


def test_visual_beats_are_the_analysis_beats_and_cuts():
    analysis = types.SimpleNamespace(visual_beats_s=[2.0, 0.5, 1.0], cuts_s=[1.0, 2.5])
    assert visual_beat_times(analysis).tolist() == [0.5, 1.0, 2.0, 2.5]  # merged, sorted, once each


def test_segment_frames_follow_record_time(tmp_path):
    a = make_video(tmp_path / "a.mp4", VideoSpec(duration_s=3.0, size=(64, 48), seed=1))
    b = make_video(tmp_path / "b.mp4", VideoSpec(duration_s=3.0, size=(64, 48), seed=2))
    seg = Segment((Clip(str(a), 0.0, 1.0, 0.0, 1.0), Clip(str(b), 0.0, 2.0, 1.0, 2.0)), 2.5)  # b twice as fast
    frames = segment_frames(seg, 8.0, 32)
    assert frames.shape == (20, 3, 32, 32)
    assert np.array_equal(frames[:8], sample_frames(str(a), 8.0, 32, 0.0, 1.0))
    assert np.array_equal(frames[8:16], sample_frames(str(b), 4.0, 32, 0.0, 2.0))  # 2 source s per record s
    assert frames[16:].max() == 0  # after the last clip: black


def test_agreement_and_reranking():
    truth = beat_times(4.0, 120)
    assert beat_agreement(truth + 0.03, truth) == 1.0
    assert beat_agreement(truth + 0.25, truth) == 0.0
    assert beat_agreement([], truth) == 0.0
    assert rerank([truth + 0.25, truth[::2], truth + 0.01], truth) == [2, 1, 0]


def test_losses():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 3, 7, 5, generator=g)
    targets = torch.randint(0, 5, (2, 3, 7), generator=g)
    valid = torch.ones(3, 7, dtype=torch.bool)
    valid[1, 0] = False
    with_junk = targets.clone()
    with_junk[:, 1, 0] = 4 - targets[:, 1, 0]
    assert torch.equal(token_ce(logits, targets, valid), token_ce(logits, with_junk, valid))  # masked cells ignored
    v = torch.randn(6, 8, generator=g)
    scale = torch.tensor(math.log(1 / 0.07))
    assert info_nce(v, v + 0.01 * torch.randn(6, 8, generator=g), scale) < info_nce(v, v.roll(1, 0), scale)
    assert info_nce(v[:1], v[:1], scale) == 0
    target = torch.zeros(1, 20)
    target[0, 5] = 1
    good, bad = torch.full((1, 20), -5.0), torch.full((1, 20), -5.0)
    good[0, 5] = 5.0
    bad[0, 9] = 5.0
    assert beat_bce(good, target) < beat_bce(bad, target)


def test_an_encodec_model_installs_with_its_codec_folder_and_serves(tmp_path):
    """The EnCodec path end to end with a tiny EnCodec: install copies the codec folder into the
    model folder, serving finds it there, verify makes a second of music through it."""
    from scorecut.models.vmas.checkpoint import load_checkpoint, save_checkpoint
    from scorecut.models.vmas.install import CODEC_FOLDER, install, verify
    from scorecut.models.vmas.model import VmasNet

    codec = tiny_encodec(tmp_path)
    cfg = dataclasses.replace(DEBUG, codec=codec, window_s=0.2)  # 100 steps a window at 500 Hz
    ckpt = save_checkpoint(tmp_path / "run" / "checkpoint.pt", cfg, VmasNet(cfg), step=1)
    models = tmp_path / "models"
    with pytest.raises(FileNotFoundError, match="--codec"):
        install(ckpt, models, codec_dir=tmp_path / "nowhere")
    installed = install(ckpt, models)  # the folder named in the config
    assert (models / CODEC_FOLDER / "config.json").is_file()
    assert load_checkpoint(installed)["config"].codec.path == ""  # found beside it from now on
    report = verify(model_dir=models)
    assert report["finite"] and report["samples"] == 8000 and report["sample_rate"] == 8000
