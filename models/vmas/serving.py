"""VMAS as a Scorecut model: availability, loading a checkpoint, and compose().

A checkpoint is installed at `<model dir>/vmas/checkpoint.pt` (by `scorecut models add`) or
given per request (`--checkpoint PATH`). Without one the model is listed unavailable and a
request for it fails with the fix in words. Its native output is the mix; it gives no stems.

compose() needs the segment's pictures, not only the analysis curves: it decodes the clips of
the segment it is given at the video fps.
"""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import numpy as np

from .. import directing
from ..interface import (
    ModelInfo,
    ModelOutput,
    ModelUnavailable,
    MusicalPlan,
    ProgressFn,
    RequestError,
    ScoreOptions,
    Section,
    Segment,
    check_cancelled,
    no_progress,
)

CHECKPOINT_NAME = "checkpoint.pt"
HIT_TOLERANCE_S = 0.1  # a generated beat this close to an editor's hit meets it (the re-ranking's tolerance)
FIX = ("train one as the README's VMAS section shows: `scorecut train --config small --data VIDEOS/ "
       "--codec encodec_32khz/ --video-backbone clip-vit-base-patch32/ --steps 200000 --out RUN`, then install "
       "it with `scorecut models add vmas RUN/checkpoint.pt --codec encodec_32khz/` or pass "
       "`--checkpoint RUN/checkpoint.pt`")
DESCRIPTION = "VMAS: neural video-to-music (temporal video encoder + music transformer); mix only."


def installed_checkpoint(model_dir: Path | None) -> Path | None:
    """Where `scorecut models add` puts the VMAS checkpoint, or None without a model folder."""
    return Path(model_dir) / "vmas" / CHECKPOINT_NAME if model_dir else None


def info(device: str = "cpu", model_dir: Path | None = None) -> ModelInfo:
    """Availability without loading anything heavy: the checkpoint file must be there."""
    path = installed_checkpoint(model_dir)
    available = path is not None and path.is_file()
    reason = "" if available else f"no VMAS checkpoint is installed in {model_dir or 'the model folder'}: {FIX}"
    return ModelInfo(name="vmas", available=available, unavailable_reason=reason, stems=(),
                     native_output="mix", description=DESCRIPTION)


def load(device: str = "cpu", checkpoint: str = "", model_dir: Path | None = None) -> VmasModel:
    """A ready VmasModel; ModelUnavailable says what to do when it cannot be."""
    path = Path(checkpoint).expanduser() if checkpoint else installed_checkpoint(model_dir)
    if path is None or not path.is_file():
        where = str(path) if path is not None else "the model folder"
        raise ModelUnavailable(f"the vmas model has no checkpoint at {where}: {FIX}")
    import torch

    from .backbone import BackboneError, check_backbone
    from .checkpoint import CheckpointError, load_checkpoint, serving_weights
    from .codec import CodecUnavailable, load_codec
    from .model import VmasNet

    if device in ("auto", ""):
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelUnavailable("vmas was asked to run on CUDA but no CUDA device is available: use --device cpu")
    try:
        state = load_checkpoint(path)
    except CheckpointError as exc:
        raise ModelUnavailable(str(exc)) from None
    cfg = state["config"]
    if state["base"]:  # a fine-tune of MusicGen: needs its exact base installed (finetune.py)
        from .finetune import load_finetuned

        try:
            net, codec = load_finetuned(state, model_dir, device, path)
        except (CheckpointError, ValueError) as exc:  # a missing or other base, a damaged base folder
            raise ModelUnavailable(str(exc)) from None
        return VmasModel(net, codec, str(path), compile_step=device.startswith("cuda"))
    try:
        codec = load_codec(cfg.codec, model_dir, device=device)
    except CodecUnavailable as exc:
        raise ModelUnavailable(f"vmas cannot load its audio codec: {exc}") from None
    if cfg.video.backbone:  # a CLIP/SigLIP folder outside the checkpoint: here, with the same weights
        try:
            check_backbone(cfg.video)
        except BackboneError as exc:
            raise ModelUnavailable(f"this vmas model cannot use its image backbone: {exc}") from None
        net = VmasNet(cfg)
        net.load_state_dict(serving_weights(state))
    else:
        with torch.device("meta"):  # no random init: the weights come from the checkpoint
            net = VmasNet(cfg)
        net.load_state_dict(serving_weights(state), assign=True)  # the run's moving average
    return VmasModel(net.to(device).eval(), codec, str(path), compile_step=device.startswith("cuda"))


def key_of(wav: np.ndarray, sample_rate: int) -> str:
    """Krumhansl-Schmuckler key estimate from the mean chroma; "" for silence or no pitch."""
    if len(wav) < sample_rate // 2 or float(np.abs(wav).max(initial=0.0)) < 1e-4:
        return ""
    n_fft = 4096
    frames = np.lib.stride_tricks.sliding_window_view(wav, n_fft)[:: n_fft // 2]
    power = (np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=1)) ** 2).mean(axis=0)  # (bins,)
    freqs = np.fft.rfftfreq(n_fft, 1 / sample_rate)
    band = (freqs > 55) & (freqs < 2000)  # A1..B6: where harmony is heard
    pitch_class = np.round(12 * np.log2(freqs[band] / 440.0)).astype(int) % 12  # 0 = A
    chroma = np.bincount(pitch_class, weights=power[band], minlength=12)
    chroma = np.roll(chroma, -3)  # index 0 = C
    if chroma.std() == 0:
        return ""
    major = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
    minor = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
    names = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
    best = max(((np.corrcoef(chroma, np.roll(p, i))[0, 1], f"{names[i]} {m}")
                for p, m in ((major, "major"), (minor, "minor")) for i in range(12)), key=lambda x: x[0])
    return best[1]


