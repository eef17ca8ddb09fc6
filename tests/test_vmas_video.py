"""The VMAS video side: a frozen pretrained image backbone (tiny random CLIP and SigLIP models the
tests build with transformers and save to disk), its preprocessing against the transformers
processor, features cached in the training shards and tied to the backbone's sha256, one
visual-beat detector and one feature path for training and serving, files with broken sound."""

from __future__ import annotations

import dataclasses
import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from vmas_media import make_music_video

from scorecut.models.analysis import analyze_file
from scorecut.models.interface import Clip, MediaError, Segment
from scorecut.models.vmas import data as vdata
from scorecut.models.vmas import features as vfeatures
from scorecut.models.vmas.backbone import BackboneError, ImageBackbone, with_video_backbone
from scorecut.models.vmas.beats import activation, visual_beat_times
from scorecut.models.vmas.codec import load_codec
from scorecut.models.vmas.config import DEBUG
from scorecut.models.vmas.features import FrameInput, NativeSize, iter_sampled, load_frame_input
from scorecut.models.vmas.model import VmasNet

transformers = pytest.importorskip("transformers")
transformers.logging.set_verbosity_error()
transformers.utils.logging.disable_progress_bar()

TOWER = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
             image_size=32, patch_size=8)


def make_clip(folder: Path, seed: int = 0, full: bool = False) -> Path:
    """A tiny random CLIP saved as published: weights, config, a processor with its own rules."""
    from transformers import CLIPConfig, CLIPModel, CLIPVisionConfig, CLIPVisionModel
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    torch.manual_seed(seed)
    if full:  # the whole CLIP (text tower too), as openai/clip-vit-* folders are
        text = dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                    vocab_size=99, bos_token_id=0, eos_token_id=1, pad_token_id=1)
        CLIPModel(CLIPConfig(vision_config=TOWER, text_config=text, projection_dim=8)).save_pretrained(folder)
    else:
        CLIPVisionModel(CLIPVisionConfig(**TOWER)).save_pretrained(folder)
    # Shortest edge 40 then a 32 crop, and a mean/std of its own: a rule left out shows.
    CLIPImageProcessorPil(size={"shortest_edge": 40}, crop_size={"height": 32, "width": 32},
                          image_mean=[0.4, 0.5, 0.6], image_std=[0.2, 0.3, 0.25]).save_pretrained(folder)
    return folder


def make_siglip(folder: Path, seed: int = 0) -> Path:
    from transformers import SiglipVisionConfig, SiglipVisionModel
    from transformers.models.siglip.image_processing_pil_siglip import SiglipImageProcessorPil

    torch.manual_seed(seed)
    SiglipVisionModel(SiglipVisionConfig(**TOWER)).save_pretrained(folder)
    SiglipImageProcessorPil(size={"height": 32, "width": 32}).save_pretrained(folder)  # squashes, no crop
    return folder


def processor_of(folder: Path):
    from transformers import AutoImageProcessor

    return AutoImageProcessor.from_pretrained(str(folder), local_files_only=True)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    """Three 2 s music videos (pictures flash on the beat, clicks on the beat)."""
    folder = tmp_path_factory.mktemp("video_clips")
    for i, bpm in enumerate((100, 120, 140)):
        make_music_video(folder / f"clip{i}.mp4", 2.0, bpm=bpm, seed=i, size=(96, 64))
    return folder


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clip_b32"), seed=0)


class Opens:
    """Counts container opens (every decode starts with one) and frames the feature path decodes."""

    def __init__(self, monkeypatch):
        self.files: list[str] = []
        self.frames = 0
        real_open, real_decoded = av.open, vfeatures.iter_decoded

        def open_(*args, **kwargs):
            self.files.append(str(args[0]))
            return real_open(*args, **kwargs)

        def decoded(*args, **kwargs):
            for item in real_decoded(*args, **kwargs):
                self.frames += 1
                yield item

        monkeypatch.setattr(av, "open", open_)
        monkeypatch.setattr(vfeatures, "iter_decoded", decoded)


