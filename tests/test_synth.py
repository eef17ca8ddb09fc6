"""The composer's synthesizer on hand-built arrangements: lengths, silence after the tail,
determinism, clicks, aliasing, and the instruments' measured shapes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import signal
from synth_arrangements import dense, single

from scorecut.models.composer.events import DRUM_KINDS, DrumHit, Note
from scorecut.models.composer.synth import render
from scorecut.models.composer.synth.drums import KITS, kick
from scorecut.models.composer.synth.envelopes import ADSR, adsr
from scorecut.models.composer.synth.oscillators import make_bank, phase_constant, read_bank
from scorecut.models.interface import STEMS, Cancelled

# Stems are capped at 0.9 (-0.9 dBFS) at their work rate; upsampling may overshoot that a little.
PEAK_LIMIT = 0.92

ALL_PRESETS = {
    "drums": ("electronic", "acoustic", "lofi", "cinematic"),
    "bass": ("sub", "synth", "fingered"),
    "harmony": ("pad", "strings", "epiano", "piano", "pluck"),
    "melody": ("lead", "bell", "pluck", "epiano"),
}


@pytest.mark.parametrize("duration_s,sr", [(7.3333, 48_000), (5.01731, 44_100), (0.25, 48_000)])
def test_exact_length_finite_no_dc_silent_after_tail(duration_s, sr):
    tail = max(0.05, duration_s - 0.7)
    arr = dense(duration_s, tail_end_s=tail)
    stems = render(arr, sr, seed=3)
    frames = round(duration_s * sr)
    assert list(stems) == list(STEMS)
    for name, x in stems.items():
        assert x.shape == (2, frames) and x.dtype == np.float32, name
        assert np.isfinite(x).all(), name
        assert np.abs(x[:, int(np.ceil(tail * sr)) :]).max(initial=0.0) == 0.0, name  # silent after tail
        if duration_s > 1:
            rms = np.sqrt(np.mean(x.astype(np.float64) ** 2))
            assert rms > 1e-4, name  # it plays
            assert np.all(np.abs(x.mean(axis=1)) < 0.01 * rms), (name, x.mean(axis=1), rms)


def test_every_preset_renders_at_a_sane_level():
    arr = dense(6.0)
    for stem, presets in ALL_PRESETS.items():
        for preset in presets:
            x = render(dataclasses.replace(arr, instruments={stem: preset}), 48_000, 1, stems=(stem,))[stem]
            assert np.isfinite(x).all(), preset
            peak = np.abs(x).max()
            assert 0.05 < peak < 1.0, (stem, preset, peak)  # headroom per stem, and not silent


def test_same_seed_identical_different_seed_differs():
    arr = dense(4.0)
    a = render(arr, 48_000, seed=11)
    b = render(arr, 48_000, seed=11)
    c = render(arr, 48_000, seed=12)
    for name in STEMS:
        assert np.array_equal(a[name], b[name]), name
        diff = np.sqrt(np.mean((a[name] - c[name]) ** 2)) / np.sqrt(np.mean(a[name] ** 2))
        assert diff > 0.05, (name, diff)  # noise and oscillator phases come from the seed


def test_stems_are_independent_of_which_others_are_rendered():
    arr = dense(3.0)
    alone = render(arr, 48_000, seed=5, stems=("melody",))
    together = render(arr, 48_000, seed=5)
    assert list(alone) == ["melody"]
    assert np.array_equal(alone["melody"], together["melody"])


def test_cancel_stops_rendering():
    import threading

    ev = threading.Event()
    ev.set()
    with pytest.raises(Cancelled):
        render(dense(3.0), 48_000, seed=0, cancel=ev)


def _highband_peak(x: np.ndarray, sr: int, cutoff_hz: float) -> float:
    sos = signal.butter(10, cutoff_hz / (0.5 * sr), "highpass", output="sos")
    return float(np.abs(signal.sosfiltfilt(sos, x.astype(np.float64), axis=1)).max())


@pytest.mark.parametrize("stem,preset", [("bass", "synth"), ("bass", "fingered"), ("bass", "sub"), ("harmony", "pad"),
                                         ("harmony", "strings"), ("harmony", "epiano"), ("melody", "lead")])
def test_no_clicks_in_band_limited_stems(stem, preset):
    """These presets run at a work rate of at most 24 kHz with partials below 0.35x of it (8.4 kHz)
    and are brought to 48 kHz by a filter 80 dB down from 0.65x, so nothing they play legitimately
    reaches 16 kHz. A click is a step or a kink in the waveform,
    and a step's spectrum falls only as 1/f, so any step worth hearing shows up above 16 kHz.
    The render has overlapping, very short (15 ms) and long notes and notes cut by the tail fade.
    Bound: the band above 16 kHz peaks below -60 dB of the stem's peak; a step of 1% of the peak
    (-40 dB, barely audible under music) already exceeds it."""
    arr = dense(6.0, instruments={stem: preset}, tail_end_s=5.2)
    x = render(arr, 48_000, seed=2, stems=(stem,))[stem]
    assert _highband_peak(x, 48_000, 16_000) < 1e-3 * np.abs(x).max()
    # The detector works: the same stem with one step of 1% of its peak (-40 dB) fails it.
    stepped = x.copy()
    stepped[:, 100_000:] += 0.01 * np.abs(x).max()
    assert _highband_peak(stepped, 48_000, 16_000) > 1e-3 * np.abs(x).max()


def test_sample_steps_obey_bernsteins_bound():
    """Sample-to-sample jumps of the sub bass, bounded. The sub preset's tables hold harmonics 1-3
    only, so with its highest note (A2, 110 Hz) the signal is band-limited to B = 3 x 110 Hz
    (tanh drive adds odd harmonics, but tens of dB down). Bernstein's inequality for a signal
    band-limited to B: |x'| <= 2 pi B max|x|, so one sample's step is at most 2 pi B / sr times
    the (true) peak: 4.4% of it here. Every note boundary, short note and the tail fade must obey
    it; a click of 5% of the peak does not."""
    sr = 48_000
    arr = dense(6.0, instruments={"bass": "sub"}, tail_end_s=5.2)
    assert max(n.pitch for n in arr.bass) == 45
    x = render(arr, sr, seed=2, stems=("bass",))["bass"][0].astype(np.float64)
    peak = np.abs(signal.resample_poly(x, 4, 1)).max()
    bound = 2 * np.pi * 3 * 110.0 / sr * peak
    assert np.abs(np.diff(x)).max() <= bound, (np.abs(np.diff(x)).max() / peak, bound / peak)
    clicked = x.copy()
    clicked[150_000:] += 0.05 * peak
    assert np.abs(np.diff(clicked)).max() > bound


@pytest.mark.parametrize("stem,preset", [(s, p) for s, ps in ALL_PRESETS.items() for p in ps])
def test_every_voice_starts_and_ends_at_rest(stem, preset):
    """Full-band voices (noise, plucks, FM) cannot use the band test; they are clean at their
    boundaries instead: a voice alone starts from (near) zero and ends at exactly zero, so no
    note boundary inside a stem can step."""
    sr = 48_000
    onset = 0.5
    if stem == "drums":
        arr = single(4.0, stem, preset, hit=DrumHit(onset, "snare", 1.0))
    else:
        arr = single(4.0, stem, preset, note=Note(onset, 0.4, 64 if stem != "bass" else 40, 1.0))
    x = render(arr, sr, seed=1, stems=(stem,))[stem]
    i = int(onset * sr)
    peak = np.abs(x).max()
    assert np.abs(x[:, : i - 2000]).max() < 1e-5 * peak  # nothing before the onset (HP filters aside)
    assert np.abs(x[:, i]).max() < 0.05 * peak  # the first sample is near rest
    assert np.abs(x[:, -1]).max() == 0.0


def test_envelope_has_no_steps():
    sr = 48_000
    env = adsr(ADSR(0.01, 0.2, 0.6, 0.3), 0.05, sr)
    steps = np.abs(np.diff(env))
    assert env[0] == 0.0 and env[-1] == 0.0
    # A raised-cosine attack over A samples has a largest step of about pi / (2A).
    assert steps.max() <= np.pi / (2 * 0.01 * sr) * 1.05
    short = adsr(ADSR(0.5, 0.2, 0.6, 0.3), 0.02, sr)  # released during its attack
    assert np.abs(np.diff(short)).max() < 1e-3


def _harmonic_mask(freqs: np.ndarray, f0: float, width_hz: float) -> np.ndarray:
    k = np.round(freqs / f0)
    return (k >= 1) & (np.abs(freqs - k * f0) <= width_hz)


def test_saw_is_alias_free_and_matches_the_harmonic_series():
    """A 3 kHz saw at 48 kHz: its partials at 3, 6, ... 21 kHz follow 1/k within 0.5 dB, and the
    energy between them (where folded-back partials of a naive saw land) is below -70 dB. The
    naive saw fails the same measurement, so the measurement can fail."""
    sr, f0 = 48_000, 3000.0
    n = sr
    # filter wide open: the oscillator alone
    # f0 off a bin: folded partials fall between harmonics
    bank = make_bank(f0 * 1.0007, sr, "saw", np.array([1e7]))
    f = f0 * 1.0007
    y = read_bank(bank, phase_constant(n, f, sr))
    naive = 2.0 * np.mod(np.arange(n) * f / sr, 1.0) - 1.0
    window = signal.windows.blackmanharris(n)
    freqs = np.fft.rfftfreq(n, 1 / sr)
    for x, clean in ((y, True), (naive, False)):
        spec = np.abs(np.fft.rfft(x * window))
        on = _harmonic_mask(freqs, f, 12.0)
        between = 10 * np.log10(np.sum(spec[~on & (freqs > 50)] ** 2) / np.sum(spec[on] ** 2))
        assert (between < -70) == clean, between
    spec = np.abs(np.fft.rfft(y * window))
    level = [np.sqrt(np.sum(spec[np.abs(freqs - k * f) <= 12] ** 2)) for k in range(1, 8)]  # main lobe energy
    for k in range(1, 8):
        ratio_db = 20 * np.log10(level[k - 1] / level[0])
        assert abs(ratio_db - 20 * np.log10(1 / k)) < 0.5, (k, ratio_db)


@pytest.mark.parametrize("stem,preset,pitch", [("melody", "lead", 93), ("harmony", "epiano", 88),
                                               ("harmony", "piano", 96), ("bass", "synth", 52)])
def test_high_notes_do_not_alias(stem, preset, pitch):
    """A high note through the whole stem chain: energy away from the note's harmonics (and from
    the detune around them) stays 50 dB under the harmonics. (The bell is inharmonic by design;
    its FM pair is covered by test_fm_sidebands_do_not_alias.)"""
    sr = 48_000
    f0 = 440.0 * 2 ** ((pitch - 69) / 12)
    arr = single(1.0, stem, preset, note=Note(0.0, 0.2, pitch, 1.0))  # short: before any vibrato
    x = render(arr, sr, seed=0, stems=(stem,))[stem].mean(axis=0)[: int(0.2 * sr)]
    window = signal.windows.blackmanharris(len(x))
    spec = np.abs(np.fft.rfft(x * window))
    freqs = np.fft.rfftfreq(len(x), 1 / sr)
    on = _harmonic_mask(freqs, f0, 40.0 + 0.01 * freqs)
    between = 10 * np.log10(np.sum(spec[~on & (freqs > 200)] ** 2) / np.sum(spec[on] ** 2))
    assert between < -50, between


def test_fm_sidebands_do_not_alias():
    """FM with an integer ratio puts every legitimate component on a multiple of f0 (ratio 3.5:
    of f0 / 2). A sideband past Nyquist folds back between them; with the index cap that stays
    60 dB down even when asked for an index of 3 on high notes."""
    from scorecut.models.composer.synth.oscillators import fm_voice

    sr = 48_000
    window = signal.windows.blackmanharris(sr // 2)
    freqs = np.fft.rfftfreq(sr // 2, 1 / sr)
    for f0, ratio in ((1500.0 * 1.0007, 14.0), (2000.0 * 1.0007, 3.5), (440.0 * 1.0007, 14.0), (262.0 * 1.0007, 14.0)):
        y = fm_voice(sr // 2, f0, sr, ratio, np.full(1, 3.0)).astype(np.float64)
        spec = np.abs(np.fft.rfft(y * window))
        grid = f0 if ratio.is_integer() else f0 / 2
        on = _harmonic_mask(freqs, grid, 8.0)
        between = 10 * np.log10(np.sum(spec[~on & (freqs > 20)] ** 2) / np.sum(spec[on] ** 2))
        assert between < -60, (f0, ratio, between)
    # Without the cap the same measurement fails: the test can tell.
    theta = 2 * np.pi * np.arange(sr // 2) * 1500.0 * 1.0007 / sr
    raw = np.sin(theta + 3.0 * np.sin(14 * theta))
    spec = np.abs(np.fft.rfft(raw * window))
    on = _harmonic_mask(freqs, 1500.0 * 1.0007, 8.0)
    assert 10 * np.log10(np.sum(spec[~on & (freqs > 20)] ** 2) / np.sum(spec[on] ** 2)) > -60


def test_kick_pitch_drops_and_decays():
    """The electronic kick, alone: pitch ~150 Hz at the hit falling to ~50 Hz within 80 ms,
    an amplitude time constant of 200-400 ms, and a click in the first 4 ms."""
    sr = 48_000
    y = kick(KITS["electronic"], sr, np.random.default_rng(0)).astype(np.float64)
    tone = signal.sosfiltfilt(signal.butter(4, 400 / (sr / 2), "lowpass", output="sos"), y)
    up = np.flatnonzero((tone[:-1] < 0) & (tone[1:] >= 0))  # upward zero crossings
    periods = np.diff(up) / sr
    times = up[1:] / sr
    first = 1 / periods[0]
    late = 1 / periods[(times > 0.12) & (times < 0.3)].mean()
    assert 90 < first < 160, first  # the first whole cycle already falling from 150 Hz
    assert 45 < late < 56, late
    assert 1 / periods[times > 0.08][0] < 60  # the drop is done within 80 ms
    env = np.abs(signal.hilbert(tone))
    t = np.arange(len(env)) / sr
    sel = (t > 0.15) & (t < 0.6)
    tau = -1 / np.polyfit(t[sel], np.log(env[sel]), 1)[0]
    assert 0.2 < tau < 0.4, tau
    hf = signal.sosfiltfilt(signal.butter(4, 1500 / (sr / 2), "highpass", output="sos"), y)
    assert np.abs(hf[: int(0.004 * sr)]).max() > 5 * np.abs(hf[int(0.01 * sr) :]).max()  # the click


def test_drum_onsets_are_sample_accurate():
    sr = 48_000
    times = (0.1234567, 1.61, 3.00001, 4.377)  # apart enough for each kick to die away first
    arr = dataclasses.replace(single(6.0, "drums", "acoustic"), drums=tuple(DrumHit(t, "kick", 1.0) for t in times))
    x = render(arr, sr, seed=0, stems=("drums",))["drums"]
    mono = np.abs(x).max(axis=0)
    for t in times:
        i = round(t * sr)
        assert mono[i - 48 : i].max() < 1e-3 * mono.max()  # silent in the millisecond before
        assert mono[i : i + 48].max() > 0.05 * mono.max()  # sounding within 1 ms


def test_pad_is_wide_kick_and_bass_centred():
    arr = dense(6.0)
    stems = render(arr, 48_000, seed=1)
    corr = {k: np.corrcoef(v[0], v[1])[0, 1] for k, v in stems.items()}
    assert corr["bass"] > 0.999
    assert corr["harmony"] < 0.8, corr
    kick_only = dataclasses.replace(arr, drums=tuple(h for h in arr.drums if h.kind == "kick"),
                                    reverb_send={"drums": 0.0})
    k = render(kick_only, 48_000, seed=1, stems=("drums",))["drums"]
    assert np.allclose(k[0], k[1])


def test_reverb_room_decays_like_a_hall():
    """The shared room's impulse response: silent for its 10-30 ms pre-delay, an RT60 (by Schroeder
    backward integration) of 1.5-3 s, highs dying faster than mids, decorrelated channels (width),
    and nothing below the send's 200 Hz low cut."""
    from scorecut.models.composer.synth.mixing import reverb_ir

    sr = 48_000
    ir = reverb_ir(sr).astype(np.float64)
    first = np.flatnonzero(np.abs(ir).max(axis=0) > 1e-6)[0] / sr
    assert 0.01 <= first <= 0.03, first

    def rt60(x):
        edc = np.cumsum((x**2)[::-1])[::-1]
        edc_db = 10 * np.log10(edc / edc[0])
        t5, t25 = np.argmax(edc_db < -5), np.argmax(edc_db < -25)  # T20, extrapolated to 60 dB
        return 3.0 * (t25 - t5) / sr

    assert 1.5 <= rt60(ir[0]) <= 3.0, rt60(ir[0])
    band = lambda lo, hi: signal.sosfiltfilt(  # noqa: E731
        signal.butter(4, [lo / (sr / 2), hi / (sr / 2)], "bandpass", output="sos"), ir[0])
    assert rt60(band(6000, 12000)) < 0.8 * rt60(band(500, 1000))
    assert abs(np.corrcoef(ir[0], ir[1])[0, 1]) < 0.1
    spec = np.abs(np.fft.rfft(ir[0]))
    freqs = np.fft.rfftfreq(ir.shape[1], 1 / sr)
    assert spec[(freqs > 20) & (freqs < 60)].mean() < 0.1 * spec[(freqs > 500) & (freqs < 2000)].mean()


