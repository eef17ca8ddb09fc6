"""The composer's plan and arrangement, without sound: grid, sections, harmony, ranges, ending.

Analyses are built by hand here (the audio tests use real videos through the real analysis).
"""

from __future__ import annotations

import numpy as np
import pytest

from scorecut.models.analysis.types import VideoAnalysis
from scorecut.models.composer.arrangement import arrange
from scorecut.models.composer.grid import TEMPO_BEND
from scorecut.models.composer.harmony import parse_chord
from scorecut.models.composer.plan import PITCH_NAMES, make_plan
from scorecut.models.composer.styles import STYLES, style_by_name
from scorecut.models.interface import RequestError, ScoreOptions

ALL_STYLES = tuple(STYLES)
CUTS = (2.31, 4.87, 7.12, 9.83)  # irregular, like a real edit


def analysis(duration=12.0, cuts=CUTS, strength=None, motion=0.3, brightness=0.5, fps=10.0) -> VideoAnalysis:
    t = np.arange(0, duration, 1 / fps)
    n = len(t)
    cuts = np.asarray(cuts, float)
    strength = np.full(len(cuts), 0.9, np.float32) if strength is None else np.asarray(strength, np.float32)
    return VideoAnalysis(
        duration_s=duration, analysis_fps=fps, times_s=t,
        motion=np.full(n, motion, np.float32), brightness=np.full(n, brightness, np.float32),
        saturation=np.full(n, 0.35, np.float32), warmth=np.zeros(n, np.float32),
        cuts_s=cuts, cut_strength=strength, cut_kinds=tuple("hard" for _ in cuts),
        visual_beats_s=np.zeros(0), visual_beat_strength=np.zeros(0, np.float32),
        pace=np.full(n, 0.3, np.float32), speech_times_s=np.zeros(0), speech=np.zeros(0, np.float32),
    )


@pytest.mark.parametrize("style", ALL_STYLES)
def test_cuts_land_on_beats_within_the_style_tempo(style):
    a = analysis()
    plan = make_plan(a, ScoreOptions(style=style, seed=3))
    lo, hi = STYLES[style].tempo_bpm
    assert lo * (1 - TEMPO_BEND) <= plan.tempo_bpm <= hi * (1 + TEMPO_BEND)
    beats = plan.beats_s
    assert np.all(np.diff(beats) > 0)
    inside = beats[(beats > 0) & (beats < a.duration_s)]
    # The tempo map bends gently: every beat period within the allowed bend of the base period.
    base = 60.0 / plan.tempo_bpm
    periods = np.diff(inside)
    assert np.all(np.abs(periods / base - 1) <= 2 * TEMPO_BEND + 1e-6), periods / base
    # Slow grooves may meet a cut on the off-beat eighth instead (half-time planning).
    points = np.concatenate([beats, (beats[:-1] + beats[1:]) / 2]) if STYLES[style].eighth_grid else beats
    hits = [np.min(np.abs(points - c)) < 0.035 for c in a.cuts_s]
    assert np.mean(hits) >= 0.75, (style, [round(float(np.min(np.abs(points - c))), 3) for c in a.cuts_s])


def test_major_cuts_open_sections_on_downbeats():
    a = analysis(cuts=(3.05, 6.4, 9.1), strength=(0.95, 0.95, 0.95), duration=14.0)
    plan = make_plan(a, ScoreOptions(style="acoustic_pop", seed=1)).musical_plan()
    downbeats = np.asarray(plan.downbeats_s)
    starts = [s.start_s for s in plan.sections[1:]]
    for t in starts:
        assert np.min(np.abs(downbeats - t)) < 1e-6  # every section opens on a downbeat
    on_down = [np.min(np.abs(downbeats - c)) < 0.035 for c in a.cuts_s]
    assert sum(on_down) >= 2, (plan.downbeats_s, a.cuts_s)
    assert plan.sections[0].start_s == 0.0 and plan.sections[-1].end_s == pytest.approx(14.0)
    for s0, s1 in zip(plan.sections[:-1], plan.sections[1:], strict=False):
        assert s0.end_s == pytest.approx(s1.start_s)


def test_intensity_follows_motion_with_hysteresis():
    t_cuts = (8.0, 16.1, 24.05)
    n = 320
    motion = np.concatenate([np.full(80, 0.02), np.full(80, 0.6), np.full(80, 0.62), np.full(80, 0.05)])
    a = analysis(duration=32.0, cuts=t_cuts)
    a = VideoAnalysis(**{**a.__dict__, "motion": motion.astype(np.float32), "pace": (motion / 2).astype(np.float32)})
    assert len(a.times_s) == n
    plan = make_plan(a, ScoreOptions(style="corporate", seed=0))
    levels = [s.intensity for s in plan.sections]
    assert levels[0] < max(levels), levels
    assert all(0 <= x <= 4 for x in levels)


