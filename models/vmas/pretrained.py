"""A local transformers-format MusicGen folder -> our music LM, its text conditioning and its codec.

    info = read_musicgen_info(folder)        # config.json only: shapes, licence, no weights read
    base = load_musicgen(folder, device="cuda", dtype=torch.bfloat16)
    base.lm                                  # MusicLM with MusicGen's decoder weights (new parts inert)
    states, mask = base.text.encode(["calm piano, 90 bpm"])  # T5 + enc_to_dec_proj
    memory = base.lm.memory(1, text=states, text_mask=mask)  # or base.text_memory([...])
    base.codec                               # the folder's EnCodec through codec.py's interface
    base.base_sha256                         # ties fine-tuned checkpoints to these weights

A folder is what `save_pretrained` of a `MusicgenForConditionalGeneration` writes (as published:
facebook/musicgen-small, -medium, -large): config.json with text_encoder / audio_encoder /
decoder configs, model.safetensors (or shards with model.safetensors.index.json), and the T5
tokenizer files. Loading is strict: every tensor of the file is used (or checked, for an old
saved position table), shapes are checked, and a missing, extra or misshapen tensor is named in
a `MusicGenFolderError`. Nothing is downloaded. musicgen-melody (it prepends its conditioning
to the decoder input instead of cross-attending) and the stereo models are refused by name.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import torch

from .codec import CodecUnavailable, EncodecCodec
from .config import CodecConfig, LMConfig
from .music_lm import Memory, MusicLM, musicgen_positions
from .text_conditioning import TextConditioner

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


class _Tensors:
    """Lazy access to every tensor of the folder's safetensors file(s), by name."""

    def __init__(self, files: tuple[Path, ...]):
        from safetensors import safe_open

        self._where = {}
        self._handles = [safe_open(str(f), framework="pt") for f in files]
        for h in self._handles:
            for k in h.keys():  # a safetensors handle is not a dict
                self._where[k] = h

    def names(self) -> set[str]:
        return set(self._where)

    def get(self, name: str) -> torch.Tensor:
        return self._where[name].get_tensor(name)


def _check_names(folder: Path, part: str, have: set[str], want: set[str], prefix: str = "") -> None:
    """`prefix` + a name is the tensor's name in the file (what the message shows)."""
    missing, extra = [prefix + n for n in sorted(want - have)], [prefix + n for n in sorted(have - want)]
    if missing:
        raise _fail(folder, f"the {part} tensor {missing[0]!r} is missing from its weights"
                            + (f" ({len(missing) - 1} more)" if len(missing) > 1 else ""))
    if extra:
        raise _fail(folder, f"its weights hold a {part} tensor Scorecut does not know, {extra[0]!r}"
                            + (f" ({len(extra) - 1} more)" if len(extra) > 1 else ""))


