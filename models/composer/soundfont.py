"""Sampled instruments: the composer's parts played through a SoundFont (SF2/SF3) with TinySoundFont.

Which font: $SCORECUT_SOUNDFONT (a path, or "none" for the synthesizer), else the one that
`scorecut models add soundfont FILE` installed under the model folder, else a General MIDI font a
Linux distribution or MuseScore installs in a well-known place. Without one (or without the
`tinysoundfont` package) the synthesizer plays, as it always did.

The renderer plays models/composer/performance.perform(..., articulate=True), the same events
score.mid holds, sample-accurately: audio is rendered up to each event's sample, then the event is
applied. The result is a dry (2, frames) stem; models/composer/synth/engine.py treats it like a
synthesized one (inserts, its share of the room, levelling), so plan, beats and length are the
synthesizer's.
"""

from __future__ import annotations

import functools
import glob
import logging
import os
import shutil
import threading
from pathlib import Path

import numpy as np

from .events import Arrangement
from .performance import perform

log = logging.getLogger("scorecut.composer")

ENV_VAR = "SCORECUT_SOUNDFONT"  # a font's path, or "none": the synthesizer whatever is installed
INSTALL_DIR = "soundfont"  # under the model folder; holds the one installed font
SUFFIXES = (".sf2", ".sf3")
# General MIDI fonts that packages put in well-known places (first found wins).
SYSTEM_FONTS = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",  # Debian/Ubuntu fluid-soundfont-gm
    "/usr/share/soundfonts/FluidR3_GM.sf2",  # Fedora/Arch
    "/usr/share/soundfonts/default.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/sounds/sf3/MuseScore_General.sf3",  # musescore-general-soundfont
    "/usr/share/mscore-*/sound/MuseScore_General.sf3",
    "/usr/share/mscore*/sound/*.sf3",
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
    "/usr/share/sounds/sf3/default-GM.sf3",
    "/Applications/MuseScore 4.app/Contents/Resources/sound/MS Basic.sf3",
    "C:/Program Files/MuseScore 4/sound/MS Basic.sf3",
    "~/Documents/MuseScore4/SoundFonts/*.sf[23]",
)
RENDER_BLOCK_S = 1.0  # render at most this much between cancel checks
MAX_VOICES = 256
_LOAD_LOCK = threading.Lock()


class SoundFontError(ValueError):
    """A file that is not a SoundFont TinySoundFont can play; the message says what to do."""


def available() -> bool:
    """Whether the SoundFont player (the `tinysoundfont` package) is installed."""
    try:
        import tinysoundfont._tinysoundfont  # noqa: F401
    except ImportError:
        return False
    return True


def installed_font(model_dir: Path | None) -> Path | None:
    folder = Path(model_dir) / INSTALL_DIR if model_dir is not None else None
    if folder is None or not folder.is_dir():
        return None
    fonts = sorted(p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES and p.is_file())
    return fonts[0] if fonts else None


def system_font(patterns: tuple[str, ...] = SYSTEM_FONTS) -> Path | None:
    for pattern in patterns:
        for match in sorted(glob.glob(os.path.expanduser(pattern))):
            if os.path.isfile(match):
                return Path(match)
    return None


def find_font(model_dir: Path | None, environ=os.environ) -> Path | None:
    """The SoundFont the composer plays, or None for the synthesizer."""
    chosen = environ.get(ENV_VAR, "").strip()
    if chosen.lower() == "none":
        return None
    if chosen:
        path = Path(chosen).expanduser()
        if not path.is_file():
            log.warning("%s=%s is not a file; looking for an installed SoundFont", ENV_VAR, chosen)
        else:
            return path
    return installed_font(model_dir) or system_font()


def describe(model_dir: Path | None, environ=os.environ) -> str:
    """What plays the composer's pitched parts, in words (doctor, GetInfo)."""
    font = find_font(model_dir, environ)
    if font is None:
        return "synthesized instruments (no SoundFont: `scorecut models add soundfont FILE` adds sampled ones)"
    if not available():
        return (f"synthesized instruments: the SoundFont {font.name} needs the tinysoundfont package "
                "(pip install 'scorecut[soundfont]')")
    return f"sampled instruments from the SoundFont {font.name} ({font})"