def test_riser_sweeps_up_and_ends_on_time():
    sr = 48_000
    hit = DrumHit(1.0, "riser", 1.0, length_s=2.0)
    x = render(single(4.0, "drums", "electronic", hit=hit), sr, seed=0, stems=("drums",))["drums"].mean(axis=0)
    assert np.abs(x[: int(0.99 * sr)]).max() == 0.0
    assert np.abs(x[int(3.0 * sr) + 1 :]).max() == 0.0  # over exactly at time + length
    f, t, z = signal.stft(x, sr, nperseg=2048)
    power = np.abs(z) ** 2
    centroid = (f[:, None] * power).sum(axis=0) / (power.sum(axis=0) + 1e-20)
    early = centroid[(t > 1.2) & (t < 1.6)].mean()
    late = centroid[(t > 2.5) & (t < 2.95)].mean()
    assert late > 3 * early, (early, late)  # the sweep rises
    level = power.sum(axis=0)
    assert level[(t > 2.5) & (t < 2.95)].mean() > 4 * level[(t > 1.2) & (t < 1.6)].mean()  # and swells


def test_stems_are_balanced_as_a_mix():
    """Whatever the presets, each stem plays at its place in the balance (K-weighted loudness of
    its louder passages, measured independently here with pyloudnorm's integrated loudness of
    the stem): drums and bass on top, melody just under, harmony bed lowest; and none peaks over
    -1 dBFS."""
    import pyloudnorm

    sr = 48_000
    meter = pyloudnorm.Meter(sr)
    combos = [("electronic", "synth", "pad", "lead"), ("cinematic", "sub", "strings", "bell"),
              ("lofi", "fingered", "epiano", "epiano"), ("acoustic", "fingered", "pluck", "pluck")]
    for combo in combos:
        arr = dense(8.0, instruments=dict(zip(STEMS, combo, strict=True)))
        stems = render(arr, sr, seed=0)
        loud = {k: meter.integrated_loudness(v.T.astype(np.float64)) for k, v in stems.items()}
        assert all(np.abs(v).max() <= PEAK_LIMIT for v in stems.values()), combo
        assert loud["harmony"] < loud["melody"] < loud["drums"] + 1.0, (combo, loud)
        assert loud["harmony"] < loud["bass"], (combo, loud)
        assert max(loud.values()) - min(loud.values()) < 10.0, (combo, loud)  # nothing buried


