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

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from .codec import CodecUnavailable, EncodecCodec
from .config import CodecConfig, LMConfig
from .music_lm import Memory, MusicLM, musicgen_positions
from .musicgen_folder import (
    DECODER,
    OLD_POSITIONS,
    MusicGenFolderError,
    MusicGenInfo,
    _fail,
    read_musicgen_info,
    weights_sha256,
)
from .text_conditioning import TextConditioner


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
