"""Where people talk in a clip's own audio, and how loud they are: Silero VAD, offline.

Silero VAD (MIT) ships its model inside its wheel, so it runs with no download. It reads 16 kHz
mono in 512-sample windows (32 ms) and keeps its own state between them, so audio arrives in
chunks as decoding delivers it and a long clip never sits in memory whole. Its network runs in
numpy, a block of windows at a time (silero_net.py): the probabilities of the wheel's TorchScript
model called window by window, for about a thirteenth of the CPU and without importing torch.
Beside each window's speech probability the accumulator keeps its K-weighted (BS.1770) loudness:
the ducker sets the music under a line relative to how loud that line is.
"""

from __future__ import annotations

import threading

import numpy as np
from scipy import signal

from .silero_net import RATE, WINDOW, SileroStream

SILENT_LUFS = -120.0  # the loudness reported for digital silence
BLOCK = 256  # windows the network reads at once (8.2 s): large products, a few MB held


def _k_weighting_sos() -> np.ndarray:
    from scorecut.models.post.levels import k_weighting_sos

    return k_weighting_sos(RATE).astype(np.float64)


class SpeechAccumulator:
    """Feed 16 kHz mono float32 chunks with `add`; `finish` gives (times_s, probability), after
    which `loudness_lufs` holds each point's K-weighted loudness (LUFS, mono).

    Windows are gathered into blocks of BLOCK and each block goes through the network at once
    (models/analysis/silero_net.py): the same probabilities as calling Silero window by window."""

    def __init__(self):
        self._net = SileroStream()
        self._sos = _k_weighting_sos()
        self._zi = np.zeros((self._sos.shape[0], 2))  # K-weighting state across chunks
        self._pending: list[np.ndarray] = []  # samples not yet run, in order
        self._pending_n = 0
        self._prob: list[np.ndarray] = []  # per block: (windows,) probability
        self._power: list[np.ndarray] = []  # per block: (windows,) K-weighted mean square
        self.loudness_lufs = np.zeros(0, np.float32)

    def add(self, chunk: np.ndarray) -> None:
        chunk = np.asarray(chunk, np.float32).reshape(-1)
        self._pending.append(chunk)
        self._pending_n += len(chunk)
        if self._pending_n >= BLOCK * WINDOW:
            self._run(final=False)

    def _run(self, final: bool) -> None:
        """Every whole window pending (and with `final`, the last partial one padded with silence)."""
        x = np.concatenate(self._pending) if len(self._pending) != 1 else self._pending[0]
        n = len(x) // WINDOW
        rest = x[n * WINDOW :]
        if final and len(rest):
            x, n, rest = np.concatenate([x, np.zeros(WINDOW - len(rest), np.float32)]), n + 1, rest[:0]
        self._pending, self._pending_n = ([rest] if len(rest) else []), len(rest)
        if n:
            self._windows(x[: n * WINDOW])

    def _windows(self, x: np.ndarray) -> None:
        """x: (n * WINDOW,) float32, whole windows in order."""
        k, self._zi = signal.sosfilt(self._sos, x.astype(np.float64), zi=self._zi)
        self._power.append((k.reshape(-1, WINDOW) ** 2).mean(axis=1))  # (n,)
        self._prob.append(self._net.probabilities(x.reshape(-1, WINDOW)))  # (n,)

    def finish(self) -> tuple[np.ndarray, np.ndarray]:
        """times_s: (m,) float64 window centres, seconds from the first sample fed;
        probability: (m,) float32 0..1."""
        if self._pending_n:
            self._run(final=True)
        prob = np.concatenate(self._prob) if self._prob else np.zeros(0, np.float32)
        power = np.concatenate(self._power) if self._power else np.zeros(0)
        with np.errstate(divide="ignore"):
            self.loudness_lufs = np.maximum(-0.691 + 10 * np.log10(power), SILENT_LUFS).astype(np.float32)
        times = (np.arange(len(prob)) + 0.5) * WINDOW / RATE
        return times.astype(np.float64), prob


class BackgroundSpeech:
    """A clip's speech curve, measured on its own thread while the pictures decode.

    The audio decode and the detector are light but serial; beside the picture's decode they
    fill a core the decoder leaves idle. `result()` waits and returns (times_s, probability) or
    raises what the thread raised; `loudness_lufs()` then gives the loudness at those times;
    `stop()` ends it early (the caller failed or was cancelled).
    """

    def __init__(self, path: str, in_s: float, out_s: float, cancel: threading.Event | None):
        from .decode import iter_audio

        self._stop = threading.Event()
        self._outcome: tuple[bool, object] | None = None
        self._loudness = np.zeros(0, np.float32)

        def run() -> None:
            try:
                acc = None
                for chunk in iter_audio(path, in_s, out_s, cancel=self._stop):
                    if cancel is not None and cancel.is_set():
                        self._stop.set()
                    if acc is None:  # the model loads only for clips that have sound
                        acc = SpeechAccumulator()
                    acc.add(chunk)
                if acc is None:
                    self._outcome = (True, (np.zeros(0), np.zeros(0, np.float32)))
                else:
                    self._outcome = (True, acc.finish())
                    self._loudness = acc.loudness_lufs
            except BaseException as error:  # handed to the caller by result()
                self._outcome = (False, error)

        self._thread = threading.Thread(target=run, name="scorecut-speech", daemon=True)
        self._thread.start()

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        self._thread.join()
        ok, value = self._outcome
        if not ok:
            raise value
        return value

    def loudness_lufs(self) -> np.ndarray:
        """(m,) float32 K-weighted loudness (LUFS) at the times `result()` gave."""
        self.result()
        return self._loudness

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
