"""Coarse then fine on HEVC: the packet table reads HEVC's own coding types (its NAL unit types
say which frames are references), the decoder skips the others away from possible cuts, and
every cut still lands on its exact frame; a hand-held move gives none.

The clips are made by the test: drawn and encoded to H.264 by the shared helpers, then encoded
again with libx265 (B-frames, a long GOP with no scene-cut keyframes, so cuts fall in the middle
of GOPs), in MP4 (length-prefixed NAL units), MPEG-TS (start codes) and, 10-bit, in MOV.
"""

from __future__ import annotations

import math
from pathlib import Path

import av
import editorial_clips as clips
import numpy as np
import pytest

from scorecut.models.analysis import analyze as analyze_module
from scorecut.models.analysis import analyze_file
from scorecut.models.analysis.coarse import _is_reference, dense_windows, scan_packets
from scorecut.models.analysis.decode import DecodeOptions, iter_decoded
from tests.helpers.videos import Transition, VideoSpec, make_video

pytestmark = pytest.mark.skipif("libx265" not in av.codecs_available, reason="PyAV's FFmpeg has no libx265")

FPS = 30
CUTS = (1.37, 2.9, 4.05, 6.61, 9.3)
DISSOLVE = Transition(7.9, "dissolve", 1.0)


def to_hevc(src: Path, dst: Path, gop: int = 250, pix_fmt: str = "yuv420p") -> Path:
    """Encode every frame of `src` again with libx265 into `dst` (container from the suffix),
    timestamps kept. No scene-cut keyframes: a cut must be found inside a GOP."""
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        vin = inp.streams.video[0]
        stream = out.add_stream("libx265", rate=vin.average_rate)
        stream.width, stream.height, stream.pix_fmt = vin.width, vin.height, pix_fmt
        stream.options = {"preset": "fast", "crf": "22",
                          "x265-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=4:log-level=error"}
        for frame in inp.decode(vin):
            picture = av.VideoFrame.from_ndarray(frame.to_ndarray(format="rgb24"), format="rgb24").reformat(
                format=pix_fmt)
            picture.pts, picture.time_base = frame.pts, frame.time_base
            for packet in stream.encode(picture):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return dst


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("hevc")


@pytest.fixture(scope="module", params=["mp4", "ts", "mov"])
def edit(request, folder):
    """MP4 (length-prefixed NAL units), MPEG-TS (start codes), and a phone's 10-bit HEVC in MOV."""
    spec = VideoSpec(duration_s=11.0, cuts_s=CUTS, transitions=(DISSOLVE,), fps=FPS, size=(320, 180),
                     motion=2.0, gop=30, seed=12)
    source = make_video(folder / f"source_{request.param}.mp4", spec)
    pix_fmt = "yuv420p10le" if request.param == "mov" else "yuv420p"
    return to_hevc(source, folder / f"edit.{request.param}", pix_fmt=pix_fmt)


def _full_decode_analysis(path):
    original = analyze_module.DecodeOptions
    analyze_module.DecodeOptions = lambda: DecodeOptions(coarse=False)
    try:
        return analyze_file(path)
    finally:
        analyze_module.DecodeOptions = original


def test_the_packet_table_reads_hevc_coding_types(edit):
    with av.open(str(edit)) as c:
        video = c.streams.video[0]
        assert video.codec_context.name == "hevc"
        assert video.format.name == ("yuv420p10le" if edit.suffix == ".mov" else "yuv420p")
    table = scan_packets(str(edit), 0.0, None)
    assert table is not None and len(table.times_s) == 11 * FPS
    assert np.all(table.kind >= 100)  # every packet's first slice NAL unit was read
    ref = _is_reference(table.kind)
    assert 0.2 < ref.mean() < 0.8  # x265's B-frames: some are references, many are not
    assert not np.array_equal(table.decode_order, np.arange(len(table.times_s)))  # B-frames reorder


def test_coarse_decode_skips_non_reference_frames_outside_the_windows(edit):
    windows = dense_windows(scan_packets(str(edit), 0.0, None))
    full = [t for t, _ in iter_decoded(str(edit), 0.0, None)]
    coarse = [t for t, _ in iter_decoded(str(edit), 0.0, None, dense=windows)]
    assert len(full) == 11 * FPS
    assert set(coarse) <= set(full) and len(coarse) < 0.9 * len(full)
    inside = [t for t in full if any(a <= t <= b for a, b in windows)]
    assert set(inside) <= set(coarse)


def test_hevc_cuts_land_on_their_exact_frames(edit, monkeypatch):
    refined = []
    original = analyze_module.refine_cut
    monkeypatch.setattr(analyze_module, "refine_cut", lambda *a, **k: refined.append(a) or original(*a, **k))
    coarse = analyze_file(edit)
    assert refined == []  # the packet table's windows held every cut: nothing decoded twice
    hard = coarse.cuts_s[[k == "hard" for k in coarse.cut_kinds]]
    assert len(hard) == len(CUTS), (coarse.cuts_s, coarse.cut_kinds)
    for c in CUTS:
        first_new = math.ceil(c * FPS - 1e-9) / FPS
        assert np.min(np.abs(hard - first_new)) < 0.5 / FPS, (c, hard)
    j = int(np.argmin(np.abs(coarse.cuts_s - DISSOLVE.time_s)))
    assert coarse.cut_kinds[j] == "dissolve" and abs(coarse.cuts_s[j] - DISSOLVE.time_s) <= 2 / FPS
    full = _full_decode_analysis(edit)
    assert full.cut_kinds == coarse.cut_kinds
    assert np.allclose(full.cuts_s[[k == "hard" for k in full.cut_kinds]], hard, atol=1e-6)


def test_a_cut_between_decoded_hevc_frames_is_placed_by_decoding_its_stretch(edit, monkeypatch):
    monkeypatch.setattr(analyze_module, "dense_windows", lambda table: [])
    a = analyze_file(edit)
    hard = a.cuts_s[[k == "hard" for k in a.cut_kinds]]
    assert len(hard) == len(CUTS)
    for c in CUTS:
        assert np.min(np.abs(hard - math.ceil(c * FPS - 1e-9) / FPS)) < 0.5 / FPS, (c, hard)


def test_a_hand_held_move_in_hevc_is_no_cut(folder):
    path = to_hevc(clips.handheld_walk(folder / "walk_h264.mp4"), folder / "walk.mp4")
    a = analyze_file(path)
    assert len(a.cuts_s) == 0, list(zip(a.cuts_s, a.cut_kinds, a.cut_confidence, strict=True))
    assert a.motion.mean() > 0.3  # it moves, and the curve saw it (a still shot reads near 0)
