"""What a media file holds, checked up front so bad media is refused with a useful message."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from scorecut.v1 import media_timecode_s

from ..interface import MediaError

_VFR_TOLERANCE = 0.02  # relative spread of frame durations above which we call the rate variable
_PROBE_FRAMES = 48  # packets whose timestamps sample the frame spacing (variable rate check)


@dataclass(frozen=True)
class MediaInfo:
    """A media file's video facts. Times in seconds from the first video frame."""

    duration_s: float
    fps: float  # average frame rate (frames per second)
    width: int
    height: int
    has_video: bool
    has_audio: bool
    video_codec: str
    frame_count_estimate: int
    variable_frame_rate: bool
    start_timecode_s: float | None = None  # the file's start timecode, seconds since midnight; None: none


def _name(path: Path) -> str:
    return path.name or str(path)


def open_media(path: str | os.PathLike):
    """av.open with the failures a person meets (missing, empty, unreadable, not media) as MediaError."""
    import av

    p = Path(path)
    if not p.exists():
        raise MediaError(f"{p}: no such file; check the path (and that the drive is mounted)")
    if p.is_dir():
        raise MediaError(f"{p}: is a folder, not a video file; pass a video file")
    if p.stat().st_size == 0:
        raise MediaError(f"{_name(p)}: the file is empty (0 bytes); re-export or copy it again")
    try:
        return av.open(str(p))
    except PermissionError:
        raise MediaError(f"{_name(p)}: cannot read the file (permission denied); check its permissions") from None
    except (av.FFmpegError, UnicodeDecodeError, OSError) as exc:
        if _looks_like_media(p):
            raise MediaError(
                f"{_name(p)}: looks like a video file but cannot be read ({_short(exc)}); it is probably "
                "truncated or corrupt (an unfinished copy or export): copy or export it again"
            ) from None
        raise MediaError(
            f"{_name(p)}: not a video file ({_short(exc)}); "
            "pass a video such as .mp4, .mov, .mkv or .webm"
        ) from None


# Leading bytes of the containers people hand us: (offset, magic).
_MAGIC = ((4, b"ftyp"), (4, b"moov"), (4, b"mdat"), (4, b"free"), (4, b"wide"), (4, b"skip"),
          (0, b"\x1a\x45\xdf\xa3"), (0, b"RIFF"), (0, b"OggS"), (0, b"FLV"), (0, b"\x00\x00\x01\xba"),
          (0, b"\x30\x26\xb2\x75"))


def _looks_like_media(p: Path) -> bool:
    """Whether the file starts like a media container (so a failure to open means damage)."""
    try:
        with open(p, "rb") as f:
            head = f.read(16)
    except OSError:
        return False
    return any(head[o : o + len(m)] == m for o, m in _MAGIC)


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    # FFmpeg errors repeat the path; keep the reason only.
    return text.split(":", 1)[0] if "] " not in text else text.rsplit("] ", 1)[-1].split(":")[0]


def picture_stream(container):
    """The first video stream that is moving pictures (not an audio file's cover art), or None."""
    import av

    for stream in container.streams.video:
        if not (stream.disposition & av.stream.Disposition.attached_pic):
            return stream
    return None


