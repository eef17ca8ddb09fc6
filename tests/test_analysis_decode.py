"""Decoding for analysis: exact in/out trimming after a seek, small frames, 16 kHz audio."""

from __future__ import annotations

import numpy as np
import pytest

from scorecut.models.analysis.decode import AUDIO_RATE, iter_audio, iter_video
from scorecut.models.interface import MediaError
from tests.helpers.videos import VideoSpec, make_video


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    path = tmp_path_factory.mktemp("decode") / "v.mp4"
    # 1080p-shaped (small) H.264 with B-frames and a long GOP, so in points fall mid-GOP.
    return make_video(path, VideoSpec(duration_s=8.0, fps=30, size=(384, 216), gop=90, x264_preset="medium",
                                      audio="tone"))


@pytest.mark.parametrize("in_s, out_s", [(0.0, 8.0), (1.1, 2.0), (3.3333, 5.01), (5.49, 5.51), (7.5, None)])
def test_frames_are_trimmed_to_the_range(video, in_s, out_s):
    frames = list(iter_video(str(video), in_s, out_s))
    times = np.array([t for t, _ in frames])
    all_times = np.arange(240) / 30
    end = 8.0 if out_s is None else out_s
    expected = all_times[(all_times >= in_s - 1e-6) & (all_times < end - 1e-6)]
    assert len(times) == len(expected) and np.allclose(times, expected, atol=1e-6)
    assert all(rgb.shape == (36, 64, 3) and rgb.dtype == np.uint8 for _, rgb in frames)  # small, not full size


def test_audio_is_16k_mono_trimmed_to_the_range(video):
    chunks = list(iter_audio(str(video), 2.5, 4.0))
    audio = np.concatenate(chunks)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(len(audio) - 1.5 * AUDIO_RATE) <= 1
    # The 220 Hz tone survives the resampling.
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    peak_hz = np.argmax(spectrum) * AUDIO_RATE / len(audio)
    assert abs(peak_hz - 220) < 3


def test_no_audio_track_yields_nothing(tmp_path):
    path = make_video(tmp_path / "mute.mp4", VideoSpec(duration_s=1.0, size=(64, 36)))
    assert list(iter_audio(str(path), 0.0, None)) == []
    assert len(list(iter_video(str(path), 0.0, None))) == 25


@pytest.mark.parametrize("suffix", [".mkv", ".ts", ".mov"])
def test_other_containers_trim_exactly(tmp_path, suffix):
    # MPEG-TS seeks are imprecise (a seek may land past the in point, or nowhere): still exact.
    from scorecut.models.analysis import probe_media

    path = make_video(tmp_path / f"v{suffix}", VideoSpec(duration_s=8.0, fps=25, size=(160, 90), gop=50,
                                                         x264_preset="medium"))
    info = probe_media(path)
    assert info.fps == pytest.approx(25.0) and not info.variable_frame_rate
    assert info.duration_s == pytest.approx(8.0, abs=0.05)
    for in_s, out_s in [(1.1, 2.0), (6.5, None)]:
        times = np.array([t for t, _ in iter_video(str(path), in_s, out_s)])
        grid = np.arange(200) / 25
        expected = grid[(grid >= in_s - 1e-6) & (grid < (8.0 if out_s is None else out_s) - 1e-6)]
        assert len(times) == len(expected) and np.allclose(times, expected, atol=1e-4), (suffix, in_s)


def test_read_ahead_keeps_order_raises_errors_and_closes_early():
    import threading

    from scorecut.models.analysis.decode import read_ahead

    assert list(read_ahead(iter(range(100)), depth=3)) == list(range(100))

    def failing():
        yield 1
        raise MediaError("broken at the second frame")

    with pytest.raises(MediaError, match="second frame"):
        list(read_ahead(failing()))

    closed = threading.Event()

    def endless():
        try:
            n = 0
            while True:
                yield n
                n += 1
        finally:
            closed.set()  # the container would close here

    ahead = read_ahead(endless(), depth=2)
    assert [next(ahead) for _ in range(5)] == [0, 1, 2, 3, 4]
    ahead.close()  # the consumer stops early (an error in its loop, a cancel)
    assert closed.is_set()


