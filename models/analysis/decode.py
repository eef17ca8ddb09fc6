"""Decoding for analysis: exact in/out trimming, small frames made by swscale, 16 kHz mono audio.

Frames are reduced inside PyAV (swscale) to a few thousand pixels, so full-resolution pictures
never reach numpy. The reduction is two steps with one cached scaler each: a cheap bilinear
pass to about 192 pixels wide (reading a fraction of the source pixels), then an area average
to the analysis size (anti-aliased, so motion is not mistaken for shimmer). A single area pass
from 1080p costs as much as decoding the frame. The decoder is told to skip the in-loop
deblocking filter, which the analysis cannot see at that size. Media time 0 is the first frame
of the video stream.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from ..interface import MediaError, check_cancelled

AUDIO_RATE = 16_000  # Hz: enough for speech cues, cheap to decode and analyse


@dataclass(frozen=True)
class DecodeOptions:
    width: int = 64  # analysis frame width in pixels; height follows the aspect ratio
    prescale_width: int = 192  # first, cheap bilinear step (only when the source is wider than 2x this)
    skip_loop_filter: bool = True  # deblocking only smooths 8x8 block edges: invisible at 64 px
    threads: int = 0  # decoder threads; 0 = FFmpeg's choice (one per core, and one more)
    coarse: bool = True  # the analysis skips non-reference frames away from possible cuts (coarse.py)
    device: str = "cpu"  # "cuda": decode on the GPU (NVDEC) where PyAV's FFmpeg and the machine allow
    # it, on the CPU otherwise (see open_pictures)


DEVICES = ("cpu", "cuda")  # what may decode the pictures


@dataclass(frozen=True)
class DecoderInUse:
    """What decoded a clip's pictures, and why when it is not what was asked."""

    name: str  # "cpu" or "cuda"
    note: str = ""  # "" when the request was met; otherwise why the CPU decoded instead


def open_pictures(path: str, device: str = "cpu"):
    """Open `path` to decode its pictures on `device` -> (container, DecoderInUse).

    "cuda" asks FFmpeg for an NVDEC decoder on the default CUDA device. When the build, the
    machine or the codec cannot give one (no driver, no GPU, no NVDEC for this codec), the file
    is opened for the CPU instead and the note says why. Both decode the same frames (NVDEC
    also applies the deblocking filter the CPU path skips, invisible at the analysis size), so
    cuts should not depend on it; only the fall-back has been tested (no GPU here). Bad media
    raises MediaError as for the CPU.
    """
    from .probe import open_media

    if device not in DEVICES:
        raise ValueError(f"the picture decoder must be one of {', '.join(DEVICES)}, not {device!r}")
    if device == "cpu":
        return open_media(path), DecoderInUse("cpu")
    from av.codec.hwaccel import HWAccel

    # allow_software_fallback: a stream NVDEC rejects after all (a profile it lacks) is decoded
    # by FFmpeg in software rather than failing.
    try:
        container = av.open(str(path), hwaccel=HWAccel(device, allow_software_fallback=True))
    except (av.FFmpegError, OSError, NotImplementedError, ValueError) as exc:
        reason = f"{device} decoding is not available here ({type(exc).__name__}: {exc})"
    else:
        from .probe import picture_stream

        stream = picture_stream(container)
        if stream is not None and stream.codec_context.is_hwaccel():
            return container, DecoderInUse(device)
        container.close()
        name = stream.codec_context.name if stream is not None else "this file"
        reason = f"FFmpeg has no {device} decoder for {name}"
    return open_media(path), DecoderInUse("cpu", f"{reason}; the CPU decoded the pictures")