def frames_of(path: Path, short_edge: int) -> np.ndarray:
    """The frames the feature path hands the preprocessing: (N, h, w, 3) uint8."""
    return np.stack(list(iter_sampled(str(path), 8.0, NativeSize(short_edge))))


def assert_like_processor(ours: torch.Tensor, theirs: torch.Tensor) -> None:
    assert ours.shape == theirs.shape
    assert torch.allclose(ours, theirs, atol=1e-5), float((ours - theirs).abs().max())


def test_preprocessing_equals_the_clip_processor_on_the_same_frames(clips, clip_dir):
    bb = ImageBackbone(clip_dir)
    assert bb.preprocess.decode_short_edge == 40 and bb.preprocess.out_size == (32, 32)
    decoded = frames_of(clips / "clip0.mp4", 40)  # 96x64 source: kept at its size
    assert decoded.shape == (16, 64, 96, 3)
    rng = np.random.default_rng(1)
    detailed = rng.integers(0, 256, (3, 37, 83, 3), dtype=np.uint8)  # upscaled, odd sizes, sharp edges
    tall = rng.integers(0, 256, (2, 120, 50, 3), dtype=np.uint8)  # portrait: the width is the short edge
    processor = processor_of(clip_dir)
    for frames in (decoded, detailed, tall):
        ours = bb.preprocess(torch.from_numpy(frames))
        theirs = processor(images=list(frames), return_tensors="pt")["pixel_values"]
        assert ours.shape[1:] == (3, 32, 32)
        assert_like_processor(ours, theirs)
    # and the tower's features from our pixels are the tower's from the processor's
    ours = bb.features(torch.from_numpy(decoded))
    theirs = bb.tower(pixel_values=processor(images=list(decoded), return_tensors="pt")["pixel_values"]).pooler_output
    assert ours.shape == (16, 32)
    assert torch.allclose(ours, theirs, atol=1e-6)


def test_preprocessing_equals_the_siglip_processor_and_its_features_are_its_pooled_output(clips, tmp_path):
    folder = make_siglip(tmp_path / "siglip")
    bb = ImageBackbone(folder)
    assert bb.preprocess.crop is None and bb.preprocess.out_size == (32, 32)
    frames = frames_of(clips / "clip1.mp4", bb.preprocess.decode_short_edge)
    processor = processor_of(folder)
    theirs = processor(images=list(frames), return_tensors="pt")["pixel_values"]
    assert_like_processor(bb.preprocess(torch.from_numpy(frames)), theirs)
    cfg = with_video_backbone(DEBUG, folder)
    assert cfg.video.backbone_width == 32 and len(cfg.video.backbone_sha256) == 64
    feats = load_frame_input(cfg.video).clip(str(clips / "clip1.mp4"))
    assert feats.shape == (16, 32) and feats.dtype == vfeatures.FEATURE_DTYPE
    assert torch.allclose(feats.float(), bb.tower(pixel_values=theirs).pooler_output, rtol=1e-3, atol=1e-3)  # float16


def test_a_whole_clip_folder_gives_its_vision_tower_and_big_frames_are_reduced_first(tmp_path):
    from transformers import CLIPModel

    folder = make_clip(tmp_path / "clip_full", seed=3, full=True)
    bb = ImageBackbone(folder)
    assert not any(p.requires_grad for p in bb.parameters())  # frozen
    full = CLIPModel.from_pretrained(str(folder), local_files_only=True)
    pixels = torch.randn(2, 3, 32, 32)
    assert torch.equal(bb(pixels), full.vision_model(pixel_values=pixels).pooler_output)
    # a 4K-class frame reaches the preprocessing at about twice the backbone's input, not 2160 rows
    big = av.VideoFrame.from_ndarray(np.zeros((400, 720, 3), np.uint8), format="rgb24")
    assert NativeSize(40)(big).shape == (80, 144, 3)
    assert NativeSize(400)(big).shape == (400, 720, 3)


