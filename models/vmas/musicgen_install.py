"""Installing a local MusicGen folder into the model folder, and what its weights' licence allows.

A MusicGen folder is what `transformers` saves and what facebook/musicgen-small, -medium, -large
and -melody publish: config.json (model_type musicgen or musicgen_melody, with `decoder`,
`text_encoder` and `audio_encoder` parts), the weights (model.safetensors, or shards named by
model.safetensors.index.json; pytorch_model.bin in older copies), and the T5 tokenizer
(tokenizer.json or spiece.model). `check_folder` reads only those small files and the safetensors
headers, and names everything that is missing at once; `install` copies the folder to
`<model dir>/musicgen` atomically (a temporary folder, then a rename).
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .musicgen_folder import MusicGenFolderError, read_musicgen_info  # one error type for both checks

FOLDER = "musicgen"  # <model dir>/musicgen
MODEL_TYPES = ("musicgen", "musicgen_melody")  # melody is then refused by name by the loader
PARTS = ("decoder", "text_encoder", "audio_encoder")  # config sections and weight-name prefixes
PART_WORDS = {"decoder": "the music decoder", "text_encoder": "the T5 text encoder",
              "audio_encoder": "the 32 kHz EnCodec"}
TOKENIZER_FILES = ("tokenizer.json", "spiece.model")
# MusicGen's published weights (all four sizes and melody) are CC-BY-NC 4.0; the code is MIT.
DEFAULT_LICENCE = "cc-by-nc-4.0"
ADD_FIX = "install one with `scorecut models add musicgen DIR` (DIR: a local transformers-format MusicGen folder)"




@dataclass(frozen=True)
class MusicGenFolder:
    """A checked MusicGen folder."""

    path: Path
    model_type: str  # "musicgen" | "musicgen_melody"
    weights: tuple[str, ...]  # weight files, relative to path
    licence: str  # SPDX-style id, lower case: "cc-by-nc-4.0", ...
    n_codebooks: int  # the decoder's codebooks (4 for mono MusicGen)


def installed_folder(model_dir: Path | None) -> Path | None:
    """Where `scorecut models add musicgen` puts the folder, or None without a model folder."""
    return Path(model_dir) / FOLDER if model_dir else None


def read_licence(folder: Path) -> str:
    """The weights' licence from README.md's front matter (`license: ...`) or config.json's
    `license`, else MusicGen's published one (cc-by-nc-4.0)."""
    readme = Path(folder) / "README.md"
    if readme.is_file():
        lines = readme.read_text(errors="replace").splitlines()
        if lines and lines[0].strip() == "---":
            for line in lines[1:]:
                if line.strip() == "---":
                    break
                key, _, value = line.partition(":")
                if key.strip().lower() in ("license", "licence") and value.strip():
                    return value.strip().strip("'\"").lower()
    try:
        value = json.loads((Path(folder) / "config.json").read_text()).get("license", "")
    except (OSError, ValueError, AttributeError):
        value = ""
    return str(value).strip().lower() or DEFAULT_LICENCE


def licence_line(licence: str) -> str:
    """What the licence allows, in one line for GetInfo, `models list` and the README."""
    name = licence.upper().replace("-4.0", " 4.0").replace("CC-BY", "CC BY")
    if "-nc" in licence.lower():
        return (f"weights licensed {name}: non-commercial use only "
                "(check the licence before any commercial use of its music)")
    return f"weights licensed {name}: see the licence in the model's README for what it allows"


def _safetensors_names(path: Path) -> list[str]:
    """Tensor names from a safetensors file's header (8-byte length, then JSON); no weights read."""
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) != 8:
            raise MusicGenFolderError(f"{path.name} is empty or cut short: copy the folder again")
        (size,) = struct.unpack("<Q", head)
        if size > 100 << 20:
            raise MusicGenFolderError(f"{path.name} is not a safetensors file: copy the folder again")
        try:
            header = json.loads(f.read(size))
        except ValueError:
            raise MusicGenFolderError(
                f"{path.name} is damaged (its header is not readable): copy the folder again") from None
    return [k for k in header if k != "__metadata__"]


def _weights(folder: Path, problems: list[str]) -> tuple[list[str], list[str] | None]:
    """(weight files, tensor names or None when they cannot be listed cheaply)."""
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        try:
            files = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        except (ValueError, KeyError, AttributeError):
            problems.append("model.safetensors.index.json is damaged: copy the folder again")
            return [], None
        missing = [f for f in files if not (folder / f).is_file()]
        if missing:
            problems.append(f"weight shards named by model.safetensors.index.json are missing: {', '.join(missing)}")
            return files, None
        return files, [n for f in files for n in _safetensors_names(folder / f)]
    if (folder / "model.safetensors").is_file():
        return ["model.safetensors"], _safetensors_names(folder / "model.safetensors")
    if (folder / "pytorch_model.bin").is_file():
        return ["pytorch_model.bin"], None
    problems.append("the weights are missing (model.safetensors, or the shards of model.safetensors.index.json)")
    return [], None


