"""The clip's own sound under the music in preview.mp4: the editor hears the duck in context.

The original audio is decoded from the same container time the preview's picture starts at,
resampled to the mix's rate and layout, and added to each mix frame as it is encoded (never
whole in memory). At its own level, as it will sit on the timeline; the sum is kept within full
scale. A clip without sound, or whose sound cannot be decoded, leaves the music alone.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from fractions import Fraction

import numpy as np


class SourceSound:
    """`take(n)` -> (channels, n) float32: the clip's sound from container time `start_s` onward,
    zeros once it ends (or when there is none)."""

    def __init__(self, path: str | os.PathLike, start_s: float, rate: int, layout: str, channels: int):
        import av

        self.channels = channels
        self._buffer = np.zeros((channels, 0), np.float32)
        self._frames: Iterator | None = None
        try:
            self._container = av.open(str(path))
        except (av.FFmpegError, OSError):
            self._container = None
            return
        if not self._container.streams.audio:
            self._container.close()
            self._container = None
            return
        stream = self._container.streams.audio[0]
        if start_s > 1.0:
            try:
                self._container.seek(int((start_s - 0.5) / stream.time_base), stream=stream, backward=True)
            except av.FFmpegError:
                self._container.seek(0)
        self._resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        self._rate = rate
        self._start_s = start_s
        self._frames = self._decode(stream)

    def _decode(self, stream) -> Iterator[np.ndarray]:
        import av

        skip = None  # samples before the picture's start still to drop (negative: silence to add)
        try:
            for frame in self._container.decode(stream):
                if skip is None:
                    t = float(frame.time) if frame.time is not None else 0.0
                    skip = int(round((self._start_s - t) * self._rate))
                    if skip < 0:  # the sound starts after the picture
                        yield np.zeros((self.channels, -skip), np.float32)
                        skip = 0
                for out in self._resampler.resample(frame):
                    x = out.to_ndarray().astype(np.float32, copy=False)  # (ch, n)
                    if skip:
                        dropped = min(skip, x.shape[1])
                        x, skip = x[:, dropped:], skip - dropped
                    if x.shape[1]:
                        yield x
        except av.FFmpegError:
            return  # damaged sound: the music plays on alone from here

    def take(self, n: int) -> np.ndarray:
        while self._frames is not None and self._buffer.shape[1] < n:
            x = next(self._frames, None)
            if x is None:
                self._frames = None
                break
            self._buffer = np.concatenate([self._buffer, x[: self.channels]], axis=1)
        out = self._buffer[:, :n]
        self._buffer = self._buffer[:, n:]
        if out.shape[1] < n:
            out = np.pad(out, ((0, 0), (0, n - out.shape[1])))
        return out

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None


def under_the_music(mix_frames: Iterator, sound: SourceSound, layout: str) -> Iterator:
    """The mix's fltp AudioFrames with the clip's sound added, same pts and length."""
    import av

    try:
        for frame in mix_frames:
            music = frame.to_ndarray().astype(np.float32)  # (ch, n)
            both = np.clip(music + sound.take(music.shape[1]), -1.0, 1.0)
            out = av.AudioFrame.from_ndarray(np.ascontiguousarray(both), format="fltp", layout=layout)
            out.sample_rate, out.pts, out.time_base = frame.sample_rate, frame.pts, Fraction(1, frame.sample_rate)
            yield out
    finally:
        sound.close()
