"""`scorecut models ACTION`: the music models, their availability and the stems each gives.

Actions live in ACTIONS: name -> (help, add_arguments, run). `list` is here; `add` and `verify`
(installing and checking VMAS checkpoints and MusicGen folders) plug in the same way.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass


def _add_list_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--server", default="", metavar="ADDR",
                   help="ask this server (default $SCORECUT_SERVER or 127.0.0.1:50777); "
                        "when none answers, check this machine")
    p.add_argument("--token", default=os.environ.get("SCORECUT_TOKEN", ""), metavar="T",
                   help="token for a server that requires one")
    p.add_argument("--local", action="store_true", help="check this machine without asking a server")


def _server_models(address: str, token: str | None) -> list[dict] | None:
    """The models a server at `address` reports, or None when nothing answers."""
    from scorecut.plugins.client import ScorecutClient, ScorecutClientError

    with ScorecutClient(address, token=token) as client:
        if not client.ping(timeout=1.5):
            return None
        try:
            info = client.info()
        except ScorecutClientError:
            return None
    return [{"name": m.name, "available": m.available, "reason": m.unavailable_reason, "stems": list(m.stems),
             "native_output": m.native_output, "description": m.description} for m in info.models]


def local_models(device: str = "cpu") -> list[dict]:
    """The models as this machine sees them (model folder from platformdirs)."""
    from scorecut.models.registry import model_infos
    from scorecut.server.config import default_model_dir

    return [{"name": m.name, "available": m.available, "reason": m.unavailable_reason, "stems": list(m.stems),
             "native_output": m.native_output, "description": m.description}
            for m in model_infos(device=device, model_dir=default_model_dir())]


def _run_list(args) -> int:
    from scorecut.plugins.client import DEFAULT_ADDRESS, ENV_SERVER

    address = args.server or os.environ.get(ENV_SERVER) or DEFAULT_ADDRESS
    models = None if args.local else _server_models(address, args.token or None)
    if models is None:
        source = "this machine" + ("" if args.local else f" (no server answers at {address})")
        models = local_models()
    else:
        source = f"the server at {address}"
    print(f"models on {source}:")
    for m in models:
        state = "available" if m["available"] else "unavailable"
        stems = ", ".join(m["stems"]) or "mix only"
        print(f"  {m['name']:<10} {state:<12} stems: {stems}")
        if m["description"]:
            print(f"  {'':<10} {m['description']}")
        if not m["available"] and m["reason"]:
            print(f"  {'':<10} to make it available: {m['reason']}")
    return 0


# `add` and `verify`: installing and checking VMAS checkpoints (the logic is in models/vmas/install.py)
# and MusicGen folders (models/vmas/musicgen_install.py).
def _add_add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", choices=("vmas", "musicgen", "soundfont"), help="the model (or SoundFont) to install")
    p.add_argument("source", metavar="PATH",
                   help="vmas: RUN/checkpoint.pt written by `scorecut train`; musicgen: a local transformers-format "
                        "MusicGen folder (musicgen-small, -medium, -large or -melody: config.json, weights, "
                        "tokenizer); "
                        "soundfont: an .sf2 or .sf3 General MIDI font the composer plays its parts with")
    p.add_argument("--codec", default="", metavar="DIR",
                   help="the 32 kHz EnCodec folder (config.json + weights), for models that decode with it")
    p.add_argument("--model-dir", default="", metavar="DIR", help="model folder (default: this user's)")


def _model_dir(args):
    from pathlib import Path

    from scorecut.server.config import default_model_dir

    return Path(args.model_dir).expanduser() if args.model_dir else default_model_dir()


def _run_add(args) -> int:
    from pathlib import Path

    if args.model == "musicgen":
        return _run_add_musicgen(args)
    if args.model == "soundfont":
        return _run_add_soundfont(args)
    from scorecut.models.vmas.checkpoint import CheckpointError
    from scorecut.models.vmas.install import install

    try:
        path = install(Path(args.source).expanduser(), _model_dir(args),
                       Path(args.codec).expanduser() if args.codec else None)
    except (CheckpointError, FileNotFoundError, OSError) as exc:
        print(f"scorecut models add: {exc}", file=sys.stderr)
        return 1
    print(f"installed {args.model} at {path}; check it with `scorecut models verify {args.model}`")
    return 0


def _run_add_musicgen(args) -> int:
    from pathlib import Path

    from scorecut.models.vmas.musicgen_install import MusicGenFolderError, install, licence_line

    try:
        installed = install(Path(args.source).expanduser(), _model_dir(args))
    except (MusicGenFolderError, OSError) as exc:
        print(f"scorecut models add: {exc}", file=sys.stderr)
        return 1
    print(f"installed musicgen ({installed.model_type}) at {installed.path}; "
          "check it with `scorecut models verify musicgen`")
    print(f"  {licence_line(installed.licence)}")
    return 0


def _run_add_soundfont(args) -> int:
    from pathlib import Path

    from scorecut.models.composer import soundfont

    try:
        path = soundfont.install_font(Path(args.source), _model_dir(args))
    except (soundfont.SoundFontError, OSError) as exc:
        print(f"scorecut models add: {exc}", file=sys.stderr)
        return 1
    presets = soundfont.check_font(path)
    print(f"installed the SoundFont {path.name} ({presets} instruments) at {path}; the composer plays its parts "
          "with it (except the electronic style, which stays synthesized)")
    return 0


def _add_verify_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", choices=tuple(VERIFICATIONS), help="the model to check")
    p.add_argument("--out", default="", metavar="FILE",
                   help="musicgen: where the second of music goes (default <model folder>/musicgen-verify.wav)")
    p.add_argument("--checkpoint", default="", metavar="PATH", help="check this file instead of the installed one")
    p.add_argument("--model-dir", default="", metavar="DIR", help="model folder (default: this user's)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")


@dataclass(frozen=True)
class _Verification:
    """How `scorecut models verify MODEL` checks one model; the steps and the report are shared."""

    check: Callable[[argparse.Namespace], dict]  # loads it as the server does, makes a second of music
    shown: tuple[str, ...]  # report fields printed under "MODEL: ok"
    subject: str  # what loaded, in the invalid-audio message ("{field}"s of the report)
    fix: str  # what to do when it makes invalid audio
    done: str = ""  # said after "MODEL: ok" ("{field}"s of the report)
    no_checkpoint: str = ""  # set: the model takes no --checkpoint, and this says why


def _check_vmas(args) -> dict:
    from scorecut.models.vmas.install import verify

    return verify(_model_dir(args), args.checkpoint, args.device)


def _check_musicgen(args) -> dict:
    from pathlib import Path

    from scorecut.models.vmas.musicgen_install import verify

    return verify(_model_dir(args), args.device, Path(args.out).expanduser() if args.out else None)


VERIFICATIONS = {
    "vmas": _Verification(
        _check_vmas, ("checkpoint", "sha256", "config", "parameters", "sample_rate", "seconds"),
        subject="{checkpoint}", fix="the training diverged; train again with a lower --lr"),
    "musicgen": _Verification(
        _check_musicgen, ("folder", "model_type", "base_sha256", "sample_rate", "samples", "licence", "seconds"),
        subject="the MusicGen at {folder}", fix="install an intact copy with `scorecut models add musicgen DIR`",
        done="; 1 s of music written to {wav}",
        no_checkpoint="--checkpoint applies to vmas; musicgen checks the installed folder"),
}


def _run_verify(args) -> int:
    from scorecut.models.interface import ModelUnavailable

    how = VERIFICATIONS[args.model]
    if args.checkpoint and how.no_checkpoint:
        print(f"scorecut models verify: {how.no_checkpoint}", file=sys.stderr)
        return 2
    try:
        report = how.check(args)
    except (ModelUnavailable, OSError) as exc:
        print(f"scorecut models verify: {exc}", file=sys.stderr)
        return 1
    if not report["finite"]:
        print(f"scorecut models verify: {how.subject.format(**report)} loads but makes invalid audio "
              f"(NaN or inf): {how.fix}", file=sys.stderr)
        return 1
    print(f"{args.model}: ok{how.done.format(**report)}")
    for key in how.shown:
        print(f"  {key:<12} {report[key]}")
    return 0


# name -> (help, add_arguments(parser), run(args) -> int)
ACTIONS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Callable[..., int]]] = {
    "list": ("the models, whether each can run, and why not", _add_list_arguments, _run_list),
    "add": ("install a trained vmas checkpoint or a MusicGen folder into the model folder",
            _add_add_arguments, _run_add),
    "verify": ("load an installed model as the server does and make a second of music",
               _add_verify_arguments, _run_verify),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    for name, (help_text, add, run_action) in ACTIONS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        add(p)
        p.set_defaults(_action=run_action)


def run(args) -> int:
    action = getattr(args, "_action", None)
    if action is None:
        print(f"scorecut models: choose an action: {', '.join(ACTIONS)}", file=sys.stderr)
        return 2
    return int(action(args) or 0)