def test_bad_backbone_folders_are_refused_with_what_to_give(tmp_path, clip_dir):
    with pytest.raises(BackboneError, match="no image backbone folder"):
        ImageBackbone(tmp_path / "missing")
    other = tmp_path / "bert"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(BackboneError, match="holds a bert model; the video backbone must be CLIP or SigLIP"):
        with_video_backbone(DEBUG, other)
    with pytest.raises(BackboneError, match="not the one this model was trained with"):
        ImageBackbone(clip_dir, expect_sha256="0" * 64)


def test_features_are_cached_and_a_second_pass_and_run_decode_no_frame(clips, clip_dir, tmp_path, monkeypatch):
    from scorecut.models.vmas.train import TrainOptions, train

    cfg = with_video_backbone(DEBUG, clip_dir)
    codec = load_codec(cfg.codec)
    opens = Opens(monkeypatch)
    folder = vdata.build_cache(clips, cfg, codec, tmp_path / "cache", log=lambda s: None)
    assert opens.frames >= 3 * 32 and len(opens.files) >= 3  # every file decoded once, sound and picture
    ds = vdata.WindowDataset(folder, cfg.video)
    batch = ds.batch(range(len(ds)))
    assert len(ds) == 3 and "frames" not in batch
    assert batch["features"].shape == (3, 16, 32) and batch["features"].dtype == torch.float16
    # shards hold features, not pixels
    index = json.loads((folder / "index.json").read_text())
    assert index["input"] == "features" and index["backbone"]["sha256"] == cfg.video.backbone_sha256

    opens.files.clear()
    opens.frames = 0
    assert vdata.build_cache(clips, cfg, codec, tmp_path / "cache", log=lambda s: None) == folder
    again = vdata.WindowDataset(folder, cfg.video).batch(range(3))
    assert torch.equal(again["features"], batch["features"])
    for run in ("run1", "run2"):  # two training runs on one cache: the second decodes nothing either
        train(cfg, clips, TrainOptions(steps=2, out=tmp_path / run, device="cpu", cache_dir=tmp_path / "cache"),
              log=lambda s: None)
        if run == "run1":
            opens.files.clear()
    assert opens.files == [] and opens.frames == 0
    assert (tmp_path / "run2" / "checkpoint.pt").is_file()


def test_shards_of_another_backbone_are_made_again_or_refused_by_name(clips, clip_dir, tmp_path, monkeypatch):
    a = with_video_backbone(DEBUG, clip_dir)
    b = with_video_backbone(DEBUG, make_clip(tmp_path / "clip_other", seed=7))
    assert a.video.backbone_sha256 != b.video.backbone_sha256
    codec = load_codec(DEBUG.codec)
    quiet = dict(log=lambda s: None)
    folder_a = vdata.build_cache(clips, a, codec, tmp_path / "cache", **quiet)
    opens = Opens(monkeypatch)
    folder_b = vdata.build_cache(clips, b, codec, tmp_path / "cache", **quiet)
    assert folder_b != folder_a and opens.frames > 0  # computed again with the other backbone
    fa = vdata.WindowDataset(folder_a, a.video).batch([0])["features"]
    fb = vdata.WindowDataset(folder_b, b.video).batch([0])["features"]
    assert not torch.allclose(fa.float(), fb.float(), atol=1e-2)
    with pytest.raises(vdata.ShardMismatch, match=r"hold the image backbone 'clip_b32\d*' .* this model reads "
                                                  r"the image backbone 'clip_other'"):
        vdata.WindowDataset(folder_a, b.video)
    pixels = vdata.build_cache(clips, DEBUG, codec, tmp_path / "cache", **quiet)  # the debug CNN's shards
    with pytest.raises(vdata.ShardMismatch, match="hold the scratch CNN's pixels"):
        vdata.WindowDataset(pixels, a.video)
    with pytest.raises(vdata.ShardMismatch, match="this model reads the scratch CNN's pixels"):
        vdata.WindowDataset(folder_a, DEBUG.video)