def test_upsampling_keeps_the_level():
    from scorecut.models.composer.synth.instruments import upsample

    sr_work = 12_000
    t = np.arange(sr_work) / sr_work
    x = np.stack([np.sin(2 * np.pi * 440 * t)] * 2).astype(np.float32)
    for div in (2, 4):
        y = upsample(x, div, div * sr_work)
        assert abs(np.sqrt(np.mean(y[:, 1000:-1000] ** 2)) / np.sqrt(0.5) - 1.0) < 0.01, div


@pytest.mark.parametrize("sr", [8_000, 22_050, 96_000])
def test_every_preset_at_unusual_sample_rates(sr):
    """Filters, work rates and FM limits adapt: every preset renders, finite, audible, exact length."""
    for combo in [("electronic", "synth", "pad", "lead"), ("cinematic", "sub", "strings", "bell"),
                  ("lofi", "fingered", "epiano", "epiano"), ("acoustic", "fingered", "pluck", "piano")]:
        stems = render(dense(2.0, instruments=dict(zip(STEMS, combo, strict=True))), sr, seed=0)
        for name, x in stems.items():
            assert x.shape == (2, 2 * sr) and np.isfinite(x).all() and np.abs(x).max() > 0, (sr, combo, name)


def test_extreme_notes_and_hits_stay_finite_and_in_headroom():
    """MIDI 12..127, notes from half a millisecond to longer than the segment, velocities from
    0.01 to 1, every drum kind (and an unknown one) at the very end of a segment."""
    for stem, presets in ALL_PRESETS.items():
        if stem == "drums":
            continue
        for preset in presets:
            for pitch in (12, 60, 127):
                for dur, vel in ((0.0005, 1.0), (5.0, 0.01), (5.0, 1.0)):
                    x = render(single(3.0, stem, preset, note=Note(0.3, dur, pitch, vel)), 48_000, 0,
                               stems=(stem,))[stem]
                    assert np.isfinite(x).all() and np.abs(x).max() <= PEAK_LIMIT, (preset, pitch, dur, vel)
    for kind in (*DRUM_KINDS, "unknown"):
        x = render(single(2.0, "drums", "cinematic", hit=DrumHit(1.95, kind, 1.0, length_s=10.0)), 48_000, 0,
                   stems=("drums",))["drums"]
        assert np.isfinite(x).all() and np.abs(x[:, -1]).max() < 1e-5, kind  # faded out by the segment end
