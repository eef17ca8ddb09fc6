"""Blender, real bpy 5.0.1: Score Range on part of an earlier take replaces only those frames (the
music outside keeps its samples, seams get short fades), the user's named channels keep their
names, a take can be one meta strip, the status bar redraw, online access for remote servers."""

from __future__ import annotations

import wave

import numpy as np
import pytest
from test_blender import bpy45_python, bpy_python, extension_zip, run_driver  # noqa: F401 - the shared fixtures

from tests.helpers.videos import VideoSpec, make_video

pytestmark = pytest.mark.blender

STEMS = ["drums", "bass", "harmony", "melody"]


def read_wav(path) -> tuple[int, np.ndarray]:
    with wave.open(str(path)) as w:
        data = np.frombuffer(w.readframes(w.getnframes()), np.int16).reshape(-1, w.getnchannels())
        return w.getframerate(), data.astype(np.int32)


def tone(path, seconds: float) -> str:
    t = np.arange(int(seconds * 48000)) / 48000
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(48000)
        w.writeframes((0.2 * np.sin(2 * np.pi * 880 * t) * 32767).astype(np.int16).tobytes())
    return str(path)


@pytest.mark.parametrize("blender", ["bpy_python", "bpy45_python"])
def test_sub_range_replaces_only_its_frames(blender, request, extension_zip, tmp_path, server, media_root):  # noqa: F811
    """In Blender 5.0 and 4.5 (bpy from PyPI), each installing the -py311 zip its own way."""
    bpy_python = request.getfixturevalue(blender)  # noqa: F811
    video = make_video(media_root / f"subrange-{blender}.mp4", VideoSpec(6.0, cuts_s=(1.7, 3.9), fps=25, seed=21))
    sub, meta_sub = (51, 101), (111, 131)
    facts = run_driver(bpy_python, "bl_subrange", {
        "zip": str(extension_zip), "video": str(video), "sfx": tone(tmp_path / "door.wav", 0.5),
        "mix1": str(tmp_path / "mix1.wav"), "mix2": str(tmp_path / "mix2.wav"), "sub": sub, "meta_sub": meta_sub,
    }, tmp_path, server.address)
    first_frame, movie_end = facts["movie"]
    end = movie_end - 1 + 1  # the scene range ends on the movie's last frame (inclusive)

    def take_layout(key):
        return sorted((s["stem"], s["channel"], s["start"], s["end"], s["take"]) for s in facts[key]
                      if s["take"] and s["type"] == "SOUND")

    first = take_layout("first")
    assert [(stem, ch, a, b) for stem, ch, a, b, _ in first] == sorted(
        (stem, ch, first_frame, end) for stem, ch in zip(STEMS, (2, 3, 4, 5), strict=False))
    take1 = first[0][4]
    # Channel 3 holds the user's sound effect (after the range): a stem goes there, its name stays.
    assert facts["channels_first"][:5] == ["Picture", "drums", "SFX", "harmony", "melody"]

    second = take_layout("second")
    take2 = next(t for *_, t in second if t != take1)
    for stem, channel in zip(STEMS, (2, 3, 4, 5), strict=False):
        on_channel = [(a, b, t) for s, ch, a, b, t in second if s == stem]
        assert sorted(on_channel) == [(first_frame, sub[0], take1), (sub[0], sub[1], take2), (sub[1], end, take1)]
        assert {ch for s, ch, *_ in second if s == stem} == {channel}  # the earlier take's channel, reused
    assert facts["channels_second"] == facts["channels_first"]

    # Outside the sub-range (and its seam fades) the mixdown is sample for sample the first one.
    rate, mix1 = read_wav(tmp_path / "mix1.wav")
    _, mix2 = read_wav(tmp_path / "mix2.wav")
    n = min(len(mix1), len(mix2))
    mix1, mix2 = mix1[:n], mix2[:n]
    guard = facts["fade_frames"] + 2  # Blender's sound animation reaches about half a frame past its keys

    def at(frame):
        return round((frame - 1) / 25 * rate)  # the scene starts at frame 1

    assert np.abs(mix1[at(first_frame):at(first_frame) + rate // 2]).max() > 0  # there is music
    assert np.array_equal(mix1[: at(sub[0] - guard)], mix2[: at(sub[0] - guard)])
    after = slice(at(sub[1] + guard), at(end))
    assert np.array_equal(mix1[after], mix2[after])
    assert not np.array_equal(mix1[at(sub[0] + guard): at(sub[1] - guard)],
                              mix2[at(sub[0] + guard): at(sub[1] - guard)])
    # The seams are faded: the new take starts from silence, the earlier one ends in it.
    seam = np.abs(mix2[at(sub[0]) - 24: at(sub[0]) + 24]).max()
    assert seam < 0.25 * np.abs(mix2[at(sub[0]) + rate // 5: at(sub[1]) - rate // 5]).max()

    # A take as one meta strip, above; the earlier take around it is cut, not moved.
    metas = [s for s in facts["meta"] if s["type"] == "META"]
    assert len(metas) == 1 and metas[0]["top"] and (metas[0]["start"], metas[0]["end"]) == meta_sub
    inside = [s for s in facts["meta"] if not s["top"] and s["take"] == metas[0]["take"]]
    assert sorted(s["stem"] for s in inside) == sorted(STEMS)
    drums = sorted((s["start"], s["end"]) for s in facts["meta"] if s["stem"] == "drums" and s["take"] == take1)
    assert drums == [(first_frame, sub[0]), (sub[1], meta_sub[0]), (meta_sub[1], end)]

    assert "STATUSBAR" not in facts["screen_areas"] and facts["redraw"]
    assert facts["online_access"] is False
    assert facts["remote"].startswith("Blender's online access is off") and "10.20.30.40:50777" in facts["remote"]
    assert facts["remote_status"][0] is False and "online access is off" in facts["remote_status"][1]
