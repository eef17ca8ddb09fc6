"""Which music models exist, whether each can run here, and loading them by name."""

from __future__ import annotations

from pathlib import Path

from .interface import ModelInfo, ModelUnavailable, MusicModel, RequestError

DEFAULT_MODEL = "composer"
MODEL_NAMES = ("composer", "vmas", "musicgen")


def model_infos(device: str = "cpu", model_dir: Path | None = None) -> list[ModelInfo]:
    """Every model with its availability on this device and model folder."""
    from .composer.model import ComposerModel
    from .vmas import serving, zero_shot

    return [ComposerModel().info(), serving.info(device=device, model_dir=model_dir),
            zero_shot.info(device=device, model_dir=model_dir)]


def load_model(
    name: str, *, device: str = "cpu", checkpoint: str = "", model_dir: Path | None = None
) -> MusicModel:
    """The model called `name`, ready to compose; ModelUnavailable says how to make it ready."""
    name = name or DEFAULT_MODEL
    if name == "composer":
        from .composer.model import ComposerModel

        return ComposerModel()
    if name == "vmas":
        from .vmas import serving

        return serving.load(device=device, checkpoint=checkpoint, model_dir=model_dir)
    if name == "musicgen":
        from .vmas import zero_shot

        return zero_shot.load(device=device, model_dir=model_dir)
    raise RequestError(f"unknown model {name!r}; choose one of: {', '.join(MODEL_NAMES)}")


__all__ = ["DEFAULT_MODEL", "MODEL_NAMES", "ModelUnavailable", "load_model", "model_infos"]