@functools.lru_cache(maxsize=1)  # one font in memory: a General MIDI font is 30-150 MB
def _loaded(path: str, size: int, mtime_ns: int):
    from tinysoundfont import _tinysoundfont

    try:
        return _tinysoundfont.SoundFont(path)
    except Exception as error:
        raise SoundFontError(f"{path} is not a SoundFont the composer can play ({error}); "
                             "use an SF2 or SF3 General MIDI font") from None


def load(path: Path):
    """The parsed font (cached while the file is unchanged)."""
    stat = Path(path).stat()
    with _LOAD_LOCK:
        return _loaded(str(path), stat.st_size, stat.st_mtime_ns)


def check_font(path: Path) -> int:
    """Presets in a font that loads; SoundFontError otherwise."""
    if Path(path).suffix.lower() not in SUFFIXES:
        raise SoundFontError(f"{path} is not an .sf2 or .sf3 file; give a SoundFont")
    if not available():
        raise SoundFontError("playing SoundFonts needs the tinysoundfont package: pip install 'scorecut[soundfont]'")
    count = int(load(path).get_preset_count())
    if count == 0:
        raise SoundFontError(f"{path} holds no instruments (presets); use a General MIDI SoundFont")
    return count


def install_font(source: Path, model_dir: Path) -> Path:
    """Copy a checked font into the model folder, replacing the one installed before (atomically)."""
    source = Path(source).expanduser()
    if not source.is_file():
        raise SoundFontError(f"{source} does not exist; give the path of an .sf2 or .sf3 file")
    check_font(source)
    folder = Path(model_dir) / INSTALL_DIR
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / source.name
    temp = folder / f".{source.name}.partial"
    shutil.copyfile(source, temp)
    os.replace(temp, target)
    for other in folder.iterdir():
        if other != target and other.suffix.lower() in SUFFIXES:
            other.unlink()
    return target


def _select(font, channel: int, bank: int, program: int) -> None:
    """Set a channel's preset; a font without it falls back to its bank's first, then its first."""
    drums = bank == 128
    for b, p in ((bank, program), (bank, 0), (0, program), (0, 0)):
        if font.get_preset_index(b, p) >= 0:
            font.channel_set_bank(channel, b)
            font.channel_set_preset_number(channel, p, drums and b == 128)
            return
    font.channel_set_preset_index(channel, 0)


def render_part(arrangement: Arrangement, stem: str, frames: int, sample_rate: int, path: Path,
                check=lambda: None) -> np.ndarray:
    """One stem's part played by the font: (2, frames) float32, dry."""
    from tinysoundfont import _tinysoundfont

    base = load(path)
    with _LOAD_LOCK:
        font = _tinysoundfont.SoundFont(base)  # a clone: shares the samples, has its own voices
    font.set_output(_tinysoundfont.OutputMode.StereoInterleaved, sample_rate, 0.0)
    font.set_max_voices(MAX_VOICES)
    track = perform(arrangement, (stem,), articulate=True)[stem]
    for channel, bank, program in track.programs:
        _select(font, channel, bank, program)
    out = np.zeros((frames, 2), dtype=np.float32)  # (frames, channels): interleaved, as TinySoundFont writes
    block = max(1, int(RENDER_BLOCK_S * sample_rate))
    pos = 0

    def render_to(end: int) -> None:
        nonlocal pos
        while pos < end:
            stop = min(end, pos + block)
            font.render(memoryview(out[pos:stop]).cast("B"), False)
            pos = stop
            check()

    for event in track.events:
        render_to(min(int(round(event.time_s * sample_rate)), frames))
        if event.kind == "note_on":
            font.channel_note_on(event.channel, event.a, event.b / 127.0)
        elif event.kind == "note_off":
            font.channel_note_off(event.channel, event.a)
        else:
            font.channel_midi_control(event.channel, event.a, event.b)
    render_to(frames)
    return np.ascontiguousarray(out.T)  # (2, frames)


# Styles whose sound is the synthesizer by design: a font never replaces it there.
SYNTH_STYLES = ("electronic",)


def font_for(style: str, model_dir: Path | None) -> Path | None:
    """The font that plays a style's parts here, or None for the synthesizer."""
    if style in SYNTH_STYLES or not available():
        return None
    return find_font(model_dir)
