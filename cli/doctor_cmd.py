"""`scorecut doctor`: check this machine — device, torch, codecs, the config, cache, log and model
folders, server — and say how to fix each problem. Exit 0 when everything needed works, 1 otherwise."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass

from scorecut.v1 import DEFAULT_PORT


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""  # what to do, when not ok
    note: bool = False  # worth knowing, not a problem


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--server", default="", metavar="ADDR",
                   help=f"server to check (default $SCORECUT_SERVER or 127.0.0.1:{DEFAULT_PORT}; "
                        "an address given here must answer)")
    p.add_argument("--token", default=os.environ.get("SCORECUT_TOKEN", ""), metavar="T")


def check_python() -> Check:
    v = sys.version_info
    ok = v >= (3, 11)
    return Check("python", ok, f"Python {v.major}.{v.minor}.{v.micro}", "" if ok else "install Python 3.11 or newer")


def check_torch() -> list[Check]:
    try:
        import torch
    except Exception as e:  # an import can fail in many ways (missing libs, ABI)
        return [Check("torch", False, f"torch cannot be imported ({e})",
                      "pip install torch (CPU: pip install torch --index-url https://download.pytorch.org/whl/cpu)")]
    checks = [Check("torch", True, f"torch {torch.__version__}")]
    if torch.cuda.is_available():
        checks.append(Check("device", True, f"cuda:0 ({torch.cuda.get_device_name(0)}); "
                                              f"{torch.cuda.device_count()} CUDA device(s)"))
    else:
        built = getattr(torch.version, "cuda", None)
        why = "this torch is a CPU build" if not built else f"torch built for CUDA {built} sees no GPU"
        checks.append(Check("device", True, f"cpu ({why}); the composer runs well on CPU, vmas is slow there",
                            note=True))
    return checks


def check_codecs() -> list[Check]:
    fix = "reinstall PyAV from PyPI (pip install --force-reinstall av): its wheels bundle FFmpeg with this"
    try:
        import av
    except Exception as e:
        return [Check("PyAV", False, f"PyAV cannot be imported ({e})", "pip install av")]
    checks = [Check("PyAV", True, f"PyAV {av.__version__}")]
    for codec, mode, why in (("h264", "r", "decode H.264 video"), ("aac", "w", "encode AAC for preview.mp4")):
        try:
            av.codec.Codec(codec, mode)
            checks.append(Check(f"codec {codec}", True, f"can {why}"))
        except Exception:
            checks.append(Check(f"codec {codec}", False, f"cannot {why}", fix))
    try:
        av.format.ContainerFormat("mp4", "w")
        checks.append(Check("mp4 muxer", True, "can write preview.mp4"))
    except Exception:
        checks.append(Check("mp4 muxer", False, "cannot write mp4", fix))
    return checks


def check_picture_decoder() -> Check:
    """What decodes the pictures in a server started here as it comes (--device auto, --decode auto)."""
    from scorecut.server.picture_decoder import nvdec_unavailable, picture_decoder

    try:
        import torch

        device = "cuda:0" if torch.cuda.is_available() else "cpu"
    except Exception:  # check_torch says why
        device = "cpu"
    if picture_decoder("auto", device).name == "cuda":
        return Check("picture decode", True, "cuda (NVDEC), as the models' device; a file whose codec NVDEC "
                                             "lacks is decoded on the CPU (--decode cpu keeps them all there)")
    why = nvdec_unavailable()
    if device.startswith("cuda"):  # the models are on the GPU, the pictures cannot be
        return Check("picture decode", True, f"cpu: the GPU cannot decode here ({why})", note=True)
    return Check("picture decode", True, "cpu, as the models' device" +
                 (f"; --decode cuda would fall back: {why}" if why else "; --decode cuda decodes on the GPU"),
                 note=bool(why))


def _folder(name: str, folder, what: str = "") -> Check:
    shown = f"{folder}" + (f" ({what})" if what else "") + ("" if folder.exists() else " (not created yet)")
    return Check(name, True, shown, note=not folder.exists())


def check_folders() -> list[Check]:
    """The per-user folders (platformdirs) a server started here uses by default."""
    from scorecut.server.config import default_cache_dir, default_config_dir, default_log_dir

    logs = default_log_dir()
    return [_folder("config folder", default_config_dir()),
            _folder("cache folder", default_cache_dir(), "analyses, finished results, uploads"),
            _folder("log folder", logs, "server.log; a server `scorecut score` started: server-<address>.log")]


def check_models() -> list[Check]:
    from scorecut.server.config import default_model_dir

    folder = default_model_dir()
    checks = [_folder("model folder", folder)]
    try:
        from .models_cmd import local_models

        models = local_models()
    except Exception as e:
        return [*checks, Check("models", False, f"the models cannot be listed ({e})",
                               "reinstall scorecut (pip install -e . in its folder)")]
    for m in models:
        if m["available"]:
            checks.append(Check(f"model {m['name']}", True, "available"))
        elif m["name"] == "composer":
            checks.append(Check("model composer", False, "unavailable", m["reason"] or "reinstall scorecut"))
        else:  # optional models: the default one is enough to score
            checks.append(Check(f"model {m['name']}", True, f"not installed: {m['reason']}", note=True))
    from scorecut.models.composer.soundfont import describe  # which instruments the composer plays

    checks.append(Check("instruments", True, describe(folder), note=True))
    return checks


def check_server(address: str, explicit: bool, token: str | None) -> Check:
    from scorecut.plugins.client import ScorecutClient, ScorecutClientError

    with ScorecutClient(address, token=token) as client:
        if client.ping(timeout=2.0):
            try:
                info = client.info()
            except ScorecutClientError as e:
                return Check("server", False, f"{address} answers but refuses GetInfo: {e}",
                             "check --token (the server's token) and the server's log")
            return Check("server", True, f"{address}: Scorecut {info.version} on {info.device}")
    fix = (f"start it with `scorecut serve --port {address.rsplit(':', 1)[-1]}`" if client_is_local(address)
           else "start it on that machine with `scorecut serve --host ... --token ...`, or check the address")
    if explicit:
        return Check("server", False, f"no Scorecut server answers at {address}", fix)
    return Check("server", True, f"none running at {address}; `scorecut score` starts one, or {fix}", note=True)


def client_is_local(address: str) -> bool:
    from scorecut.plugins.client import is_loopback

    return is_loopback(address)


def run(args) -> int:
    from scorecut.plugins.client import ENV_SERVER, server_address

    explicit = bool(args.server or os.environ.get(ENV_SERVER))
    address = server_address(args.server)
    checks = [check_python(), *check_torch(), *check_codecs(), check_picture_decoder(), *check_folders(),
              *check_models(),
              check_server(address, explicit, args.token or None)]
    for c in checks:
        mark = "ok  " if c.ok and not c.note else ("note" if c.ok else "FAIL")
        print(f"{mark}  {c.name:<14} {c.detail}")
        if not c.ok and c.fix:
            print(f"      {'':<14} fix: {c.fix}")
    problems = [c for c in checks if not c.ok]
    print("all good" if not problems else f"{len(problems)} problem(s); fix them as shown above")
    return 0 if not problems else 1