def spare_cores(busy: int) -> int:
    """The cores this process may run on, less `busy` that other threads keep busy (at least 1)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cores = os.cpu_count() or 1
    return max(1, cores - busy)


def _frame_size(width: int, height: int, target_w: int) -> tuple[int, int]:
    w = min(target_w, width) if width else target_w
    h = max(2, int(round(w * height / width / 2)) * 2) if width else target_w * 9 // 16
    return max(2, w - w % 2), h


def _stream_start(stream) -> float:
    tb = float(stream.time_base)
    return stream.start_time * tb if stream.start_time is not None else 0.0


def iter_decoded(path: str, in_s: float, out_s: float | None, *, cancel: threading.Event | None = None,
                 options: DecodeOptions = DecodeOptions(),
                 dense: list[tuple[float, float]] | None = None,
                 on_open: Callable[[DecoderInUse], None] | None = None) -> Iterator[tuple[float, av.VideoFrame]]:
    """Yield (time_s, frame) for each decoded frame with time in [in_s, out_s), in presentation order.

    time_s: seconds of media time (first frame = 0). frame: the decoder's full-size picture.
    dense: None decodes every frame; otherwise only inside these media-time ranges, and reference
    frames alone elsewhere (the decoder skips the frames nothing is predicted from; see coarse.py).
    on_open: called once with the decoder options.device came to (open_pictures).
    """
    from .probe import picture_stream

    container, decoder = open_pictures(path, options.device)
    if on_open is not None:
        on_open(decoder)
    try:
        stream = picture_stream(container)
        if stream is None:
            raise MediaError(f"{path}: has no video stream; pass a video file")
        stream.thread_type = "AUTO"
        if options.threads:
            stream.thread_count = options.threads
        if options.skip_loop_filter:
            stream.codec_context.options = {"skip_loop_filter": "all"}
        tb = float(stream.time_base)
        t0 = _stream_start(stream)
        eps = 1e-6
        last_t = None
        n = 0
        # Seek to the keyframe at or before the in point; frames before it are decoded and dropped.
        # Should a demuxer land after the in point (imprecise indexes), decode from the start.
        seek_to = in_s if in_s > 0.5 else None
        try:
            while True:
                if seek_to is not None:
                    try:
                        container.seek(int((seek_to + t0) / tb), stream=stream, backward=True, any_frame=False)
                    except av.FFmpegError:
                        container.seek(0, stream=stream)
                        seek_to = None
                overshoot = landed = False
                for frame in _decode(container, stream, dense, tb, t0):
                    landed = True
                    if n % 8 == 0:
                        check_cancelled(cancel)
                    n += 1
                    if frame.pts is None:
                        t = (last_t + 1.0 / float(stream.average_rate or 25)) if last_t is not None else 0.0
                    else:
                        t = frame.pts * tb - t0
                    if last_t is None and seek_to is not None and t > in_s + eps:
                        overshoot = True
                        break
                    if last_t is not None and t <= last_t:
                        continue  # duplicate or out-of-order timestamp: keep presentation order strict
                    if t < in_s - eps:
                        last_t = t
                        continue
                    if out_s is not None and t >= out_s - eps:
                        break
                    last_t = t
                    yield t, frame
                if not overshoot and (landed or seek_to is None):
                    break  # done (a seek that finds no frame at all is retried from the start)
                container.seek(0, stream=stream)
                seek_to = None
        except av.FFmpegError as exc:
            if last_t is None:
                raise MediaError(f"{path}: the video cannot be decoded ({exc}); it may be truncated or "
                                 "corrupt: re-export or copy it again") from None
            # A truncated tail: keep what decoded, as players do.
    finally:
        container.close()


def _decode(container, stream, dense: list[tuple[float, float]] | None, tb: float, t0: float):
    """container.decode(stream), with non-reference frames skipped outside the `dense` ranges.

    The skip is set per packet, before it is sent (frame threads copy it when the packet is
    submitted), from the packet's own presentation time.
    """
    if dense is None:
        yield from container.decode(stream)
        return
    ctx = stream.codec_context
    starts = np.array([a for a, _ in dense])
    ends = np.array([b for _, b in dense])
    for packet in container.demux(stream):
        if packet.pts is not None:
            t = packet.pts * tb - t0
            k = int(np.searchsorted(starts, t, side="right")) - 1
            ctx.skip_frame = "DEFAULT" if k >= 0 and t <= ends[k] else "NONREF"
        yield from stream.decode(packet)


class Thumbnailer:
    """Full-size frames to small RGB arrays: two swscale steps, each with its cached scaler."""

    def __init__(self, options: DecodeOptions = DecodeOptions()):
        self.options = options
        self.first, self.second = VideoReformatter(), VideoReformatter()

    def __call__(self, frame: av.VideoFrame) -> np.ndarray:
        o = self.options
        size = _frame_size(frame.width, frame.height, o.width)
        if frame.width > 2 * o.prescale_width:
            pre = _frame_size(frame.width, frame.height, o.prescale_width)
            frame = self.first.reformat(frame, width=pre[0], height=pre[1], interpolation="FAST_BILINEAR")
        return self.second.reformat(frame, width=size[0], height=size[1], format="rgb24",
                                    interpolation="AREA").to_ndarray()


def iter_video(path: str, in_s: float, out_s: float | None, *, cancel: threading.Event | None = None,
               options: DecodeOptions = DecodeOptions(),
               dense: list[tuple[float, float]] | None = None) -> Iterator[tuple[float, np.ndarray]]:
    """Yield (time_s, rgb) for each frame with time in [in_s, out_s), in presentation order.

    time_s: seconds of media time (first frame = 0). rgb: (h, w, 3) uint8 at options.width.
    """
    thumbnail = Thumbnailer(options)
    for t, frame in iter_decoded(path, in_s, out_s, cancel=cancel, options=options, dense=dense):
        yield t, thumbnail(frame)


def iter_audio(path: str, in_s: float, out_s: float | None, *, cancel: threading.Event | None = None,
               ) -> Iterator[np.ndarray]:
    """Yield float32 mono chunks at AUDIO_RATE covering media time [in_s, out_s); nothing without audio.

    Media time is measured from the video stream's first frame, as for iter_video.
    """
    try:
        container = av.open(str(path))
    except av.FFmpegError:
        return
    try:
        if not container.streams.audio:
            return
        stream = container.streams.audio[0]
        from .probe import picture_stream

        video = picture_stream(container)
        t0 = _stream_start(video) if video is not None else 0.0
        atb = float(stream.time_base) if stream.time_base else 1.0 / AUDIO_RATE
        if in_s > 1.0:
            try:
                container.seek(int((in_s + t0 - 0.5) / atb), stream=stream, backward=True)
            except av.FFmpegError:
                container.seek(0, stream=stream)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=AUDIO_RATE)
        pos = None  # media time of the next resampled sample
        want0 = int(round(in_s * AUDIO_RATE))
        want1 = None if out_s is None else int(round(out_s * AUDIO_RATE))
        emitted = want0
        n = 0
        try:
            for frame in container.decode(stream):
                if n % 16 == 0:
                    check_cancelled(cancel)
                n += 1
                if pos is None:
                    start = frame.pts * atb - t0 if frame.pts is not None else 0.0
                    pos = int(round(start * AUDIO_RATE))
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray().reshape(-1).astype(np.float32, copy=False)
                    a, b = pos, pos + len(chunk)
                    pos = b
                    if b <= emitted:
                        continue
                    if a > emitted:  # a gap in the audio: fill with silence
                        gap = a - emitted if want1 is None else min(a, want1) - emitted
                        if gap > 0:
                            yield np.zeros(gap, np.float32)
                            emitted += gap
                    lo = emitted - a
                    hi = len(chunk) if want1 is None else min(len(chunk), want1 - a)
                    if hi > lo:
                        yield chunk[lo:hi]
                        emitted = a + hi
                    if want1 is not None and emitted >= want1:
                        return
        except av.FFmpegError:
            return  # a damaged audio tail: the speech curve simply ends there
    finally:
        container.close()


_END = object()


def read_ahead(frames: Iterator, depth: int = 6) -> Iterator:
    """`frames`, produced on their own thread up to `depth` items ahead of the consumer.

    The decoder then overlaps with the consumer's scaling and numpy work (FFmpeg, swscale and
    numpy release the GIL for their heavy parts). Items may be full-size pictures: keep `depth`
    small (6 1080p frames are ~19 MB). Errors raised by `frames` are raised here; a consumer
    that stops early stops the producer and closes `frames` on the producer's thread.
    """
    handoff: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in frames:
                if not put((True, item)):
                    break
            else:
                put((True, _END))
        except BaseException as error:  # handed to the consumer, raised there
            put((False, error))
        finally:
            close = getattr(frames, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name="scorecut-decode", daemon=True)
    worker.start()
    try:
        while True:
            ok, item = handoff.get()
            if not ok:
                raise item
            if item is _END:
                return
            yield item
    finally:
        stop.set()
        worker.join()