def test_unknown_style_and_mood_list_the_valid_ones():
    with pytest.raises(RequestError, match="cinematic.*ambient"):
        make_plan(analysis(), ScoreOptions(style="polka"))
    with pytest.raises(RequestError, match="bright"):
        make_plan(analysis(), ScoreOptions(mood="grumpy"))
    assert style_by_name("lo-fi").name == "lofi"
    assert style_by_name("acoustic-pop").name == "acoustic_pop"
    assert style_by_name("upbeat-corporate").name == "corporate"


def test_mood_sets_the_mode():
    assert make_plan(analysis(), ScoreOptions(mood="dark", seed=2)).mode == "minor"
    assert make_plan(analysis(), ScoreOptions(mood="bright", seed=2)).mode == "major"
    assert make_plan(analysis(), ScoreOptions(mood="tense", seed=2)).mode == "phrygian"


def test_picture_decides_major_or_minor():
    bright = make_plan(analysis(brightness=0.85), ScoreOptions(style="corporate", seed=5))
    dark = make_plan(analysis(brightness=0.1), ScoreOptions(style="cinematic", seed=5))
    assert bright.mode == "major" and dark.mode == "minor"


@pytest.mark.parametrize("meter,bpb", [("3/4", 3), ("6/8", 2)])
def test_other_meters(meter, bpb):
    plan = make_plan(analysis(), ScoreOptions(style="cinematic", meter=meter, seed=1))
    full = [b.n_beats for b in plan.bars[:-1]]
    assert max(full) <= bpb + 1 and full.count(bpb) >= len(full) // 2
    assert plan.musical_plan().meter == meter


def test_same_seed_same_arrangement_and_seeds_differ():
    a = analysis()
    one = arrange(make_plan(a, ScoreOptions(seed=11)), a, 11)
    two = arrange(make_plan(a, ScoreOptions(seed=11)), a, 11)
    assert one == two
    others = [arrange(make_plan(a, ScoreOptions(seed=s)), a, s) for s in range(4)]
    keys = {o.plan.key for o in others}
    harmonies = {tuple(n.pitch for n in o.harmony[:12]) for o in others}
    assert len(keys) >= 2 and len(harmonies) >= 3


@pytest.mark.parametrize("style", ALL_STYLES)
def test_a_calm_picture_still_gets_a_tune_after_the_opening(style):
    a = analysis(duration=20.0, cuts=(5.0, 10.0, 15.0), motion=0.05)
    plan = make_plan(a, ScoreOptions(style=style, seed=1))
    arr = arrange(plan, a, 1)
    assert len(arr.melody) >= 4, "a 20 s cue with no lead is only a bed"
    if max(s.intensity for s in plan.sections) < STYLES[style].melody_min_intensity:
        assert min(n.start_s for n in arr.melody) >= a.duration_s / 3  # it waits for the opening


@pytest.mark.parametrize("style", ALL_STYLES)
def test_ranges_and_ending(style):
    a = analysis(motion=0.7)
    plan = make_plan(a, ScoreOptions(style=style, seed=7))
    arr = arrange(plan, a, 7)
    tonic = plan.tonic_pc
    assert arr.tail_end_s == a.duration_s
    harmony = [n.pitch for n in arr.harmony]
    assert min(harmony) >= 48 and max(harmony) <= 72  # C3..C5
    bass = [n.pitch for n in arr.bass]
    assert bass and min(bass) >= 28 and max(bass) <= 52  # E1..E3
    pitches = [n.pitch for n in arr.melody]
    assert pitches and max(pitches) - min(pitches) <= 19
    assert arr.melody[-1].pitch % 12 == tonic
    # The last chord is the tonic (root and third of the key present) and the bass ends on it.
    t_end = float(plan.beats_s[plan.end_beat])
    last = {n.pitch % 12 for n in arr.harmony if n.start_s >= t_end - 1e-6}
    assert tonic in last
    assert arr.bass[-1].pitch % 12 == tonic
    # Everything starts inside the clip and is released before the end, leaving room for the tail.
    for n in (*arr.bass, *arr.harmony, *arr.melody):
        assert 0 <= n.start_s and n.start_s + n.duration_s <= a.duration_s - 0.5
    assert all(0 <= h.time_s < a.duration_s for h in arr.drums)
    # The drums land exactly on the cuts they carry (no humanizing those).
    times = np.asarray([h.time_s for h in arr.drums])
    on_beats = [c for c in a.cuts_s if np.min(np.abs(plan.beats_s - c)) < 1e-6 and c <= plan.beats_s[plan.end_beat]]
    exact = [np.min(np.abs(times - c)) < 1e-6 for c in on_beats]
    assert all(exact)


