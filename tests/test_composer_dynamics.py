"""The loudness range meter (EBU Tech 3342) that judges the composer's dynamics, checked against
the test signals of EBU Tech 3342 (1 kHz stereo sine tones at stated levels; expected LRA +-1 LU).
"""

from __future__ import annotations

import numpy as np
import pytest

from scorecut.models.post.levels import loudness_range, short_term_loudness

SR = 48_000


def tones(*levels_dbfs: float, seconds: float = 20.0) -> np.ndarray:
    """Stereo 1 kHz sine, `seconds` at each level in turn: (2, frames)."""
    t = np.arange(int(seconds * SR)) / SR
    parts = [10 ** (db / 20) * np.sin(2 * np.pi * 1000 * t) for db in levels_dbfs]
    mono = np.concatenate(parts)
    return np.stack([mono, mono])


@pytest.mark.parametrize("levels,expected", [
    ((-20, -30), 10.0), ((-20, -15), 5.0), ((-40, -20), 20.0), ((-50, -35, -20, -35, -50), 15.0),
])
def test_tech_3342_cases(levels, expected):
    assert abs(loudness_range(tones(*levels), SR) - expected) <= 1.0


def test_short_term_loudness_of_a_steady_tone():
    # A full-scale-relative 1 kHz sine at -20 dBFS in both channels reads -20 LUFS +- 0.1 (BS.1770's
    # calibration: K-weighting is ~0 dB at 1 kHz, and two channels add 3 dB to a sine's -3 dB RMS).
    st = short_term_loudness(tones(-20, seconds=10.0), SR)
    assert len(st) == 71 and np.all(np.abs(st + 20.0) < 0.1)
    assert np.isnan(loudness_range(np.zeros((2, SR * 5)), SR))
