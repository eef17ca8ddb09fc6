"""The composer's synthesizer: an Arrangement in, one stereo float32 array per stem out."""

from ...interface import STEMS
from .engine import render, render_stem

__all__ = ["STEMS", "render", "render_stem"]