def _checked(folder: Path, name: str, tensor: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    if tuple(tensor.shape) != tuple(shape):
        raise _fail(folder, f"the tensor {name!r} has shape {tuple(tensor.shape)}, its config needs {tuple(shape)}")
    return tensor


def _load_lm(info: MusicGenInfo, tensors: _Tensors, names: set[str]) -> MusicLM:
    folder, c = info.folder, info.codec
    with torch.device("meta"):  # no random init of the big parts: they come from the file
        lm = MusicLM(info.lm, c.n_q, c.cardinality)
    shapes = dict(lm.state_dict())
    ours = {f"{DECODER}{n}" if not n.startswith("lm_heads.") else f"decoder.{n}": n
            for n in lm.base_parameter_names()}
    _check_names(folder, "decoder", names - {OLD_POSITIONS}, set(ours))
    state = {n: _checked(folder, k, tensors.get(k), shapes[n].shape) for k, n in ours.items()}
    if OLD_POSITIONS in names:  # an old file saved the position table: it must be MusicGen's formula
        saved = tensors.get(OLD_POSITIONS).float()
        table = musicgen_positions(torch.arange(saved.shape[0]), info.lm.dim)
        if saved.shape != table.shape or not torch.allclose(saved, table, atol=1e-4):
            raise _fail(folder, f"its saved {OLD_POSITIONS!r} is not MusicGen's sinusoidal table")
    g = torch.Generator().manual_seed(0)
    d = info.lm.dim
    state["beat_head.weight"] = torch.randn(1, d, generator=g) * d**-0.5  # new: a read-out, starts small
    state["beat_head.bias"] = torch.zeros(1)
    state["beat_proj.weight"], state["beat_proj.bias"] = torch.zeros(d, 1), torch.zeros(d)
    for i in range(info.lm.n_layers):
        state[f"layers.{i}.encoder_attn.video_gate"] = torch.zeros(info.lm.n_heads)
    lm.load_state_dict(state, strict=True, assign=True)
    lm.zero_new_parameters()  # the beat stream and the video gates start closed: step 0 is MusicGen
    return lm


def _load_part(folder: Path, part: str, model: torch.nn.Module, tensors: _Tensors, prefix: str,
               renames: dict[str, str] | None = None, tied: dict[str, str] | None = None) -> None:
    """Strictly load `prefix`* tensors into a transformers module; `tied`: target <- source names."""
    file_names = {k for k in tensors.names() if k.startswith(prefix)}
    mapped = {}
    for k in file_names:
        n = k[len(prefix):]
        for old, new in (renames or {}).items():
            n = n.replace(old, new)
        mapped[n] = k
    own = model.state_dict()
    tied = {t: s for t, s in (tied or {}).items() if t not in mapped}  # a file may also store the tied copy
    _check_names(folder, part, set(mapped), set(own) - set(tied), prefix)
    state = {n: _checked(folder, k, tensors.get(k), own[n].shape) for n, k in mapped.items()}
    for target, source in tied.items():
        state[target] = state[source]
    model.load_state_dict(state, strict=True)


def _load_codec_model(info: MusicGenInfo, tensors: _Tensors):
    from transformers import EncodecConfig, EncodecModel

    audio = json.loads((info.folder / "config.json").read_text())["audio_encoder"]
    model = EncodecModel(EncodecConfig(**{k: v for k, v in audio.items() if k not in ("model_type",)}))
    # Published folders saved weight-normed convolutions as weight_g / weight_v (old torch names).
    _load_part(info.folder, "audio_encoder", model, tensors, "audio_encoder.",
               renames={".weight_g": ".parametrizations.weight.original0",
                        ".weight_v": ".parametrizations.weight.original1"})
    return model.eval()


def load_musicgen_codec(cfg: CodecConfig, device: str = "cpu") -> EncodecCodec:
    """The EnCodec inside a MusicGen folder (`cfg.kind == "musicgen"`, `cfg.path` the folder)."""
    try:
        info = read_musicgen_info(cfg.path)
    except MusicGenFolderError as exc:
        raise CodecUnavailable(str(exc)) from None
    model = _load_codec_model(info, _Tensors(info.weights))
    return EncodecCodec.from_model(model, cfg, str(info.folder), device)


def _load_text(info: MusicGenInfo, tensors: _Tensors, device, dtype) -> TextConditioner:
    from transformers import AutoTokenizer, T5Config, T5EncoderModel

    text = json.loads((info.folder / "config.json").read_text())["text_encoder"]
    encoder = T5EncoderModel(T5Config(**{k: v for k, v in text.items() if k != "model_type"}))
    _load_part(info.folder, "text_encoder", encoder, tensors, "text_encoder.",
               tied={"encoder.embed_tokens.weight": "shared.weight"})
    if info.has_proj:
        proj = torch.nn.Linear(info.text_dim, info.lm.dim)
        _load_part(info.folder, "enc_to_dec_proj", proj, tensors, "enc_to_dec_proj.")
    else:
        if any(k.startswith("enc_to_dec_proj.") for k in tensors.names()):
            raise _fail(info.folder, "it holds enc_to_dec_proj weights although T5's width equals the decoder's")
        proj = torch.nn.Identity()
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(info.folder), local_files_only=True)
    except Exception as exc:  # transformers raises many kinds here; say which and why
        raise _fail(info.folder, f"its tokenizer does not load ({exc})") from None
    return TextConditioner(encoder.to(device), proj.to(device), tokenizer, dtype)


@dataclass
class MusicGenBase:
    """A loaded MusicGen: our LM with its decoder, its text conditioning, its codec."""

    lm: MusicLM
    text: TextConditioner
    codec: EncodecCodec
    base_sha256: str
    lm_config: LMConfig
    codec_config: CodecConfig
    info: MusicGenInfo

    def text_memory(self, prompts: list[str]) -> Memory:
        """The conditional memory of `prompts` (one row each), text only."""
        states, mask = self.text.encode(prompts)
        return self.lm.memory(len(prompts), text=states, text_mask=mask)

    def null_memory(self, batch: int = 1) -> Memory:
        """The unconditional memory (transformers' null condition for guidance)."""
        return self.lm.memory(batch)


KNOWN_PREFIXES = ("decoder.", "enc_to_dec_proj.", "text_encoder.", "audio_encoder.")


def load_musicgen(folder: str | Path, device: str = "cpu", dtype: torch.dtype = torch.float32) -> MusicGenBase:
    """Load a local MusicGen folder strictly; MusicGenFolderError names what is wrong."""
    info = read_musicgen_info(folder)
    tensors = _Tensors(info.weights)
    names = tensors.names()
    stray = sorted(k for k in names if not k.startswith(KNOWN_PREFIXES))
    if stray:
        raise _fail(info.folder, f"its weights hold a tensor Scorecut does not know, {stray[0]!r}")
    decoder_names = {k for k in names if k.startswith("decoder.")}
    lm = _load_lm(info, tensors, decoder_names).to(device=device, dtype=dtype).eval()
    text = _load_text(info, tensors, device, dtype)
    codec = EncodecCodec.from_model(_load_codec_model(info, tensors), info.codec, str(info.folder), device)
    return MusicGenBase(lm=lm, text=text, codec=codec, base_sha256=weights_sha256(info.folder),
                        lm_config=info.lm, codec_config=info.codec, info=info)