def test_serving_computes_the_features_the_shards_hold(clips, clip_dir, tmp_path):
    cfg = with_video_backbone(DEBUG, clip_dir)
    folder = vdata.build_cache(clips, cfg, load_codec(cfg.codec), tmp_path / "cache", log=lambda s: None)
    cached = vdata.WindowDataset(folder, cfg.video).batch([1])["features"][0]  # clip1.mp4, 0-2 s
    serve = load_frame_input(cfg.video)
    # the timeline: clip1's two seconds at record 0.5 s, black before it
    segment = Segment((Clip(str(clips / "clip1.mp4"), 0.0, 2.0, 0.5, 2.5),), 2.5)
    video = serve.segment(segment)
    assert video.shape == (20, 32)
    assert torch.equal(video[4:], cached)  # the same frames through the same path: equal features
    black = serve.blank(1)
    assert torch.equal(video[:4], black.expand(4, -1)) and not torch.equal(black[0], cached[0])
    net = VmasNet(cfg)
    vt = net.video.encode_stream(video[i : i + 7] for i in range(0, 20, 7))
    assert vt.tokens.shape == (1, 20, cfg.video.dim)
    assert net.video.input_key == "features"


def test_training_takes_its_visual_beats_from_the_servers_analysis(clips, tmp_path):
    codec = load_codec(DEBUG.codec)
    folder = vdata.build_cache(clips, DEBUG, codec, tmp_path / "cache", log=lambda s: None)
    batch = vdata.WindowDataset(folder, DEBUG.video).batch(range(3))
    for i in range(3):
        served = visual_beat_times(analyze_file(str(clips / f"clip{i}.mp4")))
        assert len(served) >= 2
        want = activation(served, DEBUG.window_frames, codec.frame_rate, DEBUG.beat_sigma_s)
        assert np.array_equal(batch["visual_beat"][i].numpy(), want)


def broken_sound_video(path: Path, seconds: float = 2.5) -> Path:
    """Pictures that decode and an mp3 stream whose packets are noise: the sound cannot be decoded."""
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=16)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        a = c.add_stream("mp3", rate=48_000)
        for i in range(int(seconds * 16)):
            f = av.VideoFrame.from_ndarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8), format="rgb24")
            f.pts, f.time_base = i, Fraction(1, 16)
            for p in v.encode(f):
                c.mux(p)
        for p in v.encode():
            c.mux(p)
        for k in range(int(seconds * 48_000 / 1152)):
            p = av.Packet(rng.integers(0, 255, 300, dtype=np.uint8).tobytes())
            p.stream, p.pts, p.dts, p.time_base = a, k * 1152, k * 1152, Fraction(1, 48_000)
            c.mux(p)
    return path


