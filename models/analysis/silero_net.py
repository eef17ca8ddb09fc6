"""Silero VAD's 16 kHz network in numpy, run over many windows at once.

The wheel's TorchScript model is called once per 32 ms window, because its LSTM carries state from
one window to the next: about 0.5 ms of call overhead each, ~1 s of CPU per minute of audio (and
a second more to import torch in a server that otherwise never loads it).
But only the LSTM is stateful. Everything before it (the STFT and four convolutions) reads one
window plus the last 64 samples of the window before, which are known in advance, so it runs as a
few large matrix products over a whole block of windows; the LSTM then steps through the block
(one 128x512 product per window) and the output layer runs batched again. Same weights (read
from the wheel's own TorchScript file), same arithmetic, in float32: the probabilities match the
TorchScript model's to within float rounding (tests/test_analysis_speech.py compares them), for
~7% of its CPU and without torch. Windows of digital silence skip the encoding (their features
are known); only the LSTM steps through them.

Per window the network is (shapes per window, channels last):
    context (64) + window (512) -> reflect-pad 64 on the right -> (640,)
    STFT as a strided conv: 4 frames of 256, hop 128, 258 filters -> |re, im| -> (4, 129)
    conv1 k3 s1 (129->128) relu -> (4, 128);  conv2 k3 s2 (128->64) relu -> (2, 64)
    conv3 k3 s2 (64->64) relu -> (1, 64);     conv4 k3 s1 (64->128) relu -> (1, 128)
    LSTMCell(128, 128) over windows;  relu(h) -> 1x1 conv (128->1) -> sigmoid
"""

from __future__ import annotations

import importlib.util
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .torchscript_weights import read_tensors

RATE = 16_000  # Hz: the network's sample rate
WINDOW = 512  # samples per window (32 ms)
CONTEXT = 64  # samples of the previous window each window also reads
HIDDEN = 128  # LSTM width
_FFT = 256  # STFT frame
_HOP = 128  # STFT hop
_BINS = _FFT // 2 + 1  # 129 magnitude bins
_FRAMES = (CONTEXT + WINDOW + CONTEXT - _FFT) // _HOP + 1  # 4 STFT frames per window
_CONV_STRIDES = (1, 2, 2, 1)


@dataclass(frozen=True, eq=False)  # hashed by identity: one instance per process (load_weights)
class SileroWeights:
    """The network's parameters as numpy float32, laid out for channels-last products."""

    stft: np.ndarray  # (256, 258): real filters then imaginary ones
    convs: tuple[tuple[np.ndarray, np.ndarray, int], ...]  # per conv: ((3 * c_in, c_out), (c_out,), stride)
    w_ih: np.ndarray  # (128, 512): input to the gates i, f, g, o (torch's order)
    w_hh: np.ndarray  # (128, 512): hidden state to the gates
    b: np.ndarray  # (512,): both gate biases summed
    w_out: np.ndarray  # (128,)
    b_out: float


def _stacked_taps(w: np.ndarray) -> np.ndarray:
    """(c_out, c_in, 3) conv weight -> (3 * c_in, c_out), taps outermost, to match `_conv`'s input."""
    return np.ascontiguousarray(w.transpose(2, 1, 0).reshape(-1, w.shape[0]))


def _jit_path() -> Path:
    """The wheel's TorchScript model, found without importing the package (its __init__ imports torch)."""
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or spec.origin is None:
        raise RuntimeError("speech detection needs the silero-vad package: pip install silero-vad "
                           "(it comes with Scorecut's own install)")
    return Path(spec.origin).parent / "data" / "silero_vad.jit"


@lru_cache(maxsize=1)
def load_weights() -> SileroWeights:
    """The 16 kHz weights of the silero-vad wheel's own model (read once per process, never written)."""
    path = _jit_path()
    try:
        t = {k.removeprefix("_model."): np.asarray(v, np.float32) for k, v in read_tensors(path).items()}
        convs = tuple((_stacked_taps(t[f"encoder.{i}.reparam_conv.weight"]), t[f"encoder.{i}.reparam_conv.bias"],
                       stride) for i, stride in enumerate(_CONV_STRIDES))
        return SileroWeights(
            stft=np.ascontiguousarray(t["stft.forward_basis_buffer"][:, 0, :].T),
            convs=convs,
            w_ih=np.ascontiguousarray(t["decoder.rnn.weight_ih"].T),
            w_hh=np.ascontiguousarray(t["decoder.rnn.weight_hh"].T),
            b=t["decoder.rnn.bias_ih"] + t["decoder.rnn.bias_hh"],
            w_out=np.ascontiguousarray(t["decoder.decoder.2.weight"][0, :, 0]),
            b_out=float(t["decoder.decoder.2.bias"][0]),
        )
    except (KeyError, IndexError, ValueError, OSError) as error:
        raise RuntimeError(f"the speech model in {path} is not laid out as Scorecut reads it ({error!r}); "
                           "install silero-vad 6 (pip install 'silero-vad>=6,<7')") from error