class VmasModel:
    """Implements models.interface.MusicModel with a trained VMAS network."""

    name = "vmas"

    def __init__(self, net, codec, checkpoint: str, generate_options=None, compile_step: bool = False):
        import torch

        from .features import load_frame_input
        from .generate import GenerateOptions

        self.net, self.codec, self.checkpoint = net, codec, checkpoint
        # What the video encoder reads per frame, made as for the training shards (features.py)
        self.frame_input = load_frame_input(net.cfg.video, next(net.parameters()).device)
        self.generate_options = generate_options or GenerateOptions(candidates=2)
        # Only the one-token step is compiled (gpt-fast): static shapes thanks to the static cache.
        self._step = torch.compile(net.lm.forward, mode="reduce-overhead") if compile_step else None

    def info(self) -> ModelInfo:
        return ModelInfo(name="vmas", available=True, stems=(), native_output="mix", description=DESCRIPTION)

    def compose(self, segment: Segment, analysis, options: ScoreOptions, progress: ProgressFn = no_progress,
                cancel: threading.Event | None = None) -> ModelOutput:
        """Music for the segment: exactly round(duration_s * options.sample_rate) frames, mix only."""
        import torch

        from .beats import activation
        from .generate import generate_codes, rerank_candidates

        if segment is None:
            raise RequestError("vmas needs the segment's pictures: pass the Segment the analysis was made from")
        cfg = self.net.cfg
        duration = float(analysis.duration_s)
        video = self.frame_input.segment(segment, cancel)  # (N, 3, S, S) pixels | (N, F) backbone features
        check_cancelled(cancel)
        vt = self.net.video.encode_stream(video.split(cfg.video.chunk_frames))
        fr = cfg.codec.frame_rate
        n_codes = int(np.ceil(duration * fr - 1e-9))
        # Cuts are the strongest visual beats; both drive the beat stream.
        visual = np.union1d(np.asarray(analysis.visual_beats_s, float), np.asarray(analysis.cuts_s, float))
        beat = torch.from_numpy(activation(visual, n_codes, fr, cfg.beat_sigma_s))
        opts = dataclasses.replace(self.generate_options, seed=int(options.seed))
        codes = generate_codes(self.net, vt, beat, n_codes, opts, progress=progress, cancel=cancel,
                               step_fn=self._step)
        codes, beats = rerank_candidates(self.net, codes, visual)
        if options.hits:  # the editor's hits first: the candidate whose beats meet most of them (stable)
            met = [directing.hits_met(b, options.hits, HIT_TOLERANCE_S) for b in beats]
            order = sorted(range(len(beats)), key=lambda i: -met[i])
            codes, beats = codes[order], [beats[i] for i in order]
        wav = self.codec.decode(codes[:1])[0, 0].cpu().numpy()  # (n_codes * hop,)
        sr = int(options.sample_rate)
        audio = at_output_rate(wav, self.codec.sample_rate, sr, round(duration * sr))
        mix = np.stack([audio, audio])  # (2, n): the codec is mono
        plan = plan_from_beats(beats[0], audio, sr, duration, options)
        return ModelOutput(sample_rate=sr, stems={}, plan=plan, native_mix=mix, extra=directing.report(options, plan))


def at_output_rate(wav: np.ndarray, codec_rate: int, sample_rate: int, frames: int) -> np.ndarray:
    """Mono codec audio (N,) at codec_rate -> (frames,) float32 at sample_rate, cut or padded."""
    from scipy.signal import resample_poly

    g = np.gcd(sample_rate, codec_rate)
    audio = resample_poly(np.asarray(wav, np.float64), sample_rate // g, codec_rate // g)
    return np.pad(audio, (0, max(0, frames - len(audio))))[:frames].astype(np.float32)


def plan_from_beats(beats_s, audio: np.ndarray, sr: int, duration: float, options: ScoreOptions,
                    sections: tuple[Section, ...] = ()) -> MusicalPlan:
    """The plan of generated music: the beats heard in it, its tempo and key; `sections` or one."""
    beats = tuple(float(round(b, 6)) for b in beats_s if b < duration)
    tempo = float(60.0 / np.median(np.diff(beats))) if len(beats) > 2 else 0.0
    per_bar = {"3/4": 3, "6/8": 2}.get(options.meter, 4)
    return MusicalPlan(
        tempo_bpm=round(tempo, 3), meter=options.meter, key=key_of(audio, sr),
        beats_s=beats, downbeats_s=beats[::per_bar],
        sections=sections or (Section(0.0, duration, 3, "A"),), style=options.style, mood=options.mood)
