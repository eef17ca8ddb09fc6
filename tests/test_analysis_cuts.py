"""Cut detection on real encoded videos with known shot changes.

Tolerances: a hard cut matches when it lies within one source frame of the true cut time (the
first frame of the new shot is at most one frame after the cut instant); a fade or dissolve
matches within half its length of its midpoint. Fast pans, fast object motion and single-frame
flashes are in the set and must not produce cuts. Scores are F1 over the whole set: eight
hand-made edits plus ten seeded random edits (seeds not used while tuning the detector).
Pans sweep back and forth ("bounce"): a view that jumps back is a jump cut, not a pan.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from scorecut.models.analysis import analyze_file
from tests.helpers.videos import Transition, VideoSpec, make_video

SMALL = (160, 90)

# name -> spec; every one has shot changes at irregular times plus things that are not cuts.
SUITE = {
    "hard_cuts": VideoSpec(duration_s=9.0, cuts_s=(1.37, 2.9, 4.05, 6.61, 7.3), fps=25, size=SMALL, seed=1),
    "fades_dissolves": VideoSpec(
        duration_s=10.0, cuts_s=(1.7, 8.2),
        transitions=(Transition(3.4, "fade", 0.8), Transition(5.5, "dissolve", 1.0), Transition(6.9, "fade", 0.5)),
        fps=25, size=SMALL, seed=2),
    "fast_pan": VideoSpec(duration_s=8.0, cuts_s=(2.33, 5.1), transitions=(Transition(6.6, "dissolve", 0.8),),
                          fps=25, size=SMALL, pan=9.0, pan_mode="bounce", seed=3),
    "fast_motion": VideoSpec(duration_s=8.0, cuts_s=(1.9, 4.42), transitions=(Transition(6.2, "fade", 0.6),),
                             fps=30, size=SMALL, motion=9.0, seed=4),
    "flashes": VideoSpec(duration_s=8.0, cuts_s=(2.2, 5.35), flashes_s=(1.0, 3.6, 4.4, 6.5), fps=25,
                         size=SMALL, seed=5),
    "flash_pan_dissolve": VideoSpec(duration_s=8.0, cuts_s=(3.05,), flashes_s=(1.5, 5.0),
                                    transitions=(Transition(6.0, "dissolve", 1.4),), fps=24, size=SMALL,
                                    pan=6.0, pan_mode="bounce", motion=5.0, seed=6),
    "bframes_ntsc": VideoSpec(duration_s=8.0, cuts_s=(1.21, 3.77, 5.02),
                              transitions=(Transition(6.8, "dissolve", 0.6),),
                              fps=Fraction(30000, 1001), size=SMALL, x264_preset="medium", gop=60, seed=7),
    "short_dissolve_long_fade": VideoSpec(
        duration_s=9.0, cuts_s=(7.9,),
        transitions=(Transition(2.0, "dissolve", 0.4), Transition(4.8, "fade", 1.6)),
        fps=25, size=SMALL, seed=8),
}


def random_edit(seed: int, duration_s: float = 10.0) -> VideoSpec:
    """An edit with shot changes at irregular times: hard cuts, fades and dissolves of 0.4-1.6 s,
    camera pans (sweeping back and forth) and object motion of random speed, and flashes away
    from the shot changes, at 24-50 fps."""
    rng = np.random.default_rng(seed)
    t, cuts, transitions = 0.8, [], []
    while True:
        t += rng.uniform(0.7, 2.0)
        if t > duration_s - 1:
            break
        if rng.uniform() < 0.5:
            cuts.append(round(t, 3))
            continue
        length = float(rng.choice([0.4, 0.6, 0.8, 1.2, 1.6]))
        t += length / 2
        if t > duration_s - 1.2:
            break
        transitions.append(Transition(round(t, 3), str(rng.choice(["fade", "dissolve"])), length))
        t += length / 2
    busy = [(c - 0.3, c + 0.3) for c in cuts]
    busy += [(x.time_s - x.length_s / 2 - 0.3, x.time_s + x.length_s / 2 + 0.3) for x in transitions]
    flashes = [float(f) for f in rng.uniform(0.5, duration_s - 0.5, size=int(rng.integers(0, 3)))
               if not any(a <= f <= b for a, b in busy)]
    return VideoSpec(duration_s=duration_s, cuts_s=tuple(cuts), transitions=tuple(transitions),
                     fps=int(rng.choice([24, 25, 30, 50])), size=SMALL, pan=float(rng.choice([0, 0, 3, 6])),
                     pan_mode="bounce", motion=float(rng.choice([1, 3, 8])), flashes_s=tuple(flashes), seed=seed)


SUITE.update({f"random_edit_{seed}": random_edit(seed) for seed in range(200, 210)})


def _truth(spec: VideoSpec) -> list[tuple[float, float, str]]:
    """(time, tolerance, kind) for each true shot change."""
    frame = 1.0 / float(spec.fps)
    out = [(c, frame + 1e-6, "hard") for c in spec.cuts_s]
    out += [(t.time_s, t.length_s / 2, t.kind) for t in spec.transitions]
    return sorted(out)


def _match(truth, found: np.ndarray) -> tuple[int, list[float], list[float]]:
    """Greedy one-to-one matching by distance. Returns (matches, missed times, spurious times)."""
    pairs = sorted((abs(f - t), i, j) for i, (t, tol, _) in enumerate(truth) for j, f in enumerate(found)
                   if abs(f - t) <= tol)
    used_t, used_f = set(), set()
    for _, i, j in pairs:
        if i not in used_t and j not in used_f:
            used_t.add(i)
            used_f.add(j)
    missed = [truth[i][0] for i in range(len(truth)) if i not in used_t]
    spurious = [float(found[j]) for j in range(len(found)) if j not in used_f]
    return len(used_t), missed, spurious


@pytest.fixture(scope="module")
def suite_results(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cut_suite")
    results = {}
    for name, spec in SUITE.items():
        path = make_video(folder / f"{name}.mp4", spec)
        results[name] = (spec, analyze_file(path))
    return results


def test_cut_detection_f1_over_the_suite(suite_results):
    tp = fp = fn = 0
    report = []
    for name, (spec, analysis) in suite_results.items():
        truth = _truth(spec)
        m, missed, spurious = _match(truth, analysis.cuts_s)
        tp, fn, fp = tp + m, fn + len(missed), fp + len(spurious)
        if missed or spurious:
            report.append(f"{name}: missed {missed}, spurious {spurious}")
    precision, recall = tp / max(1, tp + fp), tp / max(1, tp + fn)
    f1 = 2 * precision * recall / max(1e-9, precision + recall)
    print(f"cut detection: precision {precision:.3f}, recall {recall:.3f}, F1 {f1:.3f} ({tp} of {tp + fn})")
    assert f1 >= 0.95, f"F1 {f1:.3f} (precision {precision:.3f}, recall {recall:.3f}): " + "; ".join(report)


def test_hard_cuts_land_on_the_exact_source_frame(suite_results):
    checked = 0
    for name, (spec, analysis) in suite_results.items():
        fps = float(spec.fps)
        hard = analysis.cuts_s[np.array([k == "hard" for k in analysis.cut_kinds], bool)]
        for c in spec.cuts_s:
            first_new_frame = math.ceil(c * fps - 1e-9) / fps  # the picture changes at this frame
            nearest = hard[np.argmin(np.abs(hard - c))] if len(hard) else np.inf
            assert abs(nearest - first_new_frame) < 0.5 / fps, \
                f"{name}: cut at {c} s found at {nearest} s; its first new frame is at {first_new_frame:.4f} s"
            assert abs(nearest - c) <= 1.0 / fps + 1e-9
            checked += 1
    assert checked == sum(len(s.cuts_s) for s in SUITE.values())


def test_transitions_are_classified_and_centred(suite_results):
    found = right_kind = total = 0
    misses = []
    for name, (spec, analysis) in suite_results.items():
        for tr in spec.transitions:
            total += 1
            d = np.abs(analysis.cuts_s - tr.time_s)
            j = int(np.argmin(d)) if len(d) else -1
            if j < 0 or d[j] > tr.length_s / 2:
                misses.append(f"{name}: {tr.kind} at {tr.time_s}")
                continue
            found += 1
            right_kind += analysis.cut_kinds[j] == tr.kind
            if analysis.cut_kinds[j] != tr.kind:
                misses.append(f"{name}: {tr.kind} at {tr.time_s} read as {analysis.cut_kinds[j]}")
    print(f"transitions: {found} of {total} found, {right_kind} of them with the right kind")
    assert total >= 20
    assert found >= 0.9 * total and right_kind >= 0.9 * found, "; ".join(misses)


def test_motion_curve_tells_fast_from_calm(suite_results):
    calm = suite_results["hard_cuts"][1].motion
    pan = suite_results["fast_pan"][1].motion
    fast = suite_results["fast_motion"][1].motion
    assert np.median(pan) > 2 * np.median(calm) and np.median(fast) > 1.5 * np.median(calm)
    for _, a in suite_results.values():
        assert a.motion.min() >= 0 and a.motion.max() <= 1
        assert (len(a.times_s) == len(a.motion) == len(a.brightness) == len(a.pace)
                == math.ceil(a.duration_s * 10 - 1e-9))


def test_visual_beats_include_cuts_and_respect_spacing(suite_results):
    for name, (_spec, a) in suite_results.items():
        assert np.all(np.diff(a.visual_beats_s) >= 0.25 - 1e-9), name
        for c in a.cuts_s:
            assert np.min(np.abs(a.visual_beats_s - c)) < 1e-6, f"{name}: cut {c} is not a visual beat"
        assert np.all((a.visual_beat_strength > 0) & (a.visual_beat_strength <= 1))
    # A fast-moving picture has motion peaks of its own besides the cuts.
    fast = suite_results["fast_motion"][1]
    assert len(fast.visual_beats_s) > len(fast.cuts_s) + 3
