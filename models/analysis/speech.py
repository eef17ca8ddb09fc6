"""Where people talk in a clip's own audio, and how loud they are: Silero VAD, offline.

Silero VAD (MIT) ships its model inside its wheel, so it runs with no download. It reads 16 kHz
mono in 512-sample windows (32 ms) and keeps its own state between them, so audio arrives in
chunks as decoding delivers it and a long clip never sits in memory whole. Beside each window's
speech probability the accumulator keeps its K-weighted (BS.1770) loudness: the ducker sets the
music under a line relative to how loud that line is.
"""

from __future__ import annotations

import threading

import numpy as np
from scipy import signal

RATE = 16_000  # Hz
WINDOW = 512  # samples: Silero's window at 16 kHz (32 ms)
SILENT_LUFS = -120.0  # the loudness reported for digital silence


_IDLE_MODELS: list = []  # loaded models no clip is using: loading one costs ~0.1 s, a segment may hold 200 clips
_IDLE_LOCK = threading.Lock()


def _take_model():
    """A Silero model with fresh state, reused from an earlier clip when one is idle."""
    with _IDLE_LOCK:
        model = _IDLE_MODELS.pop() if _IDLE_MODELS else None
    if model is None:
        try:
            from silero_vad import load_silero_vad
        except ImportError:
            raise RuntimeError("speech detection needs the silero-vad package: "
                               "pip install silero-vad (it comes with Scorecut's own install)") from None
        model = load_silero_vad()
    model.reset_states()
    return model


def _give_back(model) -> None:
    with _IDLE_LOCK:
        if len(_IDLE_MODELS) < 4:
            _IDLE_MODELS.append(model)


def _k_weighting_sos() -> np.ndarray:
    from scorecut.models.post.levels import k_weighting_sos

    return k_weighting_sos(RATE).astype(np.float64)


class SpeechAccumulator:
    """Feed 16 kHz mono float32 chunks with `add`; `finish` gives (times_s, probability), after
    which `loudness_lufs` holds each point's K-weighted loudness (LUFS, mono)."""

    def __init__(self):
        import torch

        self._torch = torch
        self._model = _take_model()
        self._sos = _k_weighting_sos()
        self._zi = np.zeros((self._sos.shape[0], 2))  # K-weighting state across chunks
        self._rest = np.zeros(0, np.float32)  # samples short of a whole window
        self._prob: list[float] = []
        self._power: list[np.ndarray] = []  # per block: (windows,) K-weighted mean square
        self.loudness_lufs = np.zeros(0, np.float32)

    def add(self, chunk: np.ndarray) -> None:
        x = np.concatenate([self._rest, np.asarray(chunk, np.float32).reshape(-1)])
        n = len(x) // WINDOW
        self._rest = x[n * WINDOW :]
        if n:
            self._windows(x[: n * WINDOW])

    def _windows(self, x: np.ndarray) -> None:
        """x: (n * WINDOW,) float32, whole windows in order."""
        k, self._zi = signal.sosfilt(self._sos, x.astype(np.float64), zi=self._zi)
        self._power.append((k.reshape(-1, WINDOW) ** 2).mean(axis=1))  # (n,)
        frames = self._torch.from_numpy(np.ascontiguousarray(x.reshape(-1, WINDOW)))  # (n, WINDOW)
        with self._torch.inference_mode():
            for w in frames:  # stateful: one window after another
                self._prob.append(float(self._model(w[None], RATE)))

    def finish(self) -> tuple[np.ndarray, np.ndarray]:
        """times_s: (m,) float64 window centres, seconds from the first sample fed;
        probability: (m,) float32 0..1."""
        if len(self._rest):  # the last partial window, padded with silence
            self._windows(np.pad(self._rest, (0, WINDOW - len(self._rest))))
            self._rest = np.zeros(0, np.float32)
        m = len(self._prob)
        power = np.concatenate(self._power) if self._power else np.zeros(0)
        with np.errstate(divide="ignore"):
            self.loudness_lufs = np.maximum(-0.691 + 10 * np.log10(power), SILENT_LUFS).astype(np.float32)
        times = (np.arange(m) + 0.5) * WINDOW / RATE
        if self._model is not None:  # finished: another clip may use it
            _give_back(self._model)
            self._model = None
        return times.astype(np.float64), np.asarray(self._prob, np.float32)


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
