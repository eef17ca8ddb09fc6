"""Camera clips with a start timecode: a test video remuxed (streams copied) with a `timecode` tag
on its picture stream, which the mov/mp4 muxer writes as a tmcd track, as cameras do."""

from __future__ import annotations

from pathlib import Path

import av


def with_timecode(source: str | Path, target: str | Path, timecode: str) -> Path:
    """Copy `source`'s streams into `target` (mov or mp4) starting at SMPTE `timecode` "HH:MM:SS:FF"."""
    with av.open(str(source)) as src, av.open(str(target), "w") as out:
        streams = {}
        for stream in src.streams:
            streams[stream.index] = copy = out.add_stream_from_template(stream)
            if stream.type == "video":
                copy.metadata["timecode"] = timecode
        for packet in src.demux():
            if packet.dts is None:  # the demuxer's end-of-stream marker: nothing to copy
                continue
            packet.stream = streams[packet.stream.index]
            out.mux(packet)
    return Path(target)


def timecode_s(timecode: str, fps: float) -> float:
    """Seconds since midnight of a non-drop SMPTE timecode at an integer rate (what the tests write)."""
    h, m, s, f = (int(p) for p in timecode.split(":"))
    return (h * 60 + m) * 60 + s + f / fps