def probe_media(path: str | os.PathLike) -> MediaInfo:
    """Open `path`, check it has a decodable video stream of non-zero length, and describe it.

    Raises MediaError, with what to do, for a missing file, something that is not media, a
    truncated or corrupt file, a file with no video (audio only) and a zero-length video.
    """
    import av

    p = Path(path)
    container = open_media(p)
    try:
        stream = picture_stream(container)
        if stream is None:
            what = "an audio-only file" if container.streams.audio else "a file with no video stream"
            if container.streams.video and container.streams.audio:
                what = "an audio-only file (its only picture is cover art)"
            raise MediaError(f"{_name(p)}: {what}; Scorecut scores pictures, pass a video file")
        tb = float(stream.time_base) if stream.time_base else 1.0 / 90_000
        # Frame spacing from packet timestamps (no decoding), then one decoded frame as proof
        # that the stream decodes. Packets are read from the start again for the decode.
        times: list[float] = []
        try:
            for packet in container.demux(stream):
                if packet.pts is not None:
                    times.append(packet.pts * tb)
                if len(times) >= _PROBE_FRAMES:
                    break
            container.seek(0, stream=stream) if times else None
        except (av.FFmpegError, EOFError):
            pass
        decoded = 0
        error = None
        try:
            for frame in container.decode(stream):
                decoded += 1
                if not times and frame.pts is not None:
                    times.append(frame.pts * tb)
                break
        except (av.FFmpegError, EOFError) as exc:
            error = exc
        if not decoded:
            if error is not None or times:
                raise MediaError(
                    f"{_name(p)}: the video stream cannot be decoded ({_short(error) if error else 'no picture'}); "
                    "the file may be truncated or corrupt: re-export or copy it again"
                ) from None
            raise MediaError(f"{_name(p)}: the video has no frames (zero length); pass a video with pictures")
        start_pts = stream.start_time
        if start_pts is None:
            start_pts = round(min(times) / tb)
        t0 = start_pts * tb

        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 0.0
        # Packets come in decode order: B-frames shown before the last packets read may still be
        # unread, so frame spacing is taken only below a time every later packet is past.
        settled = sorted(times)
        if len(times) >= _PROBE_FRAMES:
            horizon = min(times[-8:])
            settled = [t for t in settled if t <= horizon]
        diffs = sorted(b - a for a, b in zip(settled, settled[1:], strict=False) if b > a)
        if fps <= 0 and diffs:
            fps = 1.0 / diffs[len(diffs) // 2]
        vfr = bool(diffs) and (diffs[-1] - diffs[0]) > _VFR_TOLERANCE * diffs[len(diffs) // 2] + tb

        duration = 0.0
        if stream.duration is not None and stream.duration > 0:
            duration = float(stream.duration * tb)
        elif container.duration is not None and container.duration > 0:
            duration = container.duration / 1_000_000 - max(0.0, t0 - (container.start_time or 0) / 1e6)
        if len(times) < _PROBE_FRAMES and fps > 0:
            # The whole stream was seen: its length is known exactly, unless the file was cut
            # short of what its header says (then what is read is a truncated file's first part).
            said = duration
            duration = max(times) - t0 + 1.0 / fps
            if said > duration + max(0.5, 0.1 * said):
                raise MediaError(
                    f"{_name(p)}: the file says the video lasts {said:.2f} s but it stops at {duration:.2f} s; it "
                    "is probably truncated (an unfinished copy or export): copy or export it again"
                )
        if duration <= 0:
            raise MediaError(f"{_name(p)}: the video has zero length; pass a video with pictures")
        if len(times) >= _PROBE_FRAMES:
            real_end = _last_packet_end(container, stream, t0, duration, fps)
            if real_end is None or real_end < duration - max(0.5, 0.1 * duration):
                stops = "its last seconds cannot be read" if real_end is None else f"it stops at {real_end:.2f} s"
                raise MediaError(
                    f"{_name(p)}: the file says the video lasts {duration:.2f} s but {stops}; it is "
                    "probably truncated (an unfinished copy or export): copy or export it again"
                )
        frames = int(stream.frames) if stream.frames else int(round(duration * fps))
        return MediaInfo(
            duration_s=float(duration),
            fps=float(fps),
            width=int(stream.codec_context.width),
            height=int(stream.codec_context.height),
            has_video=True,
            has_audio=bool(container.streams.audio),
            video_codec=stream.codec_context.name,
            frame_count_estimate=max(1, frames),
            variable_frame_rate=bool(vfr) or (stream.average_rate is not None and stream.base_rate is not None
                                              and abs(float(stream.average_rate) - float(stream.base_rate)) >
                                              _VFR_TOLERANCE * float(stream.base_rate)),
            start_timecode_s=media_timecode_s(container, stream, fps),
        )
    finally:
        container.close()


def _last_packet_end(container, stream, t0: float, duration: float, fps: float) -> float | None:
    """Media time where the video packets really end (reads the last seconds, decodes nothing).

    None when nothing can be read there (the index points past the end of a truncated file).
    """
    import av

    tb = float(stream.time_base)
    try:
        container.seek(int((t0 + max(0.0, duration - 3.0)) / tb), stream=stream, backward=True)
        last = None
        for packet in container.demux(stream):
            if packet.pts is not None:
                end = packet.pts * tb - t0 + (1.0 / fps if fps > 0 else 0.0)
                last = end if last is None else max(last, end)
        return last
    except (av.FFmpegError, EOFError, OSError):
        return None  # reading the end failed: as good as missing
