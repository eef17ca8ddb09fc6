"""Coarse then fine: the analysis decodes reference frames only away from possible cuts, yet
every cut lands on the frame a full decode finds, whatever the encoder's GOP.

Videos are x264 "medium" (B-frames the decoder may skip, as real exports have) with long GOPs
and cuts in the middle of them.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from scorecut.models.analysis import analyze as analyze_module
from scorecut.models.analysis import analyze_file
from scorecut.models.analysis.coarse import dense_windows, scan_packets, suspects
from scorecut.models.analysis.decode import DecodeOptions, iter_decoded
from tests.helpers.videos import Transition, VideoSpec, make_video

CUTS = (1.37, 2.9, 4.05, 6.61, 9.3)


@pytest.fixture(scope="module", params=[250, 60])
def long_gop(request, tmp_path_factory):
    spec = VideoSpec(duration_s=11.0, cuts_s=CUTS, transitions=(Transition(7.9, "dissolve", 1.0),), fps=30,
                     size=(320, 180), motion=2.0, x264_preset="medium", gop=request.param, seed=12)
    return spec, make_video(tmp_path_factory.mktemp("coarse") / f"gop{request.param}.mp4", spec)


def test_packet_table_points_at_every_cut(long_gop):
    spec, path = long_gop
    table = scan_packets(str(path), 0.0, None)
    assert table is not None and len(table.times_s) == round(spec.duration_s * 30)
    assert np.all(np.diff(table.times_s) > 0)
    found = suspects(table)
    for c in CUTS:  # the first reference frame of the new shot is a suspect, a few frames on at most
        assert np.any((found >= c - 1e-6) & (found <= c + 0.12)), (c, found)


def test_every_cut_lies_inside_a_dense_window(long_gop):
    """The last frame of the old shot and the first of the new are both decoded in full, whatever
    the cut's place among the B-frames (a cut just before a B-frame kept as a reference too: the
    window reaches back to the frame the large P-frame is predicted from, not to that B-frame)."""
    _, path = long_gop
    windows = dense_windows(scan_packets(str(path), 0.0, None))
    for c in CUTS:
        first_new = math.ceil(c * 30 - 1e-9) / 30
        assert any(a <= first_new - 1 / 30 + 1e-6 and first_new <= b for a, b in windows), (c, windows)


def test_coarse_decode_skips_frames_outside_the_windows(long_gop):
    spec, path = long_gop
    windows = dense_windows(scan_packets(str(path), 0.0, None))
    covered = sum(b - a for a, b in windows)
    assert covered < 0.6 * spec.duration_s  # this edit is dense: five cuts and a dissolve in 11 s
    full = [t for t, _ in iter_decoded(str(path), 0.0, None)]
    coarse = [t for t, _ in iter_decoded(str(path), 0.0, None, dense=windows)]
    assert len(full) == round(spec.duration_s * 30)
    assert set(coarse) <= set(full) and len(coarse) < 0.85 * len(full)
    inside = [t for t in full if any(a <= t <= b for a, b in windows)]
    assert set(inside) <= set(coarse)  # in the windows: every frame
    gaps = np.diff(coarse)
    assert gaps.max() <= 4.5 / 30  # elsewhere the reference frames keep the curves' resolution


def _full_decode_analysis(path):
    original = analyze_module.DecodeOptions
    analyze_module.DecodeOptions = lambda: DecodeOptions(coarse=False)
    try:
        return analyze_file(path)
    finally:
        analyze_module.DecodeOptions = original


def test_cuts_match_a_full_decode_to_the_frame(long_gop):
    _, path = long_gop
    coarse, full = analyze_file(path), _full_decode_analysis(path)
    assert coarse.cut_kinds == full.cut_kinds
    hard = [i for i, k in enumerate(coarse.cut_kinds) if k == "hard"]
    assert np.allclose(coarse.cuts_s[hard], full.cuts_s[hard], atol=1e-6)
    for c in CUTS:
        first_new = math.ceil(c * 30 - 1e-9) / 30
        assert np.min(np.abs(coarse.cuts_s - first_new)) < 0.5 / 30
    j = int(np.argmin(np.abs(coarse.cuts_s - 7.9)))
    assert coarse.cut_kinds[j] == "dissolve" and abs(coarse.cuts_s[j] - 7.9) <= 2 / 30
    assert np.corrcoef(coarse.motion, full.motion)[0, 1] > 0.95


def test_a_cut_the_packet_sizes_miss_is_placed_by_decoding_its_stretch(long_gop, monkeypatch):
    """With no dense windows at all, every hard cut falls between reference frames; each is
    placed on its exact frame by decoding only that stretch again."""
    _, path = long_gop
    monkeypatch.setattr(analyze_module, "dense_windows", lambda table: [])
    a = analyze_file(path)
    hard = a.cuts_s[[k == "hard" for k in a.cut_kinds]]
    assert len(hard) == len(CUTS)
    for c in CUTS:
        first_new = math.ceil(c * 30 - 1e-9) / 30
        assert np.min(np.abs(hard - first_new)) < 0.5 / 30, (c, hard)


def test_many_missed_cuts_fall_back_to_one_full_decode(long_gop, monkeypatch):
    """Past MAX_REFINES cuts to place again, the clip is decoded once in full instead."""
    _, path = long_gop
    monkeypatch.setattr(analyze_module, "dense_windows", lambda table: [])
    monkeypatch.setattr(analyze_module, "MAX_REFINES", 2)
    refined = []
    original = analyze_module.refine_cut
    monkeypatch.setattr(analyze_module, "refine_cut", lambda *a, **k: refined.append(a) or original(*a, **k))
    a = analyze_file(path)
    assert refined == []  # no stretch decoded again: the whole clip was
    hard = a.cuts_s[[k == "hard" for k in a.cut_kinds]]
    for c in CUTS:
        assert np.min(np.abs(hard - math.ceil(c * 30 - 1e-9) / 30)) < 0.5 / 30
