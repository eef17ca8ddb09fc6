"""Post-processing: length, loudness, true peak, stems summing to the mix, ducking, fades,
near-silence, mix-only models. Measured with pyloudnorm and 4x oversampling, independently of
the code under test's own measurements."""

from __future__ import annotations

import threading

import numpy as np
import pyloudnorm
import pytest
from scipy import signal
from synth_arrangements import dense

from scorecut.models.analysis.types import VideoAnalysis
from scorecut.models.composer.synth import render
from scorecut.models.interface import STEMS, Cancelled, ModelOutput, ScoreOptions
from scorecut.models.post import finish
from scorecut.models.post.parallel import workers

SR = 48_000


def analysis(duration_s: float, speech_spans_s=()) -> VideoAnalysis:
    """A VideoAnalysis with only what post-processing reads: the duration and the speech curve."""
    t = np.arange(0.0, duration_s, 0.1)
    z = np.zeros(len(t), np.float32)
    speech = np.zeros(len(t), np.float32)
    for a, b in speech_spans_s:
        speech[(t >= a) & (t < b)] = 0.95
    e64, e32 = np.zeros(0), np.zeros(0, np.float32)
    return VideoAnalysis(duration_s, 10.0, t, z, z, z, z, e64, e32, (), e64, e32, z, t, speech)


def true_peak_dbtp(x: np.ndarray) -> float:
    up = signal.resample_poly(x.astype(np.float64), 4, 1, axis=1)
    return 20 * np.log10(np.abs(up).max() + 1e-20)


def lufs(x: np.ndarray, sr: int = SR) -> float:
    return pyloudnorm.Meter(sr).integrated_loudness(x.T.astype(np.float64))


def sum_error_db(f) -> float:
    residual = f.mix.astype(np.float64) - sum(v.astype(np.float64) for v in f.stems.values())
    return 20 * np.log10(np.sqrt(np.mean(residual**2)) / np.sqrt(np.mean(f.mix.astype(np.float64) ** 2)) + 1e-20)


@pytest.fixture(scope="module")
def music():
    arr = dense(10.0)
    return arr, render(arr, SR, seed=4)


@pytest.mark.parametrize("target", [-16.0, -23.0])
def test_loudness_peak_length_sum_and_fades(music, target):
    arr, stems = music
    duration = 9.87654  # the video is a little shorter than the music: trimmed exactly
    f = finish(ModelOutput(SR, dict(stems), arr.plan), analysis(duration), ScoreOptions(loudness_lufs=target))
    frames = round(duration * SR)
    assert f.mix.shape == (2, frames) and f.mix.dtype == np.float32
    assert set(f.stems) == set(STEMS) and all(v.shape == (2, frames) for v in f.stems.values())
    assert np.isfinite(f.mix).all()
    assert abs(lufs(f.mix) - target) <= 1.0, lufs(f.mix)
    assert abs(f.loudness_lufs - lufs(f.mix)) < 0.05
    assert true_peak_dbtp(f.mix) <= -1.0
    assert sum_error_db(f) < -60
    assert np.all(f.mix[:, -1] == 0.0) and np.all(f.mix[:, 0] == 0.0)
    assert all(np.all(v[:, -1] == 0.0) for v in f.stems.values())
    assert np.all(np.abs(f.mix.mean(axis=1)) < 1e-3)


