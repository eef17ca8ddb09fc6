"""A real General MIDI SoundFont a Linux distribution installs (Debian's timgm6mb-soundfont:
`apt-get install -y timgm6mb-soundfont`, about 6 MB), found by itself in its well-known place.

Proof that the stems come from its samples: each stem's long-term spectrum (third-octave bands)
matches the same part played dry by the font through TinySoundFont within a few dB, and is far
from the synthesizer's render of the same arrangement. Same plan, exact length, not silent, and
after post-processing the loudness and true peak on target. `scorecut doctor` names the font.

Without such a font these tests skip, saying so, unless SCORECUT_REQUIRE_GM_FONT is set (CI sets
it after installing one): then they fail.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest
from scipy import signal

from scorecut.models.interface import Clip, ScoreOptions, Segment
from tests.helpers.servers import isolated_env
from tests.helpers.videos import VideoSpec, make_video

pytest.importorskip("tinysoundfont", reason="the soundfont extra: pip install 'scorecut[soundfont]'")

SR = 48_000
CLIP_S = 12.0
CUTS_S = (2.3, 5.1, 8.6)
STEMS = ("drums", "bass", "harmony", "melody")
REQUIRE = "SCORECUT_REQUIRE_GM_FONT"


@pytest.fixture(scope="module")
def system_font() -> Path:
    from scorecut.models.composer import soundfont

    font = soundfont.system_font()
    if font is not None:
        return font
    message = ("no General MIDI SoundFont in the well-known system places (apt-get install -y timgm6mb-soundfont): "
               "the composer's sampled instruments are not tested with a real font")
    if os.environ.get(REQUIRE):
        pytest.fail(f"{message}, and {REQUIRE} is set")
    pytest.skip(message)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    from scorecut.models.analysis import analyze_segment

    path = make_video(tmp_path_factory.mktemp("gm") / "edit.mp4",
                      VideoSpec(duration_s=CLIP_S, cuts_s=CUTS_S, fps=25, motion=2.0, seed=5))
    segment = Segment((Clip(str(path), 0.0, CLIP_S, 0.0, CLIP_S, "edit"),), CLIP_S)
    return segment, analyze_segment(segment)


def compose(clip, model_dir: Path, font_setting: str | None, options: ScoreOptions):
    """The composer as the server runs it; `font_setting` None: no SCORECUT_SOUNDFONT, the font is found."""
    from scorecut.models.composer.model import ComposerModel

    segment, analysis = clip
    old = os.environ.pop("SCORECUT_SOUNDFONT", None)
    if font_setting is not None:
        os.environ["SCORECUT_SOUNDFONT"] = font_setting
    try:
        return ComposerModel(model_dir).compose(segment, analysis, options)
    finally:
        os.environ.pop("SCORECUT_SOUNDFONT", None)
        if old is not None:
            os.environ["SCORECUT_SOUNDFONT"] = old


def band_spectrum_db(x: np.ndarray) -> np.ndarray:
    """Long-term spectrum of a (2, frames) stem in third-octave bands from 62.5 Hz to 16 kHz, dB below
    its loudest band, floored at -60 dB."""
    mono = x.astype(np.float64).mean(axis=0)  # (frames,)
    power = np.abs(np.fft.rfft(mono)) ** 2
    freqs = np.fft.rfftfreq(len(mono), 1.0 / SR)
    edges = 62.5 * 2.0 ** (np.arange(0, 24 + 1) / 3)  # 25 edges: 24 bands
    bands = np.array([power[(freqs >= lo) & (freqs < hi)].sum() for lo, hi in zip(edges[:-1], edges[1:],
                                                                                    strict=True)])
    db = 10 * np.log10(bands + 1e-30)
    return np.maximum(db - db.max(), -60.0)


def distance_db(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.abs(band_spectrum_db(a) - band_spectrum_db(b))))


def true_peak_dbtp(x: np.ndarray) -> float:
    up = signal.resample_poly(x.astype(np.float64), 4, 1, axis=1)
    return 20 * np.log10(np.abs(up).max() + 1e-20)


@pytest.mark.parametrize("style", ["cinematic", "acoustic_pop"])
def test_a_style_is_played_from_the_system_fonts_samples(system_font, clip, tmp_path, style):
    from scorecut.models.composer import soundfont
    from scorecut.models.composer.arrangement import arrange
    from scorecut.models.composer.plan import make_plan
    from scorecut.models.post import finish

    options = ScoreOptions(style=style, seed=3)
    models = tmp_path / "models"  # empty: no installed font, so the system's is found by itself
    sampled = compose(clip, models, None, options)
    synth = compose(clip, models, "none", options)
    assert sampled.extra["instruments"] == f"soundfont {system_font.name}"
    assert synth.extra["instruments"] == "synthesizer"
    assert sampled.plan == synth.plan  # the same plan and beats

    _, analysis = clip
    plan = make_plan(analysis, options)
    arrangement = arrange(plan, analysis, options.seed)  # what compose arranged (deterministic per seed)
    frames = int(round(CLIP_S * SR))
    for stem in STEMS:
        x = sampled.stems[stem]
        assert x.shape == synth.stems[stem].shape == (2, frames), stem  # exact length
        assert np.isfinite(x).all() and np.abs(x).max() > 0.01, stem  # not silent
        dry = soundfont.render_part(arrangement, stem, frames, SR, system_font)  # the font alone, no effects
        to_font, to_synth = distance_db(x, dry), distance_db(x, synth.stems[stem])
        assert to_font < 3.0, (stem, to_font)
        assert to_synth > to_font + 4.0, (stem, to_font, to_synth)

    finished = finish(sampled, analysis, options)
    meter = pyloudnorm.Meter(SR)
    assert finished.mix.shape == (2, frames)
    assert abs(meter.integrated_loudness(finished.mix.T.astype(np.float64)) - options.loudness_lufs) <= 1.0
    assert true_peak_dbtp(finished.mix) <= -1.0


def test_doctor_and_get_info_name_the_system_font(system_font, tmp_path):
    from scorecut.models.composer.model import ComposerModel

    env = isolated_env(tmp_path / "home")
    env.pop("SCORECUT_SOUNDFONT", None)
    doctor = subprocess.run([sys.executable, "-m", "scorecut.cli.main", "doctor"], env=env, capture_output=True,
                            text=True, timeout=120)
    [line] = [line for line in doctor.stdout.splitlines() if " instruments " in f" {line} "]
    assert f"sampled instruments from the SoundFont {system_font.name} ({system_font})" in line, line
    old = os.environ.pop("SCORECUT_SOUNDFONT", None)
    try:
        assert f"{system_font.name} ({system_font})" in ComposerModel(tmp_path / "models").info().description
    finally:
        if old is not None:
            os.environ["SCORECUT_SOUNDFONT"] = old
