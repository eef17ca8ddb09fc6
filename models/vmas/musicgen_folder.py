"""What a local MusicGen folder holds, read from its small files alone (no torch, no weights).

Availability checks (GetInfo, `scorecut models list`, `models add`) and the licence line need
only this, so they stay cheap: a server answers its first GetInfo without importing torch for
MusicGen. Loading the weights is pretrained.py's job.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from .config import CodecConfig, LMConfig

DECODER = "decoder.model.decoder."
HEADS = "decoder.lm_heads."
OLD_POSITIONS = DECODER + "embed_positions.weights"  # saved by transformers < 4.40; checked, not loaded
LICENCE_NOTE = ("MusicGen's published weights (facebook/musicgen-*) are licensed CC-BY-NC 4.0: "
                "non-commercial use only; music made with them inherits that restriction")


class MusicGenFolderError(ValueError):
    """The folder is not a usable MusicGen; the message names the file or tensor and the fix."""


@dataclass(frozen=True)
class MusicGenInfo:
    folder: Path
    name: str  # what the folder says it is (e.g. facebook/musicgen-small), else the folder's name
    lm: LMConfig  # the decoder's shape
    codec: CodecConfig  # kind "musicgen", path = folder
    text_dim: int  # T5's width (before enc_to_dec_proj)
    has_proj: bool  # enc_to_dec_proj exists (T5's width differs from the decoder's)
    weights: tuple[Path, ...]  # safetensors file(s)
    licence: str  # the licence id the folder's README declares, "" when it declares none
    licence_note: str  # what a user is told about the weights' licence


def _fail(folder: Path, what: str) -> MusicGenFolderError:
    return MusicGenFolderError(f"{folder} is not a usable MusicGen folder: {what}")


def lm_config_from_musicgen(decoder: dict) -> LMConfig:
    """LMConfig from a MusicGen decoder config (config.json's "decoder")."""
    return LMConfig(dim=int(decoder["hidden_size"]), n_layers=int(decoder["num_hidden_layers"]),
                    n_heads=int(decoder["num_attention_heads"]), ffn_dim=int(decoder["ffn_dim"]),
                    activation=str(decoder.get("activation_function", "gelu")),
                    dropout=float(decoder.get("dropout", 0.0)),
                    max_steps=int(decoder.get("max_position_embeddings", 2048)))


def _weight_files(folder: Path) -> tuple[Path, ...]:
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        names = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        files = tuple(folder / n for n in names)
    elif (folder / "model.safetensors").is_file():
        files = (folder / "model.safetensors",)
    else:
        raise _fail(folder, "no model.safetensors (or model.safetensors.index.json) in it; copy the whole "
                            "published folder (a pytorch_model.bin alone is not read)")
    for f in files:
        if not f.is_file():
            raise _fail(folder, f"the weights file {f.name} named by its index is missing")
    return files


def _licence(folder: Path) -> str:
    readme = folder / "README.md"
    if not readme.is_file():
        return ""
    m = re.search(r"^license:\s*(\S+)", readme.read_text(errors="replace"), re.MULTILINE)
    return m.group(1) if m else ""


def read_musicgen_info(folder: str | Path) -> MusicGenInfo:
    """What a MusicGen folder holds, from its config.json alone (cheap: no weights are read)."""
    folder = Path(folder).expanduser()
    path = folder / "config.json"
    if not path.is_file():
        raise _fail(folder, "no config.json in it")
    try:
        cfg = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise _fail(folder, f"config.json is not JSON ({exc})") from None
    kind = cfg.get("model_type", "")
    if kind == "musicgen_melody":
        raise _fail(folder, "it is musicgen-melody, which Scorecut does not support (it conditions by "
                            "prefixing, not cross-attention); install musicgen-small, -medium or -large")
    if kind != "musicgen" or not all(k in cfg for k in ("decoder", "text_encoder", "audio_encoder")):
        raise _fail(folder, f"its config.json describes a {kind or 'model without a model_type'!r}, not a "
                            "MusicgenForConditionalGeneration (text_encoder, audio_encoder and decoder)")
    dec, audio, text = cfg["decoder"], cfg["audio_encoder"], cfg["text_encoder"]
    if int(dec.get("audio_channels", 1)) != 1:
        raise _fail(folder, "it is a stereo MusicGen; Scorecut uses the mono ones (musicgen-small/-medium/-large)")
    hop = 1
    for r in audio["upsampling_ratios"]:
        hop *= int(r)
    sample_rate = int(audio["sampling_rate"])
    codec = CodecConfig(kind="musicgen", sample_rate=sample_rate, frame_rate=sample_rate // hop,
                        n_q=int(dec["num_codebooks"]), cardinality=int(dec["vocab_size"]), path=str(folder))
    if int(audio["codebook_size"]) != codec.cardinality:
        raise _fail(folder, f"its decoder has {codec.cardinality} entries per codebook, its EnCodec "
                            f"{audio['codebook_size']}")
    if dec.get("pad_token_id", codec.cardinality) != codec.cardinality:
        raise _fail(folder, f"its decoder's pad id {dec.get('pad_token_id')} is not {codec.cardinality} "
                            "(MusicGen's convention, which Scorecut relies on)")
    text_dim = int(text["d_model"])
    has_proj = text_dim != int(dec["hidden_size"]) and dec.get("cross_attention_hidden_size") is None
    if not any((folder / f).is_file() for f in ("tokenizer.json", "spiece.model")):
        raise _fail(folder, "its T5 tokenizer (tokenizer.json or spiece.model) is missing; copy the whole folder")
    licence = _licence(folder)
    note = LICENCE_NOTE if licence in ("", "cc-by-nc-4.0") else f"the folder declares the licence {licence}"
    return MusicGenInfo(folder=folder, name=str(cfg.get("_name_or_path") or folder.name),
                        lm=lm_config_from_musicgen(dec), codec=codec, text_dim=text_dim, has_proj=has_proj,
                        weights=_weight_files(folder), licence=licence, licence_note=note)


@functools.lru_cache(maxsize=8)
def _sha256_cached(files: tuple[str, ...], stamp: tuple) -> str:
    digests = []
    for f in files:
        h = hashlib.sha256()
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 22), b""):
                h.update(chunk)
        digests.append(h.hexdigest())
    if len(digests) == 1:  # one file: its own sha256 (what `sha256sum model.safetensors` prints)
        return digests[0]
    joined = "".join(f"{Path(f).name}:{d}\n" for f, d in zip(files, digests, strict=True))
    return hashlib.sha256(joined.encode()).hexdigest()


def weights_sha256(folder: str | Path) -> str:
    """sha256 of the folder's weights: of model.safetensors, or of the shards' names and digests."""
    files = _weight_files(Path(folder).expanduser())
    stamp = tuple((f.stat().st_size, f.stat().st_mtime_ns) for f in files)  # re-hash only if changed
    return _sha256_cached(tuple(str(f) for f in files), stamp)