@pytest.mark.parametrize("sr", [44_100, 48_000])
def test_hot_input_is_limited_to_the_true_peak_ceiling(sr):
    """Stems far too loud (+20 dB over full scale, with inter-sample peaks from a square-ish wave
    at sr/4 phase offsets) come out at the target with true peak <= -1 dBTP."""
    n = int(5.3 * sr)
    t = np.arange(n) / sr
    rng = np.random.default_rng(0)
    drums = np.zeros((2, n), np.float32)
    for i in range(0, n, sr // 4):  # a very hot, very peaky click track
        drums[:, i : i + 200] += 10.0 * np.hanning(200)
    tone = 8.0 * np.sign(np.sin(2 * np.pi * 997 * t)) * (0.5 + 0.5 * np.sin(2 * np.pi * 0.3 * t))
    tone = signal.lfilter(*signal.butter(2, 9000 / (sr / 2)), tone)  # band-limited: overshoots between samples
    stems = {
        "drums": drums,
        "bass": np.stack([tone, tone]).astype(np.float32),
        "harmony": (3.0 * rng.standard_normal((2, n))).astype(np.float32),
        "melody": np.zeros((2, n), np.float32),
    }
    f = finish(ModelOutput(sr, stems, dense(5.3).plan), analysis(5.3),
               ScoreOptions(sample_rate=sr, loudness_lufs=-16.0))
    assert true_peak_dbtp(f.mix) <= -1.0, true_peak_dbtp(f.mix)
    assert f.true_peak_dbtp <= -1.0
    assert abs(lufs(f.mix, sr) + 16.0) <= 1.0, lufs(f.mix, sr)
    assert sum_error_db(f) < -60
    assert f.mix.shape == (2, round(5.3 * sr))


def test_ducking_under_speech(music):
    """Steady music (pink-ish noise, so level is the same everywhere): under a speech span the mix
    is 6-10 dB lower than outside, reached within 150 ms, back within 600 ms after."""
    n = int(12.0 * SR)
    rng = np.random.default_rng(1)
    bed = signal.lfilter([1.0], [1.0, -0.95], rng.standard_normal((2, n)), axis=1) * 0.05
    stems = {"harmony": bed.astype(np.float32), "melody": (0.5 * bed[::-1]).astype(np.float32)}
    span = (4.0, 7.0)
    opts = ScoreOptions(duck_dialogue=True, stems=("harmony", "melody"))
    f = finish(ModelOutput(SR, stems, dense(12.0).plan), analysis(12.0, [span]), opts)

    def rms_db(a, b):
        seg = f.mix[:, int(a * SR) : int(b * SR)].astype(np.float64)
        return 10 * np.log10(np.mean(seg**2))

    inside = rms_db(span[0] + 0.15, span[1])
    outside = 0.5 * (rms_db(1.0, span[0] - 0.15) + rms_db(span[1] + 0.6 + 0.1, 11.0))
    assert 6.0 <= outside - inside <= 10.0, outside - inside
    assert f.extra["ducked_spans_s"] and abs(f.extra["ducked_spans_s"][0][0] - span[0]) < 0.15
    assert sum_error_db(f) < -60
    # Not asked: no ducking.
    g = finish(ModelOutput(SR, stems, dense(12.0).plan), analysis(12.0, [span]),
               ScoreOptions(stems=("harmony", "melody")))
    seg_in = g.mix[:, int(4.2 * SR) : int(6.8 * SR)].astype(np.float64)
    seg_out = g.mix[:, int(1.0 * SR) : int(3.8 * SR)].astype(np.float64)
    assert abs(10 * np.log10(np.mean(seg_in**2) / np.mean(seg_out**2))) < 1.5


def test_presence_dip_only_in_harmony_and_melody_under_speech():
    n = int(8.0 * SR)
    rng = np.random.default_rng(2)
    noise = (0.05 * rng.standard_normal((2, n))).astype(np.float32)
    stems = {"drums": noise.copy(), "harmony": noise.copy()}
    f = finish(ModelOutput(SR, stems, dense(8.0).plan), analysis(8.0, [(3.0, 6.0)]),
               ScoreOptions(duck_dialogue=True, stems=("drums", "harmony")))

    def band_ratio_db(x, a, b):  # 1-4 kHz energy relative to 200-600 Hz energy, in a time span
        seg = x[0, int(a * SR) : int(b * SR)].astype(np.float64)
        fr, p = signal.welch(seg, SR, nperseg=4096)
        return 10 * np.log10(p[(fr > 1200) & (fr < 3500)].mean() / p[(fr > 200) & (fr < 600)].mean())

    dip = band_ratio_db(f.stems["harmony"], 0.5, 2.8) - band_ratio_db(f.stems["harmony"], 3.3, 5.8)
    assert 3.0 < dip < 9.0, dip  # the presence band is cut under speech
    flat = band_ratio_db(f.stems["drums"], 0.5, 2.8) - band_ratio_db(f.stems["drums"], 3.3, 5.8)
    assert abs(flat) < 1.0, flat  # drums only duck, their spectrum is untouched


def test_near_silent_input_is_not_boosted_into_noise():
    n = int(3.0 * SR)
    quiet = (1e-6 * np.random.default_rng(3).standard_normal((2, n))).astype(np.float32)  # -120 dBFS
    f = finish(ModelOutput(SR, {"harmony": quiet}, dense(3.0).plan), analysis(3.0), ScoreOptions())
    assert np.isfinite(f.mix).all()
    assert np.abs(f.mix).max() < 1e-4  # left where it was, not raised to -16 LUFS
    assert "loudness_note" in f.extra
    silent = finish(ModelOutput(SR, {"harmony": np.zeros((2, n), np.float32)}, dense(3.0).plan), analysis(3.0),
                    ScoreOptions())
    assert np.all(silent.mix == 0.0)
    assert silent.true_peak_dbtp == float("-inf") and silent.loudness_lufs == float("-inf")


def test_native_mix_gives_no_stems_and_requested_stems_are_kept():
    arr = dense(4.0)
    stems = render(arr, SR, seed=0)
    mix_only = ModelOutput(SR, {}, arr.plan, native_mix=sum(stems.values()))
    f = finish(mix_only, analysis(4.0), ScoreOptions())
    assert f.stems == {} and f.mix.shape == (2, 4 * SR)
    assert abs(lufs(f.mix) + 16.0) <= 1.0 and true_peak_dbtp(f.mix) <= -1.0
    g = finish(ModelOutput(SR, stems, arr.plan), analysis(4.0), ScoreOptions(stems=("bass",)))
    assert list(g.stems) == ["bass"]
    # The mix is still the whole piece, not just the kept stem.
    others = g.mix - g.stems["bass"]
    assert np.sqrt(np.mean(others**2)) > 0.5 * np.sqrt(np.mean(g.mix**2))


def test_short_and_mono_input():
    """Shorter than one loudness block (0.4 s) and mono: still measured, normalised, stereo."""
    n = int(0.3 * SR)
    t = np.arange(n) / SR
    mono = (0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)[None, :]
    f = finish(ModelOutput(SR, {"melody": mono}, dense(1.0).plan), analysis(0.3), ScoreOptions())
    assert f.mix.shape == (2, n)
    assert np.isfinite(f.loudness_lufs) and abs(f.loudness_lufs + 16.0) <= 1.0
    assert true_peak_dbtp(f.mix) <= -1.0


def test_bus_compressor_is_two_to_one_with_a_slow_attack():
    from scorecut.models.post.dynamics import compressor_gain

    n = 2 * SR
    t = np.arange(n) / SR
    level = np.where(t < 1.0, 10 ** (-30 / 20), 10 ** (-6 / 20)) * np.sqrt(2)  # sine RMS -30 then -6 dBFS
    x = np.stack([level * np.sin(2 * np.pi * 200 * t)] * 2).astype(np.float32)
    g_db = 20 * np.log10(compressor_gain(x, SR, threshold_db=-20.0))
    assert abs(g_db[int(0.9 * SR)]) < 0.05  # under the threshold: untouched
    assert abs(g_db[int(1.9 * SR)] + 7.0) < 0.3  # 14 dB over at 2:1 -> 7 dB down
    assert g_db[int(1.005 * SR)] > -2.5  # slow attack: 5 ms in, well short of the 7 dB
    assert np.abs(np.diff(g_db)).max() < 0.05  # no steps


def test_limiter_holds_the_ceiling_smoothly():
    """Look-ahead of a few ms, release at 30 dB/s: a +6 dB over at 0.5 s is met exactly, the gain
    starts down at most 10 ms before it, is back within 0.2 dB 0.3 s after, and never steps."""
    from scorecut.models.post.dynamics import limiter_gain

    rng = np.random.default_rng(5)
    peaks = (0.5 * rng.random(SR)).astype(np.float32)  # music well under the ceiling...
    at = SR // 2
    peaks[at] = 2.0  # ...with one over of +6 dB
    g = limiter_gain(peaks, 1.0, SR)
    assert np.all(peaks * g <= 1.0 + 1e-6)
    assert g[at] <= 0.5 + 1e-6
    assert np.abs(np.diff(g)).max() < 0.01  # glides
    assert g[: at - int(0.010 * SR)].min() > 0.999  # look-ahead of at most 10 ms
    assert g[at - int(0.002 * SR)] < 0.9  # but some: going down 2 ms before the peak
    assert g[at + int(0.3 * SR) :].min() > 10 ** (-0.2 / 20)  # released
    assert g[at + int(0.05 * SR)] < 0.8  # not instantly: a release, not a pump


def test_true_peak_meter_matches_four_times_oversampling():
    from scorecut.models.post.levels import true_peak_dbtp as measured

    rng = np.random.default_rng(9)
    for _ in range(4):
        x = (0.3 * rng.standard_normal((2, 3 * SR))).astype(np.float32)
        x[:, 70_000:70_003] = [[0.9, -0.95, 0.9]] * 2  # a near-Nyquist burst: a real inter-sample over
        assert abs(measured(x) - true_peak_dbtp(x)) < 0.01


def test_consume_gives_the_same_result_and_default_leaves_inputs_alone(music):
    arr, stems = music
    before = {k: v.copy() for k, v in stems.items()}
    kept = finish(ModelOutput(SR, dict(stems), arr.plan), analysis(10.0), ScoreOptions())
    assert all(np.array_equal(stems[k], before[k]) for k in stems)  # not consumed: untouched
    mine = {k: v.copy() for k, v in stems.items()}
    used = finish(ModelOutput(SR, mine, arr.plan), analysis(10.0), ScoreOptions(), consume=True)
    assert np.array_equal(used.mix, kept.mix)
    assert not np.array_equal(mine["drums"], before["drums"])  # consumed: worked in place


def test_long_signals_measure_as_pyloudnorm_does():
    """Past PYLOUDNORM_MAX_S the reported loudness comes from the chunked meter (same K filters,
    same gating): it agrees with pyloudnorm on a long, dynamic signal."""
    from scorecut.models.post.levels import PYLOUDNORM_MAX_S, integrated_loudness

    sr = 8_000  # keeps a 3-minute signal quick to build and to measure both ways
    n = int((PYLOUDNORM_MAX_S + 5) * sr)
    rng = np.random.default_rng(4)
    t = np.arange(n) / sr
    swell = 0.02 + 0.3 * (0.5 + 0.5 * np.sin(2 * np.pi * t / 37.0)) ** 3  # quiet and loud passages
    x = (swell * rng.standard_normal((2, n))).astype(np.float32)
    assert abs(integrated_loudness(x, sr) - pyloudnorm.Meter(sr).integrated_loudness(x.T.astype(np.float64))) < 0.02


class _SetAfter:
    """A cancel event that reads as set from its n-th look on: cancel arriving mid-way."""

    def __init__(self, n: int):
        self.looks, self.n = 0, n
        self._lock = threading.Lock()  # stems are post-processed side by side: looks come from threads

    def is_set(self) -> bool:
        with self._lock:
            self.looks += 1
            return self.looks >= self.n


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_cancel_stops_post_processing_between_stages(music, n):
    arr, stems = music
    cancel = _SetAfter(n)
    with pytest.raises(Cancelled):
        finish(ModelOutput(SR, dict(stems), arr.plan), analysis(9.0), ScoreOptions(), cancel=cancel)
    # It stopped at the look that saw the cancel, not at the end; stems post-processed side by
    # side (models/post/parallel.py) may each take one more look before they stop.
    assert n <= cancel.looks <= n + workers() - 1


def test_pieces_side_by_side_give_the_same_bytes(music):
    """Post-processing's stems and chunks of the mix run side by side (models/post/parallel.py);
    one after another (as on a one-core machine, or called from one of its own workers) they
    must give the same bytes. 30 s: the limiter's detector reads the mix in three chunks."""
    from scorecut.models.post.parallel import _PREFIX

    if workers() == 1:
        pytest.skip("one core: nothing runs side by side here")
    arr, stems = music
    long = {k: np.tile(v, 3) for k, v in stems.items()}  # (2, 30 s)
    side_by_side = finish(ModelOutput(SR, {k: v.copy() for k, v in long.items()}, arr.plan), analysis(30.0),
                          ScoreOptions())
    box: dict = {}
    serial = threading.Thread(name=f"{_PREFIX}-test", target=lambda: box.update(done=finish(
        ModelOutput(SR, {k: v.copy() for k, v in long.items()}, arr.plan), analysis(30.0),
        ScoreOptions())))
    serial.start()
    serial.join()
    one_by_one = box["done"]
    assert side_by_side.mix.tobytes() == one_by_one.mix.tobytes()
    assert all(side_by_side.stems[k].tobytes() == one_by_one.stems[k].tobytes() for k in long)
    assert side_by_side.true_peak_dbtp == one_by_one.true_peak_dbtp


@pytest.mark.parametrize("block", [1, 2, 16, 64, 65, 4096])
def test_block_max_is_each_blocks_largest(block):
    from scorecut.models.post.levels import block_max

    rng = np.random.default_rng(block)
    for n in (1, block - 1, block, 5 * block + 3):
        if n < 1:
            continue
        x = rng.normal(size=n).astype(np.float32)
        want = np.array([x[i : i + block].max() for i in range(0, n, block)], np.float32)
        assert np.array_equal(block_max(x, block), want), (block, n)


def test_curves_made_a_span_at_a_time_give_the_same_bits_as_whole_ones():
    """The limiter's gain and the loudness estimate's trial gains are used a span at a time on
    long takes (a whole 10-minute curve is 115 MB): every span must carry the whole curve's bits,
    and the estimate must read the same from spans as from the whole curve."""
    from scorecut.models.post.dynamics import limiter_curve, limiter_gain
    from scorecut.models.post.levels import GainLoudness

    rng = np.random.default_rng(11)
    frames = 7 * SR + 123  # spans that do not divide it: a partial last one
    peaks = (0.4 * rng.random(frames)).astype(np.float32)
    peaks[rng.integers(0, frames, 40)] = 1.6  # overs the limiter must meet
    whole = limiter_gain(peaks, 1.0, SR)
    curve = limiter_curve(peaks, 1.0, SR)
    for step in (1000, 4096, 48_001):
        spans = np.concatenate([curve(i, min(frames, i + step)) for i in range(0, frames, step)])
        assert spans.dtype == np.float32 and spans.tobytes() == whole.tobytes(), step
    assert whole.min() < 0.7  # the curve moves (1 / 1.6 at the overs): the comparison can fail

    x = (0.1 * rng.standard_normal((2, frames))).astype(np.float32)
    estimate = GainLoudness(x, SR)
    assert estimate.lufs(lambda i0, i1: whole[i0:i1].copy()) == estimate.lufs(whole)
    assert estimate.lufs(lambda i0, i1: whole[i0:i1].copy()) != estimate.lufs(1.0)
