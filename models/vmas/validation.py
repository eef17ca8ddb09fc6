"""Held-out validation during training: per-codebook token loss, beat F-measure, audio samples.

The held-out windows are whole videos the run never trains on (sampler.split_by_source). Every
`validate_every` steps the run scores them with the moving-average weights:
- `val_ce_q<k>`: cross-entropy of codebook k with the video given (codebook 0 carries the coarse
  structure, later ones the detail, so they are read apart);
- `val_beat_f`: F-measure (100 ms window) between the beats the beat head hears in the held-out
  music (video dropped, as at inference) and the beats tracked in its audio;
and writes a few audio samples generated from the held-out videos under RUN/samples/step-N/.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .beats import beat_agreement, pick_peaks
from .delay import delay_valid_mask

BEAT_THRESHOLD = 0.5  # activation above which a peak is a beat (as when candidates are re-ranked)
BEAT_MIN_GAP_S = 0.2


@torch.no_grad()
def codebook_losses(net, batch: dict) -> list[float]:
    """Mean cross-entropy (nats) of each codebook over the batch, video given."""
    codes = batch["codes"]  # (B, K, T)
    k, t = codes.shape[1:]
    logits, targets = _token_logits(net, batch)
    valid = delay_valid_mask(k, t, codes.device)  # (K, L)
    card = logits.shape[-1]
    return [float(F.cross_entropy(logits[:, q][:, valid[q]].reshape(-1, card).float(),
                                  targets[:, q][:, valid[q]].reshape(-1))) for q in range(k)]


def beats_of(curve: np.ndarray, frame_rate: float) -> np.ndarray:
    """Beat times (seconds) in an activation curve (T,) at the codec frame rate."""
    return pick_peaks(curve, frame_rate, min_gap_s=BEAT_MIN_GAP_S, threshold=BEAT_THRESHOLD)


@torch.no_grad()
def beat_f_measure(net, batch: dict) -> float:
    """Mean F-measure between the beat head's beats (music alone) and the tracked ones."""
    fr = net.cfg.codec.frame_rate
    heard = net.beat_activation(batch["codes"]).float().cpu().numpy()  # (B, T)
    truth = batch["music_beat"].float().cpu().numpy()  # (B, T)
    scores = [beat_agreement(beats_of(h, fr), beats_of(t, fr)) for h, t in zip(heard, truth, strict=True)]
    return float(np.mean(scores)) if scores else 0.0


def write_wav(path: Path, wav: np.ndarray, sample_rate: int) -> None:
    """Mono float (N,) -> 16-bit PCM WAV, written to a temporary name then renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pcm = (np.clip(wav, -1, 1) * 32767).astype("<i2")
    tmp = path.with_name(path.name + ".tmp")
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm.tobytes())
    tmp.replace(path)


@torch.no_grad()
def write_samples(net, codec, batch: dict, names: list[str], folder: Path, seed: int) -> list[Path]:
    """Generate music for each held-out window's video; write it and the original beside it."""
    from .generate import GenerateOptions, generate_codes

    paths = []
    n = batch["codes"].shape[-1]
    for i, name in enumerate(names):
        vt = net.video(batch[net.video.input_key][i : i + 1])
        codes = generate_codes(net, vt, batch["visual_beat"][i], n, GenerateOptions(seed=seed + i))
        for tag, c in (("generated", codes[:1]), ("original", batch["codes"][i : i + 1])):
            wav = codec.decode(c)[0, 0].float().cpu().numpy()
            path = folder / f"{name}.{tag}.wav"
            write_wav(path, wav, codec.sample_rate)
            paths.append(path)
    return paths


@torch.no_grad()
def validate(net, batches: list[dict]) -> dict:
    """Metrics over the held-out batches: val_loss, val_ce_q<k>, val_beat_f."""
    per_q, beat_f, weights = None, [], []
    for batch in batches:
        ce = codebook_losses(net, batch)
        w = batch["codes"].shape[0]
        per_q = [w * c for c in ce] if per_q is None else [a + w * c for a, c in zip(per_q, ce, strict=True)]
        beat_f.append(w * beat_f_measure(net, batch))
        weights.append(w)
    total = sum(weights)
    ce = [c / total for c in per_q]
    return {"val_loss": round(float(np.mean(ce)), 6), **{f"val_ce_q{q}": round(c, 6) for q, c in enumerate(ce)},
            "val_beat_f": round(sum(beat_f) / total, 6)}


def _token_logits(net, batch: dict):
    """The LM's logits (B, K, L, card) and delayed targets (B, K, L) with every clip's video given."""
    codes = batch["codes"]
    b = codes.shape[0]
    keep = torch.ones(b, dtype=torch.bool, device=codes.device)
    vt = net.video(batch[net.video.input_key])
    memory = net.memory(vt.tokens, vt.times_s * net.cfg.codec.frame_rate, b, keep_video=keep)
    inputs, targets = net.lm_inputs(codes)
    beat = net.beat_stream(batch["visual_beat"], inputs.shape[-1], keep)
    logits, _ = net.lm(inputs, beat, memory)
    return logits, targets
