"""Real speech for test clips, spoken by espeak-ng (a Debian package: apt-get install espeak-ng).

Speech detection is a trained voice-activity model: buzz under a syllable envelope is not speech
to it, a synthetic voice reading sentences is. Without espeak-ng the tests that need speech skip
and say why, unless SCORECUT_REQUIRE_ESPEAK is set (CI sets it), when they fail instead.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import wave
from functools import lru_cache

import numpy as np
import pytest

ESPEAK_SKIP_REASON = ("espeak-ng is not installed: the speech in these test clips is spoken by it "
                      "(apt-get install -y espeak-ng)")
LINES = (
    "the light over the harbour turned gold while the boats came slowly back in",
    "we followed the river for most of the morning and stopped only to look at the map",
    "here you can see how the first layer dries before we paint the second one over it",
)


def require_espeak() -> str:
    """The espeak-ng executable; skips the calling test without it (fails under SCORECUT_REQUIRE_ESPEAK)."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        if os.environ.get("SCORECUT_REQUIRE_ESPEAK"):
            pytest.fail(ESPEAK_SKIP_REASON + "; SCORECUT_REQUIRE_ESPEAK is set, so this is a failure")
        pytest.skip(ESPEAK_SKIP_REASON)
    return exe


@lru_cache(maxsize=32)
def _spoken(text: str, rate: int) -> np.ndarray:
    """(n,) float32 at `rate`: espeak-ng reading `text`, leading and trailing silence trimmed."""
    wav = subprocess.run([require_espeak(), "--stdout", "-s", "165", text], check=True,
                         capture_output=True).stdout
    with wave.open(io.BytesIO(wav)) as w:
        native = w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float32) / 32768.0
    loud = np.flatnonzero(np.abs(x) > 0.01)
    x = x[loud[0] : loud[-1] + 1] if len(loud) else x
    n = int(round(len(x) * rate / native))
    return np.interp(np.arange(n) * native / rate, np.arange(len(x)), x).astype(np.float32)


def speech(duration_s: float, rate: int, seed: int = 0, level_dbfs: float = -20.0) -> np.ndarray:
    """(round(duration_s * rate),) float32: sentences read back to back (a short breath between),
    cut at the end of the span; its RMS over the voiced parts about `level_dbfs`."""
    n = int(round(duration_s * rate))
    out = np.zeros(n, np.float32)
    i, k = 0, seed
    while i < n:
        line = _spoken(LINES[k % len(LINES)], rate)
        take = min(len(line), n - i)
        out[i : i + take] = line[:take]
        i += take + int(0.12 * rate)
        k += 1
    voiced = out[np.abs(out) > 0.01]
    rms = float(np.sqrt(np.mean(voiced**2))) if len(voiced) else 1.0
    return (out * (10 ** (level_dbfs / 20) / rms)).astype(np.float32)