def test_a_file_whose_sound_cannot_be_decoded_is_named_with_the_reason_and_the_others_train(clips, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for name in ("clip0.mp4", "clip2.mp4"):
        (data / name).write_bytes((clips / name).read_bytes())
    broken_sound_video(data / "broken.mp4")
    make_music_video(data / "silent.mp4", 2.0, audio=False)
    make_music_video(data / "short.mp4", 1.0, seed=4)
    said = []
    folder = vdata.build_cache(data, DEBUG, load_codec(DEBUG.codec), tmp_path / "cache", log=said.append)
    index = json.loads((folder / "index.json").read_text())
    assert index["counts"] == [2]  # the two good videos train
    assert sorted(index["skipped"]) == ["broken.mp4", "short.mp4", "silent.mp4"]
    broken = index["skipped"]["broken.mp4"]
    assert broken.startswith("broken.mp4: its sound (mp3") and "cannot be decoded (Invalid data" in broken
    assert "Errno" not in broken and "avcodec" not in broken  # the reason, not FFmpeg's bare error
    assert "has no soundtrack" in index["skipped"]["silent.mp4"]
    assert "shorter than one 2 s training window" in index["skipped"]["short.mp4"]
    assert any(line.startswith("skipping broken.mp4: its sound") for line in said)
    assert said[-1].startswith("3 of 5 videos left out")
    only_bad = tmp_path / "bad"
    only_bad.mkdir()
    broken_sound_video(only_bad / "broken.mp4")
    with pytest.raises(MediaError, match=r"none of the 1 videos .* \(broken.mp4: its sound \(mp3"):
        vdata.build_cache(only_bad, DEBUG, load_codec(DEBUG.codec), tmp_path / "cache2", log=lambda s: None)


def test_the_debug_config_keeps_the_scratch_cnn_on_pixels(clips, tmp_path):
    assert DEBUG.video.backbone == ""
    net = VmasNet(DEBUG)
    assert net.video.input_key == "frames"
    frames = FrameInput(DEBUG.video).clip(str(clips / "clip0.mp4"))
    assert frames.shape == (16, 3, 32, 32) and frames.dtype == torch.uint8
    with pytest.raises(ValueError, match="small config's video encoder stands on a pretrained image backbone: "
                                         "train with --video-backbone DIR"):
        vdata.build_cache(clips, dataclasses.replace(DEBUG, name="small", video=dataclasses.replace(
            DEBUG.video, scratch_cnn=False)), load_codec(DEBUG.codec), tmp_path / "cache")
    with pytest.raises(ValueError, match="needs its width"):
        VmasNet(dataclasses.replace(DEBUG, video=dataclasses.replace(DEBUG.video, backbone="/x")))


def test_a_model_on_a_backbone_serves_and_refuses_another_backbone_by_name(clips, tmp_path):
    import shutil

    from scorecut.models.interface import ModelUnavailable, ScoreOptions
    from scorecut.models.vmas import serving
    from scorecut.models.vmas.checkpoint import save_checkpoint
    from scorecut.models.vmas.install import verify

    folder = make_clip(tmp_path / "clip_served", seed=5)
    cfg = with_video_backbone(DEBUG, folder)
    torch.manual_seed(0)
    ckpt = save_checkpoint(tmp_path / "run" / "checkpoint.pt", cfg, VmasNet(cfg), step=1)
    model = serving.load("cpu", str(ckpt))
    assert model.frame_input.key == "features"
    segment = Segment((Clip(str(clips / "clip2.mp4"), 0.0, 2.0, 0.0, 2.0),), 2.0)
    out = model.compose(segment, analyze_file(str(clips / "clip2.mp4")), ScoreOptions(model="vmas", seed=1,
                                                                                       sample_rate=16_000))
    assert out.native_mix.shape == (2, 32_000)
    assert verify(checkpoint=str(ckpt))["finite"]  # `scorecut models verify` on it
    shutil.rmtree(folder)
    make_clip(folder, seed=6)  # another backbone where the model's was
    with pytest.raises(ModelUnavailable, match="cannot use its image backbone: .* not the one this model was "
                                               "trained with"):
        serving.load("cpu", str(ckpt))
    shutil.rmtree(folder)
    with pytest.raises(ModelUnavailable, match="no image backbone folder at .*clip_served"):
        serving.load("cpu", str(ckpt))


def test_scorecut_train_with_a_video_backbone_trains_on_its_cached_features_and_serves(clips, clip_dir, tmp_path):
    import subprocess
    import sys

    from scorecut.models.vmas import serving
    from scorecut.models.vmas.checkpoint import load_checkpoint

    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "scorecut.cli.main", "train", "--config", "debug", "--video-backbone", str(clip_dir),
           "--data", str(clips), "--steps", "2", "--out", str(run), "--device", "cpu", "--holdout", "0",
           "--model-dir", str(tmp_path / "models")]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    state = load_checkpoint(run / "checkpoint.pt")
    video = state["config"].video
    assert video.backbone_sha256 == with_video_backbone(DEBUG, clip_dir).video.backbone_sha256
    # the trained projection of the backbone's 32-wide features is in the checkpoint; the frozen tower is not
    assert state["model"]["video.backbone.proj.weight"].shape == (DEBUG.video.dim, 32)
    assert not any("patch_embedding" in k for k in state["model"])
    shards = [json.loads(p.read_text()) for p in run.rglob("index.json")]
    assert shards and all(s["input"] == "features" and s["backbone"]["name"] == clip_dir.name for s in shards)
    model = serving.load("cpu", str(run / "checkpoint.pt"))
    assert model.frame_input.backbone is not None and model.frame_input.backbone.sha256 == video.backbone_sha256