def check_folder(folder: Path) -> MusicGenFolder:
    """A checked MusicGen folder; MusicGenFolderError names everything that is wrong."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        what = "a file" if folder.exists() else "not there"
        raise MusicGenFolderError(f"{folder} is {what}: give the folder of a transformers-format MusicGen "
                                  "(config.json, model.safetensors, tokenizer files)")
    try:
        config = json.loads((folder / "config.json").read_text())
    except FileNotFoundError:
        raise MusicGenFolderError(f"{folder} has no config.json: it is not a transformers-format MusicGen "
                                  "folder (copy facebook/musicgen-small or another size whole)") from None
    except ValueError:
        raise MusicGenFolderError(f"{folder}/config.json is damaged (not JSON): copy the folder again") from None
    model_type = config.get("model_type", "") if isinstance(config, dict) else ""
    if model_type not in MODEL_TYPES:
        raise MusicGenFolderError(f"{folder} holds a {model_type or 'unknown'!r} model, not MusicGen "
                                  f"(config.json's model_type must be one of {', '.join(MODEL_TYPES)})")
    problems = [f"config.json has no `{p}` section ({PART_WORDS[p]})" for p in PARTS
                if not isinstance(config.get(p), dict)]
    files, names = _weights(folder, problems)
    if names is not None:
        prefixes = {n.split(".", 1)[0] for n in names}
        problems += [f"the weights have no tensors for {PART_WORDS[p]} ({p}.*)" for p in PARTS if p not in prefixes]
    if not any((folder / f).is_file() for f in TOKENIZER_FILES):
        problems.append(f"the T5 tokenizer is missing ({' or '.join(TOKENIZER_FILES)})")
    if problems:
        raise MusicGenFolderError(f"{folder} is not a usable MusicGen folder: " + "; ".join(problems))
    read_musicgen_info(folder)  # what the loader needs besides (mono, codebook sizes, pad id, not melody)
    return MusicGenFolder(folder, model_type, tuple(files), read_licence(folder),
                          int((config.get("decoder") or {}).get("num_codebooks", 4)))


def install(folder: Path, model_dir: Path) -> MusicGenFolder:
    """Check `folder`, then copy it to <model dir>/musicgen atomically; returns the installed one.

    An earlier install is replaced only once the new copy is complete.
    """
    checked = check_folder(folder)
    target = installed_folder(Path(model_dir))
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".musicgen-", dir=target.parent))
    previous = staging / "previous"
    try:
        # Links (a Hugging Face cache snapshot is all links) are copied as the files they name.
        shutil.copytree(checked.path, staging / FOLDER, ignore=shutil.ignore_patterns(".git", ".cache"))
        if target.exists():
            os.replace(target, previous)
        os.replace(staging / FOLDER, target)
    except BaseException:
        if previous.exists() and not target.exists():  # the old install stays when the new one failed
            os.replace(previous, target)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return check_folder(target)


VERIFY_PROMPT = "calm piano with soft strings, 90 bpm"
VERIFY_FILE = "musicgen-verify.wav"  # <model dir>/musicgen-verify.wav unless told otherwise


def verify(model_dir: Path | None, device: str = "cpu", out: Path | None = None) -> dict:
    """Load the installed MusicGen exactly as the server does, make 1 s of music and write it to
    `out` (default <model dir>/musicgen-verify.wav), a mono 16-bit WAV at the codec's rate.
    ModelUnavailable says what to do when it cannot load."""
    import time
    import wave

    import numpy as np

    from .prompt import MusicPrompt
    from .zero_shot import ZeroShotOptions, load

    t0 = time.perf_counter()
    model = load(device=device, model_dir=model_dir, options=ZeroShotOptions(candidates=1))
    codec = model.base.codec
    seconds = 1.0
    prompt = MusicPrompt(VERIFY_PROMPT, 90.0, "", "calm", ())
    codes, _ = model.generate(prompt, int(round(seconds * codec.frame_rate)), seed=0)  # (1, K, T)
    wav = codec.decode(codes)[0, 0].float().cpu().numpy()[: int(round(seconds * codec.sample_rate))]  # (N,)
    out = Path(out) if out else Path(model_dir) / VERIFY_FILE
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    pcm = (np.clip(np.nan_to_num(wav), -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(int(codec.sample_rate))
        w.writeframes(pcm.tobytes())
    os.replace(tmp, out)
    folder = installed_folder(model_dir)
    return {"folder": str(folder), "model_type": check_folder(folder).model_type, "base_sha256": model.base.base_sha256,
            "sample_rate": int(codec.sample_rate), "samples": int(len(wav)), "finite": bool(np.isfinite(wav).all()),
            "licence": licence_line(model.licence), "wav": str(out), "seconds": round(time.perf_counter() - t0, 3)}