def test_chord_symbols():
    assert parse_chord("I", 0) == (0, (0, 4, 7))
    assert parse_chord("vi7", 0) == (9, (0, 3, 7, 10))
    assert parse_chord("bVImaj7", 9) == (5, (0, 4, 7, 11))  # F maj7 in A minor
    assert parse_chord("V9", 2) == (9, (0, 4, 7, 10, 14))


def test_key_names():
    plan = make_plan(analysis(), ScoreOptions(seed=0))
    name, mode = plan.key_name.split(" ")
    assert name in PITCH_NAMES and mode in ("major", "minor")


def test_ten_minute_plan_is_fast():
    import time

    rng = np.random.default_rng(0)
    cuts = np.cumsum(rng.uniform(1.5, 6.0, 200))
    cuts = cuts[cuts < 595]
    a = analysis(duration=600.0, cuts=cuts, strength=rng.uniform(0.3, 1.0, len(cuts)))
    t0 = time.perf_counter()
    plan = make_plan(a, ScoreOptions(style="electronic", seed=1))
    arr = arrange(plan, a, 1)
    took = time.perf_counter() - t0
    beats = plan.beats_s
    hit = np.mean([np.min(np.abs(beats - c)) < 0.035 for c in cuts])
    assert took < 10.0 and hit > 0.75 and len(arr.drums) > 1000


def test_the_lead_rests_under_speech():
    a = analysis(duration=24.0, cuts=(4.1, 8.3, 12.2, 16.4, 20.3), motion=0.9)
    t = np.arange(0, 24.0, 0.1)
    speech = ((t >= 8.0) & (t < 16.0)).astype(np.float32)  # someone talks from 8 s to 16 s
    talking = VideoAnalysis(**{**a.__dict__, "speech_times_s": t, "speech": speech})
    quiet = arrange(make_plan(a, ScoreOptions(style="corporate", seed=2)), a, 2)
    ducked = arrange(make_plan(talking, ScoreOptions(style="corporate", seed=2)), talking, 2)
    assert any(8.0 <= n.start_s < 15.5 for n in quiet.melody)  # the lead would play there...
    assert not any(8.5 <= n.start_s < 15.5 for n in ducked.melody)  # ...but leaves room for the voice
    assert any(n.start_s >= 16.0 for n in ducked.melody)


def test_strong_motion_peaks_on_the_grid_get_a_light_accent():
    from scorecut.models.composer.drums import step_time

    a = analysis(duration=16.0, cuts=(5.3, 10.9), motion=0.8)
    plan = make_plan(a, ScoreOptions(style="acoustic_pop", seed=1))
    b = int(np.searchsorted(plan.beats_s, 8.0))  # mid-section, far from the cuts
    t = step_time(plan, b, 2, plan.style.swing) + 0.01  # a motion peak 10 ms after an eighth
    moving = VideoAnalysis(**{**a.__dict__, "visual_beats_s": np.array([t]),
                              "visual_beat_strength": np.array([0.9], np.float32)})
    plain = {(h.time_s, h.kind) for h in arrange(plan, a, 1).drums}
    accented = {(h.time_s, h.kind) for h in arrange(plan, moving, 1).drums}
    extra = accented - plain
    assert extra and all(k == "rim" and abs(tt - (t - 0.01)) < 0.01 for tt, k in extra), extra


def test_tempo_map_ramps_instead_of_jumping():
    """Between hit points the tempo eases from one stretch's tempo towards the next: adjacent
    beat periods differ by less than the largest bend, never by a jump from -6 % to +6 %."""
    a = analysis(duration=20.0, cuts=(1.72, 3.36, 6.12, 8.92, 10.2, 13.76, 15.4, 18.12))
    for style in ("cinematic", "corporate"):
        plan = make_plan(a, ScoreOptions(style=style, seed=1))
        periods = np.diff(plan.beats_s[plan.beats_s < a.duration_s])
        assert np.max(np.abs(np.diff(periods)) / periods[:-1]) < TEMPO_BEND, style


def test_a_style_plays_only_its_meters():
    with pytest.raises(RequestError, match="electronic style plays in 4/4"):
        make_plan(analysis(), ScoreOptions(style="electronic", meter="3/4"))
    assert make_plan(analysis(), ScoreOptions(style="acoustic_pop", meter="6/8")).beats_per_bar == 2