def _conv(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int) -> np.ndarray:
    """x: (n, T, c_in) -> relu(conv1d(kernel 3, padding 1, stride)): (n, T_out, c_out)."""
    n, t, c = x.shape
    padded = np.zeros((n, t + 2, c), np.float32)
    padded[:, 1:-1] = x
    t_out = (t - 1) // stride + 1
    taps = np.concatenate([padded[:, k : k + stride * (t_out - 1) + 1 : stride] for k in range(3)], axis=2)
    y = taps.reshape(n * t_out, 3 * c) @ w + b  # (n * T_out, c_out)
    return np.maximum(y, 0.0).reshape(n, t_out, -1)


def encode(weights: SileroWeights, inputs: np.ndarray) -> np.ndarray:
    """inputs: (n, 576) float32, each window with its 64 samples of context first ->
    (n, 128) float32: what the LSTM reads for each window (independent of the others)."""
    n = len(inputs)
    x = np.concatenate([inputs, inputs[:, -2 : -CONTEXT - 2 : -1]], axis=1)  # (n, 640) reflect-padded
    frames = np.stack([x[:, k * _HOP : k * _HOP + _FFT] for k in range(_FRAMES)], axis=1)  # (n, 4, 256)
    spec = frames.reshape(n * _FRAMES, _FFT) @ weights.stft  # (n * 4, 258)
    mag = np.sqrt(spec[:, :_BINS] ** 2 + spec[:, _BINS:] ** 2).reshape(n, _FRAMES, _BINS)  # (n, 4, 129)
    for w, b, stride in weights.convs:
        mag = _conv(mag, w, b, stride)  # (n, 4, 128) -> (n, 2, 64) -> (n, 1, 64) -> (n, 1, 128)
    return mag[:, 0, :]


@lru_cache(maxsize=1)
def _silence_features(weights: SileroWeights) -> np.ndarray:
    """(128,) what `encode` gives a window of digital silence (and silent context)."""
    return encode(weights, np.zeros((1, CONTEXT + WINDOW), np.float32))[0]


_BLAS_LIMIT_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _blas_controller():
    """The BLAS libraries loaded (numpy's among them), found once: finding them costs ~2 ms."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    return ThreadpoolController()


@contextmanager
def _one_blas_thread():
    """numpy's BLAS on one thread while a block runs. Its products are small (a few hundred rows):
    OpenBLAS would still split them over every core and spin its threads between calls, which
    cost 5-10x the CPU of one thread here and took the core the picture's decode was using. The
    limit is process-wide (BLAS has no per-thread setting); the lock keeps two streams from
    restoring each other's saved value in the wrong order."""
    controller = _blas_controller()
    if controller is None:  # a plain install has threadpoolctl; without it a block only costs more CPU
        yield
        return
    with _BLAS_LIMIT_LOCK, controller.limit(limits=1, user_api="blas"):
        yield


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """float32 in, float32 out."""
    return 1.0 / (1.0 + np.exp(-x))


class SileroStream:
    """Speech probability per 512-sample window of one continuous 16 kHz stream.

    `probabilities` takes windows in order, as many per call as the caller has; the LSTM state and
    the 64 samples of context carry over between calls exactly as the TorchScript model carries
    them between its per-window calls (fresh state: zeros).
    """

    def __init__(self, weights: SileroWeights | None = None):
        self._w = weights or load_weights()
        self._h = np.zeros(HIDDEN, np.float32)
        self._c = np.zeros(HIDDEN, np.float32)
        self._context = np.zeros(CONTEXT, np.float32)

    def probabilities(self, windows: np.ndarray) -> np.ndarray:
        """windows: (n, 512) float32 in stream order -> (n,) float32 speech probability 0..1."""
        n = len(windows)
        if n == 0:
            return np.zeros(0, np.float32)
        windows = np.asarray(windows, np.float32)
        context = np.concatenate([self._context[None], windows[:-1, -CONTEXT:]])  # (n, 64)
        self._context = windows[-1, -CONTEXT:].copy()
        inputs = np.concatenate([context, windows], axis=1)  # (n, 576)
        sounding = inputs.any(axis=1)  # (n,): digital silence needs no encoding, its features are known
        with _one_blas_thread():
            feats = np.broadcast_to(_silence_features(self._w), (n, HIDDEN)).copy()  # (n, 128)
            if sounding.any():
                feats[sounding] = encode(self._w, inputs[sounding])
            gates_in = feats @ self._w.w_ih + self._w.b  # (n, 512): the input's share, batched
            hs = np.empty((n, HIDDEN), np.float32)
            h, c, w_hh = self._h, self._c, self._w.w_hh
            for i in range(n):  # the only sequential part: one small product per window
                g = gates_in[i] + h @ w_hh  # (512,): gates i, f, g, o
                s = _sigmoid(g)  # (512,): i, f and o use theirs
                c = s[HIDDEN : 2 * HIDDEN] * c + s[:HIDDEN] * np.tanh(g[2 * HIDDEN : 3 * HIDDEN])
                h = s[3 * HIDDEN :] * np.tanh(c)
                hs[i] = h
            self._h, self._c = h, c
            return _sigmoid(np.maximum(hs, 0.0) @ self._w.w_out + self._w.b_out)  # (n,)
