"""The cancel points inside long synthesis steps change nothing: a stem filtered or upsampled a
chunk at a time (with a cancel check between chunks) is the one-call result, bit for bit."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from scipy import signal

from scorecut.models.composer.synth import instruments, mixing
from scorecut.models.interface import Cancelled, check_cancelled


@pytest.mark.parametrize("frames", [1000, mixing.FILTER_CHUNK + 7, 3 * mixing.FILTER_CHUNK + 1])
def test_chunked_filters_equal_one_call(frames):
    x = np.random.default_rng(frames).standard_normal((2, frames)).astype(np.float32)  # (channels, frames)
    sos = mixing.filter_sos("highpass", 110.0, 48_000, 2)
    assert np.array_equal(mixing.highpass(x, 110.0, 48_000), signal.sosfilt(sos, x, axis=-1).astype(np.float32))
    mono = x[0]  # (frames,)
    sos = mixing.filter_sos("lowpass", 3500.0, 48_000, 2)
    assert np.array_equal(mixing.lowpass(mono, 3500.0, 48_000), signal.sosfilt(sos, mono).astype(np.float32))


@pytest.mark.parametrize("div", [2, 4])
@pytest.mark.parametrize("frames", [1000, instruments.UPSAMPLE_CHUNK + 5, 3 * instruments.UPSAMPLE_CHUNK + 777])
def test_chunked_upsampling_equals_one_call(div, frames):
    x = np.random.default_rng(frames + div).standard_normal((2, frames)).astype(np.float32)  # (channels, frames)
    n = frames * div - 3
    whole = signal.resample_poly(x, div, 1, axis=1, window=instruments._upsampler(div))[:, :n]
    assert np.array_equal(instruments.upsample(x, div, n), whole.astype(np.float32))


def test_a_cancelled_job_stops_inside_a_long_filter_and_upsampling():
    cancel = threading.Event()
    cancel.set()
    x = np.zeros((2, 3 * mixing.FILTER_CHUNK), dtype=np.float32)
    with pytest.raises(Cancelled):
        mixing.highpass(x, 110.0, 48_000, check=lambda: check_cancelled(cancel))
    with pytest.raises(Cancelled):
        instruments.upsample(x, 2, 2 * x.shape[1], check=lambda: check_cancelled(cancel))


def test_a_whole_mix_measurement_does_not_hold_a_cancelled_job():
    """Loudness and true peak are measured over the whole mix in one call: the job stops at a
    cancel without waiting for the measurement to end."""
    import time

    from scorecut.models.post import _measured

    cancel = threading.Event()
    threading.Timer(0.2, cancel.set).start()
    began = time.monotonic()
    with pytest.raises(Cancelled):
        _measured(time.sleep, 3.0, cancel=cancel)  # stands in for a measurement of a long mix
    assert time.monotonic() - began < 0.6
    assert _measured(max, 2, 5, cancel=threading.Event()) == 5
