"""Which music models exist, whether each can run here, and loading them by name."""

from __future__ import annotations

import logging
from pathlib import Path

from .interface import ModelInfo, ModelUnavailable, MusicModel, RequestError

DEFAULT_MODEL = "composer"
MODEL_NAMES = ("composer", "vmas", "musicgen")
log = logging.getLogger("scorecut.models")


def _vmas_info(device: str, model_dir: Path | None) -> ModelInfo:
    from .vmas import serving

    return serving.info(device=device, model_dir=model_dir)


def _musicgen_info(device: str, model_dir: Path | None) -> ModelInfo:
    from .vmas import zero_shot

    return zero_shot.info(device=device, model_dir=model_dir)


def _composer_info(device: str, model_dir: Path | None) -> ModelInfo:
    from .composer.model import ComposerModel

    return ComposerModel(model_dir).info()


_INFOS = {"composer": _composer_info, "vmas": _vmas_info, "musicgen": _musicgen_info}


def model_infos(device: str = "cpu", model_dir: Path | None = None) -> list[ModelInfo]:
    """Every model with its availability on this device and model folder. One model that fails to
    describe itself is listed unavailable (the log says why); it never hides the others."""
    infos = []
    for name in MODEL_NAMES:
        try:
            infos.append(_INFOS[name](device, model_dir))
        except Exception as error:  # a broken install of one model
            log.exception("describing the %s model failed", name)
            infos.append(ModelInfo(name, False, f"the {name} model failed to load here ({type(error).__name__}); "
                                                "the server log says why"))
    return infos


def load_model(
    name: str, *, device: str = "cpu", checkpoint: str = "", model_dir: Path | None = None
) -> MusicModel:
    """The model called `name`, ready to compose; ModelUnavailable says how to make it ready."""
    name = name or DEFAULT_MODEL
    if name == "composer":
        from .composer.model import ComposerModel

        return ComposerModel(model_dir)
    if name == "vmas":
        from .vmas import serving

        return serving.load(device=device, checkpoint=checkpoint, model_dir=model_dir)
    if name == "musicgen":
        from .vmas import zero_shot

        return zero_shot.load(device=device, model_dir=model_dir)
    raise RequestError(f"unknown model {name!r}; choose one of: {', '.join(MODEL_NAMES)}")


__all__ = ["DEFAULT_MODEL", "MODEL_NAMES", "ModelUnavailable", "load_model", "model_infos"]
