"""preview.mp4: the video with the scored mix muxed in, its video stream copied, not re-encoded.

Copying keeps the picture bit-exact and makes a preview take a moment, whatever the video's size.
A trimmed clip (in/out inside the media) is cut by stream copy too: the copy must start at a
keyframe, so the preview starts at the last keyframe at or before the in point and the mix is
delayed by the gap (silence until the in point), so music and picture line up exactly as on the
timeline. It ends at the out point (streams with B-frames may show a frame or two more, kept
because earlier frames are decoded from them). A segment of several clips, or a clip at another
speed, cannot be joined by stream copy: its preview is re-encoded (preview_joined.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

from .atomic import atomic_output

AAC_BITRATE = 192_000  # bit/s: transparent enough for judging a mix


class PreviewUnsupported(Exception):
    """No preview can be made for this input; the message says why."""


def _audio_frames(mix_wav: Path, delay_s: float):
    """Yield fltp AudioFrames of the mix, preceded by `delay_s` of silence; pts in samples."""
    import av
    import numpy as np

    with av.open(str(mix_wav)) as wav:
        stream = wav.streams.audio[0]
        rate = stream.rate
        layout = _LAYOUTS.get(stream.channels, stream.layout.name)
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        pts = 0
        silence = int(round(delay_s * rate))
        while silence > 0:
            n = min(silence, 4096)
            frame = av.AudioFrame.from_ndarray(np.zeros((stream.channels, n), np.float32), format="fltp",
                                               layout=layout)
            frame.sample_rate, frame.pts, frame.time_base = rate, pts, Fraction(1, rate)
            pts += n
            silence -= n
            yield frame
        for decoded in wav.decode(stream):
            for frame in resampler.resample(decoded):
                frame.pts, frame.time_base = pts, Fraction(1, rate)
                pts += frame.samples
                yield frame


_LAYOUTS = {1: "mono", 2: "stereo", 3: "2.1", 4: "quad", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}


def _mix_layout(mix_wav: Path) -> tuple[int, str]:
    """(rate, layout name). A plain PCM WAV has no channel mask ("2 channels"): AAC needs a named layout."""
    import av

    with av.open(str(mix_wav)) as wav:
        stream = wav.streams.audio[0]
        return stream.rate, _LAYOUTS.get(stream.channels, stream.layout.name)


@contextmanager
def preview_mp4(path: Path) -> Iterator:
    """An mp4 output container for `path` that appears whole when the block ends (closed, then
    renamed from its temporary name) or not at all when it raises."""
    import av

    with atomic_output(path) as tmp, av.open(str(tmp), "w", format="mp4") as out:
        yield out


def add_mix_stream(out, rate: int, layout: str):
    """The mix's AAC stream on the output container `out` (`rate` Hz, a named channel `layout`)."""
    stream = out.add_stream("aac", rate=rate)
    stream.layout = layout
    stream.bit_rate = AAC_BITRATE
    return stream


def flush(stream, out) -> None:
    """Mux into `out` what `stream`'s encoder still holds: the end of its stream."""
    for packet in stream.encode(None):
        out.mux(packet)


def make_preview(video: str | os.PathLike, mix_wav: str | os.PathLike, out_path: str | os.PathLike, *,
                 source_in_s: float = 0.0, source_out_s: float | None = None, with_sound: bool = True) -> Path:
    """Write `out_path` (mp4): `video`'s video stream copied over [in, out), the mix encoded AAC
    with the clip's own sound under it (`with_sound`; see preview_sound.py).

    Written to a temporary name beside `out_path` and renamed, so it appears whole or not at all.
    Raises PreviewUnsupported when the video's codec cannot go into an mp4 unchanged.
    """
    import av

    video, mix_wav, out_path = Path(video), Path(mix_wav), Path(out_path)
    rate, layout = _mix_layout(mix_wav)
    with av.open(str(video)) as src:
        if not src.streams.video:
            raise PreviewUnsupported(f"{video.name} has no video stream")
        vin = src.streams.video[0]
        tb = vin.time_base
        if source_in_s > 0:
            # Lands on the last keyframe at or before the in point.
            src.seek(int(source_in_s / tb), stream=vin, backward=True, any_frame=False)
        with preview_mp4(out_path) as out:
            try:
                vout = out.add_stream_from_template(vin)
            except (ValueError, av.error.FFmpegError) as e:
                raise PreviewUnsupported(f"the {vin.codec_context.name} video cannot be copied into mp4: {e}") \
                    from None
            aout = add_mix_stream(out, rate, layout)
            aout.codec_context.open()  # before the first mux writes the header with its parameters
            audio = iter(())
            start_pts = None
            next_audio = None  # (time_s, frame) not yet encoded

            def pump_audio(until_s: float | None) -> None:
                nonlocal next_audio
                while True:
                    if next_audio is None:
                        frame = next(audio, None)
                        if frame is None:
                            return
                        next_audio = (frame.pts / frame.sample_rate, frame)
                    if until_s is not None and next_audio[0] > until_s:
                        return
                    for packet in aout.encode(next_audio[1]):
                        out.mux(packet)
                    next_audio = None

            for packet in src.demux(vin):
                if packet.pts is None or packet.size == 0:
                    continue  # demuxer flush packets
                t = float(packet.pts * tb)
                t_dts = float(packet.dts * tb) if packet.dts is not None else t
                if source_out_s is not None and t >= source_out_s and t_dts >= source_out_s:
                    if packet.is_keyframe or t_dts >= source_out_s + 1.0:
                        break
                    continue
                if start_pts is None:
                    start_pts = packet.pts
                    # The audio starts where the timeline's in point shows on screen.
                    audio = _audio_frames(mix_wav, max(0.0, source_in_s - t))
                    if with_sound:  # the clip's sound from the first picture shown
                        from .preview_sound import SourceSound, under_the_music

                        sound = SourceSound(video, t, rate, layout, len(av.AudioLayout(layout).channels))
                        audio = under_the_music(audio, sound, layout)
                packet.pts -= start_pts
                if packet.dts is not None:
                    packet.dts -= start_pts
                pump_audio(float((packet.dts if packet.dts is not None else packet.pts) * tb))
                packet.stream = vout
                out.mux(packet)
            if start_pts is None:
                raise PreviewUnsupported(f"{video.name} has no video frames in the range given")
            pump_audio(None)
            flush(aout, out)
    return out_path


def preview_for_clips(clips, mix_wav: str | os.PathLike, out_path: str | os.PathLike) -> str | None:
    """A preview for a segment of client ClipSpecs: one clip's picture copied, or (several clips,
    another speed) re-encoded on the segment's timeline (preview_joined.py)."""
    clip = clips[0]
    speed_change = False
    if clip.record_end_s is not None and clip.record_start_s is not None and clip.source_out_s is not None:
        record = clip.record_end_s - clip.record_start_s
        speed_change = abs(record - (clip.source_out_s - clip.source_in_s)) > 1e-3
    if len(clips) != 1 or speed_change:
        from .preview_joined import make_joined_preview

        make_joined_preview(clips, mix_wav, out_path)
        return None
    make_preview(clip.path, mix_wav, out_path, source_in_s=clip.source_in_s, source_out_s=clip.source_out_s)
    if clip.source_in_s > 0:
        return ("preview.mp4 starts at the keyframe before the in point (the picture is copied, not "
                "re-encoded); the music starts at the in point")
    return None