def _cuda_decodes(path) -> bool:
    """Whether this machine's PyAV gives an NVDEC decoder for the file (asked of PyAV directly)."""
    import av
    from av.codec.hwaccel import HWAccel

    try:
        with av.open(str(path), hwaccel=HWAccel("cuda", allow_software_fallback=True)) as c:
            return c.streams.video[0].codec_context.is_hwaccel()
    except Exception:
        return False


def test_a_gpu_decode_request_falls_back_to_the_cpu_with_the_same_cuts(tmp_path):
    """Asked to decode on the GPU, the analysis uses NVDEC where there is one; where there is
    none (this machine, unless it has a GPU), the CPU decodes, the cuts are the CPU's to the
    frame and the analysis says which decoder ran and why."""
    from scorecut.models.analysis import analyze_file
    from scorecut.models.analysis.decode import open_pictures
    from scorecut.models.interface import RequestError

    spec = VideoSpec(duration_s=6.0, cuts_s=(1.37, 2.9, 4.41), fps=30, size=(320, 180), motion=2.0,
                     x264_preset="medium", gop=90, seed=4)
    path = make_video(tmp_path / "cuts.mp4", spec)
    cpu = analyze_file(path)
    asked = analyze_file(path, decoder="cuda")
    assert cpu.decoder == "cpu" and cpu.decoder_note == ""
    assert asked.cut_kinds == cpu.cut_kinds and len(cpu.cuts_s) == 3
    if _cuda_decodes(path):
        assert asked.decoder == "cuda" and asked.decoder_note == ""
        assert np.allclose(asked.cuts_s, cpu.cuts_s, atol=1e-6)
    else:
        assert asked.decoder == "cpu"
        assert "cuda decoding is not available here" in asked.decoder_note
        assert "the CPU decoded the pictures" in asked.decoder_note
        assert np.array_equal(asked.cuts_s, cpu.cuts_s) and np.array_equal(asked.motion, cpu.motion)
        container, used = open_pictures(str(path), "cuda")
        container.close()
        assert used.name == "cpu" and used.note == asked.decoder_note
    data = asked.to_json()
    assert data["decoder"] == asked.decoder and data["decoder_note"] == asked.decoder_note
    with pytest.raises(RequestError, match="cpu, cuda"):
        analyze_file(path, decoder="vulkan")


def test_bad_media_asked_of_the_gpu_gets_the_cpu_path_error(tmp_path):
    from scorecut.models.analysis.decode import open_pictures

    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 200)
    with pytest.raises(MediaError, match="copy or export it again"):
        open_pictures(str(bad), "cuda")


def test_a_gpu_decode_that_fails_midway_is_done_again_on_the_cpu(tmp_path, monkeypatch):
    """A GPU decode that opens and then fails (a driver error mid-stream: injected here, as this
    machine has no GPU) costs the job nothing: the clip is decoded again on the CPU, the cuts are
    the CPU's and the note says why. Bad media and cancels are not retried."""
    from scorecut.models.analysis import analyze, analyze_file

    spec = VideoSpec(duration_s=4.0, cuts_s=(1.37, 2.9), fps=30, size=(320, 180), motion=2.0, seed=5)
    path = make_video(tmp_path / "cuts.mp4", spec)
    cpu = analyze_file(path)
    real = analyze._decode_clip

    def gpu_fails(clip, period_src, cancel, report, table=None, device="cpu", used=None):
        if device == "cuda":
            raise RuntimeError("CUDA_ERROR_LAUNCH_FAILED")
        return real(clip, period_src, cancel, report, table, device, used)

    monkeypatch.setattr(analyze, "_decode_clip", gpu_fails)
    asked = analyze_file(path, decoder="cuda")
    assert asked.decoder == "cpu" and "CUDA_ERROR_LAUNCH_FAILED" in asked.decoder_note
    assert np.array_equal(asked.cuts_s, cpu.cuts_s) and np.array_equal(asked.motion, cpu.motion)

    def gpu_bad_media(clip, period_src, cancel, report, table=None, device="cpu", used=None):
        raise MediaError("broken.mp4: copy or export it again")

    monkeypatch.setattr(analyze, "_decode_clip", gpu_bad_media)
    with pytest.raises(MediaError, match="export it again"):
        analyze_file(path, decoder="cuda")
