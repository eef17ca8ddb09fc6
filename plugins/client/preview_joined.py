"""preview.mp4 for a segment a stream copy cannot make: several clips joined, or a clip played at
another speed. The picture is re-encoded (H.264) on the segment's own timeline, each clip's frames
placed at its record position (a speed change maps source time linearly, as the analysis does),
black where no clip is; the sound is the mix with each clip's own sound under it at its record
position (left out for a clip played at another speed: it would be pitched).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

CRF = "20"  # H.264 quality for a preview: clean, small enough to pass around
MAX_FPS = Fraction(60)


@dataclass(frozen=True)
class _Placed:
    path: str
    source_in_s: float
    source_out_s: float
    record_start_s: float
    record_end_s: float

    @property
    def speed(self) -> float:
        return (self.source_out_s - self.source_in_s) / max(self.record_end_s - self.record_start_s, 1e-9)


def _video_start_and_length(path: str) -> tuple[float, float, Fraction, tuple[int, int]]:
    """(first picture's container time, picture length in seconds, frame rate, (width, height))."""
    import av

    with av.open(path) as container:
        if not container.streams.video:
            from .preview import PreviewUnsupported

            raise PreviewUnsupported(f"{Path(path).name} has no video stream")
        v = container.streams.video[0]
        start = float(v.start_time * v.time_base) if v.start_time is not None else 0.0
        if v.duration is not None:
            length = float(v.duration * v.time_base)
        elif container.duration is not None:
            length = container.duration / 1_000_000
        else:
            length = 0.0
        rate = Fraction(v.average_rate or v.guessed_rate or 25)
        return start, length, rate, (v.codec_context.width, v.codec_context.height)


def _placed(clips) -> list[_Placed]:
    out, previous_end = [], 0.0
    for c in clips:
        _, length, _, _ = _video_start_and_length(c.path)
        src_in = float(c.source_in_s or 0.0)
        src_out = float(c.source_out_s) if c.source_out_s is not None else length
        start = float(c.record_start_s) if c.record_start_s is not None else previous_end
        end = float(c.record_end_s) if c.record_end_s is not None else start + (src_out - src_in)
        out.append(_Placed(c.path, src_in, src_out, start, end))
        previous_end = end
    return out


class _Frames:
    """The last decoded picture of one clip at or before a source time (decoded forward only)."""

    def __init__(self, path: str, in_s: float, width: int, height: int):
        import av

        self.container = av.open(path)
        stream = self.container.streams.video[0]
        self.t0 = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
        if in_s > 1.0:
            self.container.seek(int((in_s + self.t0 - 1.0) / stream.time_base), stream=stream, backward=True)
        self.frames = self.container.decode(stream)
        self.size = (width, height)
        self.current = None  # (source time, reformatted frame)
        self.upcoming = None

    def at(self, source_s: float):
        while True:
            if self.upcoming is None:
                frame = next(self.frames, None)
                if frame is None:
                    break
                t = float(frame.time) - self.t0 if frame.time is not None else 0.0
                self.upcoming = (t, frame)
            if self.upcoming[0] > source_s + 1e-6 and self.current is not None:
                break
            t, frame = self.upcoming
            self.current = (t, frame.reformat(width=self.size[0], height=self.size[1], format="yuv420p"))
            self.upcoming = None
        return None if self.current is None else self.current[1]

    def close(self) -> None:
        self.container.close()


def make_joined_preview(clips, mix_wav: str | os.PathLike, out_path: str | os.PathLike) -> Path:
    """Write `out_path` (mp4): the segment's clips re-encoded on its timeline, the mix with the
    clips' own sound under it. Appears whole or not at all."""
    import av

    from .preview import _audio_frames, _mix_layout, add_mix_stream, flush, preview_mp4
    from .preview_sound import SourceSound

    placed = _placed(clips)
    _, _, rate_v, (w, h) = _video_start_and_length(placed[0].path)
    fps = min(rate_v, MAX_FPS)
    w, h = w - w % 2, h - h % 2
    rate, layout = _mix_layout(Path(mix_wav))
    channels = len(av.AudioLayout(layout).channels)
    with av.open(str(mix_wav)) as wav:
        duration = wav.streams.audio[0].frames / rate if wav.streams.audio[0].frames else placed[-1].record_end_s
    decoders: dict[int, _Frames] = {}
    sounds: dict[int, SourceSound] = {}
    try:
        with preview_mp4(Path(out_path)) as out:
            vout = out.add_stream("libx264", rate=fps, options={"crf": CRF, "preset": "veryfast"})
            vout.width, vout.height, vout.pix_fmt = w, h, "yuv420p"
            aout = add_mix_stream(out, rate, layout)
            audio = _audio_frames(Path(mix_wav), 0.0)
            black = av.VideoFrame.from_ndarray(np.zeros((h, w, 3), np.uint8), format="rgb24").reformat(
                format="yuv420p")

            def sound_of(i: int, p: _Placed) -> SourceSound | None:
                if abs(p.speed - 1.0) > 1e-3:
                    return None  # a speed change would pitch the sound: the music alone there
                if i not in sounds:
                    start = p.source_in_s + _video_start_and_length(p.path)[0]
                    sounds[i] = SourceSound(p.path, start, rate, layout, channels)
                return sounds[i]

            def encode_audio(until_s: float | None) -> None:
                nonlocal audio
                for frame in audio:
                    music = frame.to_ndarray().astype(np.float32)  # (ch, n)
                    a = int(frame.pts)
                    n = music.shape[1]
                    for i, p in enumerate(placed):  # each clip's sound where it plays
                        s0, s1 = max(a, round(p.record_start_s * rate)), min(a + n, round(p.record_end_s * rate))
                        sound = sound_of(i, p) if s1 > s0 else None
                        if sound is not None:
                            music[:, s0 - a : s1 - a] += sound.take(s1 - s0)
                    mixed = av.AudioFrame.from_ndarray(np.ascontiguousarray(np.clip(music, -1, 1)), format="fltp",
                                                       layout=layout)
                    mixed.sample_rate, mixed.pts, mixed.time_base = rate, a, Fraction(1, rate)
                    for packet in aout.encode(mixed):
                        out.mux(packet)
                    if until_s is not None and (a + n) / rate >= until_s:
                        return

            for k in range(int(round(duration * fps))):
                t = k / fps
                picture = black
                for i, p in enumerate(placed):
                    if p.record_start_s <= t < p.record_end_s:
                        if i not in decoders:
                            decoders[i] = _Frames(p.path, p.source_in_s, w, h)
                        found = decoders[i].at(p.source_in_s + (t - p.record_start_s) * p.speed)
                        picture = found if found is not None else black
                        break
                frame = av.VideoFrame.from_ndarray(picture.to_ndarray(), format="yuv420p")
                frame.pts, frame.time_base = k, Fraction(1, 1) / fps
                for packet in vout.encode(frame):
                    out.mux(packet)
                encode_audio(float(t))
            flush(vout, out)
            encode_audio(None)
            flush(aout, out)
    finally:
        for d in decoders.values():
            d.close()
        for s in sounds.values():
            s.close()
    return Path(out_path)
