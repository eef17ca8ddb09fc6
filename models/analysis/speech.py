"""Where people talk in a clip's own audio: a small detector with no learned weights.

Speech is loud against the clip's own noise floor, its loudness swings at the syllable rate
(about 2-10 Hz, deep modulation), and its spectrum is voiced (energy at 100-4000 Hz, neither a
pure tone nor white noise). A steady tone fails the modulation test, silence the energy test.
Audio arrives in chunks (16 kHz mono) so a long clip never sits in memory whole.
"""

from __future__ import annotations

import threading

import numpy as np
from scipy.signal import butter, sosfiltfilt

RATE = 16_000  # Hz
WIN = 400  # samples: 25 ms analysis window
HOP = 160  # samples: 10 ms, so features come at 100 per second
NFFT = 512
OUT_HOP = 4  # output every 4th hop: a 25 Hz speech curve
_FREQS = np.fft.rfftfreq(NFFT, 1.0 / RATE)
_VOICE = (_FREQS >= 100) & (_FREQS <= 4000)
_WINDOW = np.hanning(WIN).astype(np.float32)


class SpeechAccumulator:
    """Feed 16 kHz mono float32 chunks with `add`; `finish` gives (times_s, probability)."""

    def __init__(self):
        self.buf = np.zeros(0, np.float32)
        self.feats: list[np.ndarray] = []  # per block: (hops, 3) energy_db, voice_ratio, flatness
        self.hops = 0
        self.pending: list[np.ndarray] = []
        self.pending_n = 0

    def add(self, chunk: np.ndarray) -> None:
        self.pending.append(chunk.astype(np.float32, copy=False))
        self.pending_n += len(chunk)
        if self.pending_n >= 2 * RATE:  # work in 2 s blocks: codec frames are too small to pay per call
            self._process()

    def _process(self) -> None:
        self.buf = np.concatenate([self.buf, *self.pending])
        self.pending, self.pending_n = [], 0
        n = (len(self.buf) - WIN) // HOP + 1 if len(self.buf) >= WIN else 0
        if n <= 0:
            return
        idx = np.arange(WIN)[None, :] + HOP * np.arange(n)[:, None]  # (n, WIN)
        frames = self.buf[idx] * _WINDOW  # (n, WIN)
        self.buf = self.buf[n * HOP :]
        power = np.abs(np.fft.rfft(frames, NFFT, axis=1)) ** 2 + 1e-12  # (n, NFFT/2+1)
        total = power.sum(axis=1)
        voice = power[:, _VOICE]
        energy_db = 10 * np.log10(total / (WIN * WIN) + 1e-12)  # (n,) dB relative to full scale
        ratio = voice.sum(axis=1) / total  # (n,) share of energy in the voice band
        flat = np.exp(np.log(voice).mean(axis=1)) / voice.mean(axis=1)  # (n,) 0 tonal .. 1 noise
        self.feats.append(np.stack([energy_db, ratio, flat], axis=1).astype(np.float32))
        self.hops += n

    def finish(self) -> tuple[np.ndarray, np.ndarray]:
        """times_s: (m,) float64 seconds from the first sample fed; probability: (m,) float32."""
        self._process()
        if not self.feats:
            return np.zeros(0), np.zeros(0, np.float32)
        f = np.concatenate(self.feats)  # (hops, 3)
        energy, ratio, flat = f[:, 0], f[:, 1], f[:, 2]
        floor = float(np.percentile(energy, 10))
        loud = _sigmoid((energy - max(floor + 9.0, -60.0)) / 3.0)  # well above the clip's noise floor

        # Syllable-rate modulation: band-pass the loudness contour (dB) to 2-10 Hz, take its
        # local RMS over half a second. Speech swings 10-30 dB; a held tone or hum barely moves.
        contour = np.maximum(energy, floor)
        if len(contour) > 30:
            sos = butter(2, [2.0, 10.0], btype="band", fs=100.0, output="sos")
            mod = sosfiltfilt(sos, contour - contour.mean())
        else:
            mod = np.zeros_like(contour)
        depth = np.sqrt(_smooth(mod**2, 50))  # (hops,) dB
        modulated = _sigmoid((depth - 3.0) / 1.0)
        # Voiced: most energy in the voice band, a spectrum between a pure tone (flatness ~1e-4)
        # and white noise (~0.6 and up).
        voiced = (_sigmoid((ratio - 0.5) / 0.1) * _sigmoid((np.log10(flat + 1e-9) + 2.5) / 0.3)
                  * _sigmoid((0.6 - flat) / 0.1))

        active = _smooth(loud, 30)  # syllables have gaps: speech is loud most of a 0.3 s span
        spectral = _smooth(voiced * loud, 30) / np.maximum(active, 1e-3)
        prob = np.clip(np.minimum(active * 1.6, 1.0) * modulated * spectral, 0.0, 1.0)
        prob = _smooth(prob, 20)
        m = len(prob) // OUT_HOP
        prob = prob[: m * OUT_HOP].reshape(m, OUT_HOP).mean(axis=1)
        times = (np.arange(m) * OUT_HOP + OUT_HOP / 2) * HOP / RATE + WIN / (2 * RATE)
        return times.astype(np.float64), prob.astype(np.float32)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -40, 40)))


def _smooth(x: np.ndarray, n: int) -> np.ndarray:
    if len(x) == 0 or n <= 1:
        return x
    kernel = np.ones(n) / n
    return np.convolve(np.pad(x, (n // 2, n - 1 - n // 2), mode="edge"), kernel, mode="valid")


class BackgroundSpeech:
    """A clip's speech curve, measured on its own thread while the pictures decode.

    The audio decode and the detector are light but serial; beside the picture's decode they
    fill a core the decoder leaves idle. `result()` waits and returns (times_s, probability) or
    raises what the thread raised; `stop()` ends it early (the caller failed or was cancelled).
    """

    def __init__(self, path: str, in_s: float, out_s: float, cancel: threading.Event | None):
        from .decode import iter_audio

        self._stop = threading.Event()
        self._outcome: tuple[bool, object] | None = None

        def run() -> None:
            try:
                acc = SpeechAccumulator()
                for chunk in iter_audio(path, in_s, out_s, cancel=self._stop):
                    if cancel is not None and cancel.is_set():
                        self._stop.set()
                    acc.add(chunk)
                self._outcome = (True, acc.finish())
            except BaseException as error:  # noqa: BLE001 — handed to the caller by result()
                self._outcome = (False, error)

        self._thread = threading.Thread(target=run, name="scorecut-speech", daemon=True)
        self._thread.start()

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        self._thread.join()
        ok, value = self._outcome
        if not ok:
            raise value
        return value

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
