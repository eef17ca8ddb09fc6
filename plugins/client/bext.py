"""The BWF `bext` chunk (EBU Tech 3285 v2) every WAV of a take carries.

Editors' "place at source timecode" (Premiere, Resolve, Avid, Final Cut) reads TimeReference:
the first sample's position in samples since midnight. It is the timeline's start timecode plus
the segment's record start when the front end knows the timeline (Resolve, Blender), else the
first clip's own start timecode (a camera's `timecode` tag) plus its in point, so the stems line
up with the picture they were scored for. Without either it is 0 (midnight).

Standard library only. The server reads the clips' start timecodes when it probes the media and
sends them in the Analysis (clip_media), so the client never opens the media for them; with an older
server they are read here with PyAV when it is there (the `scorecut` command, the watch folder).
"""

from __future__ import annotations

import datetime as dt
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from scorecut.v1 import media_timecode_s

ORIGINATOR = "Scorecut"
DAY_S = 86_400
BEXT_VERSION = 2  # v2: the loudness fields exist (set to "not given")
_LOUDNESS_UNSET = 0x7FFF  # EBU 3285 v2: 0x7FFF = no value


@dataclass(frozen=True)
class BextInfo:
    description: str  # up to 256 ASCII characters
    originator_reference: str  # up to 32: unique per file (the take's request and stem)
    time_reference: int  # samples since midnight of the first sample
    when: dt.datetime  # origination date and time (local): the first clip's modification time
    coding_history: str = ""


def media_start_timecode_s(path: str) -> float | None:
    """The clip's start timecode in seconds since midnight, read from the file here; None when it has
    none or PyAV is not at hand. Only for a server older than Analysis.clip_media, which reads it."""
    try:
        import av
    except ImportError:
        return None
    try:
        with av.open(str(path)) as container:
            video = container.streams.video[0] if container.streams.video else None
            fps = float(video.average_rate or video.guessed_rate or 0) if video is not None else 0.0
            return media_timecode_s(container, video, fps)
    except (av.FFmpegError, OSError, IndexError):
        return None


def source_start_s(clips: Sequence, analysis=None) -> float | None:
    """Seconds since midnight at the segment's first sample by the first clip's own start timecode
    plus its in point; None when unknown. Taken from the server's `analysis` (a scorecut.v1.Analysis
    whose clip_media the probe filled), so the media are not opened again; only an older server's,
    without clip_media, leaves it to be read from the file here."""
    first = clips[0] if clips else None
    if first is None:
        return None
    media = list(analysis.clip_media) if analysis is not None else []
    if len(media) == len(clips):
        tc = media[0].start_timecode_s if media[0].HasField("start_timecode_s") else None
    else:
        tc = media_start_timecode_s(first.path)
    return None if tc is None else tc + float(first.source_in_s or 0.0)


def _ascii(text: str, size: int) -> bytes:
    raw = text.encode("ascii", "replace")[:size]
    return raw + b"\0" * (size - len(raw))


def bext_chunk(info: BextInfo) -> bytes:
    """The whole chunk: b"bext", its size, the 602-byte fixed part and the coding history."""
    history = info.coding_history.encode("ascii", "replace")
    if history and not history.endswith(b"\r\n"):
        history += b"\r\n"
    body = (
        _ascii(info.description, 256)
        + _ascii(ORIGINATOR, 32)
        + _ascii(info.originator_reference, 32)
        + _ascii(info.when.strftime("%Y-%m-%d"), 10)
        + _ascii(info.when.strftime("%H:%M:%S"), 8)
        + struct.pack("<Q", info.time_reference)  # TimeReferenceLow, TimeReferenceHigh
        + struct.pack("<H", BEXT_VERSION)
        + b"\0" * 64  # UMID: none
        + struct.pack("<5H", *([_LOUDNESS_UNSET] * 5))  # loudness value, range, max true peak, momentary, short-term
        + b"\0" * 180  # reserved
        + history
    )
    if len(body) & 1:
        body += b"\0"
    return b"bext" + struct.pack("<I", len(body)) + body


def read_bext(data: bytes) -> dict | None:
    """The fields of a WAV's bext chunk (for checks and tests); None when it has none."""
    i = 12
    while i + 8 <= len(data):
        cid, size = data[i : i + 4], struct.unpack("<I", data[i + 4 : i + 8])[0]
        if cid == b"bext":
            b = data[i + 8 : i + 8 + size]

            def text(a: int, n: int, b: bytes = b) -> str:
                return b[a : a + n].split(b"\0")[0].decode("ascii")

            return {"description": text(0, 256), "originator": text(256, 32),
                    "originator_reference": text(288, 32), "origination_date": text(320, 10),
                    "origination_time": text(330, 8), "time_reference": struct.unpack("<Q", b[338:346])[0],
                    "version": struct.unpack("<H", b[346:348])[0], "coding_history": b[602:].rstrip(b"\0").decode()}
        i += 8 + size + (size & 1)
    return None


class BextSource:
    """The bext chunk of each WAV of one take: the same time reference for every stem (they are
    sample-aligned), the stem's name in the description, a reference unique to take and stem."""

    def __init__(self, name: str, request: dict | None, clips: Sequence, timecode_start_s: float | None):
        import hashlib
        import json

        self.name = name
        self.clips = clips
        self.timecode_start_s = timecode_start_s
        digest = hashlib.sha256(json.dumps(request or {}, sort_keys=True, default=str).encode()).hexdigest()
        self.request_tag = digest[:12]
        self.when = _origination(clips)
        self.analysis = None  # the server's scorecut.v1.Analysis, once it has come
        self._seconds: float | None = None
        self._looked = False

    def use_analysis(self, analysis) -> None:
        """The streamed Analysis: it carries the clips' start timecodes (it comes before any audio)."""
        self.analysis = analysis

    def _start_s(self) -> float | None:
        if self.timecode_start_s is not None:
            return float(self.timecode_start_s)
        if not self._looked:
            self._looked = True
            self._seconds = source_start_s(self.clips, self.analysis)
        return self._seconds

    def chunk(self, stem: str, sample_rate: int) -> bytes:
        start = self._start_s()
        reference = 0 if start is None else int(round((start % DAY_S) * sample_rate))
        names = ", ".join(getattr(c, "name", "") or str(getattr(c, "path", "")).rsplit("/", 1)[-1]
                          for c in self.clips)
        source = "timeline timecode" if self.timecode_start_s is not None else (
            "the clip's start timecode" if start is not None else "no timecode known")
        return bext_chunk(BextInfo(
            description=f"Scorecut {stem} for {self.name}" + (f" ({names})" if names else ""),
            originator_reference=f"SC{self.request_tag}{stem}"[:32],
            time_reference=reference,
            when=self.when,
            coding_history=f"A=PCM,F={sample_rate},T=Scorecut; placed by {source}",
        ))


def _origination(clips: Sequence) -> dt.datetime:
    """The first clip's modification time: the same request gives byte-identical WAVs (their
    sha256 in score.json, cached takes), and the date still says which footage it scored."""
    import os

    try:
        return dt.datetime.fromtimestamp(int(os.stat(clips[0].path).st_mtime))
    except (IndexError, OSError, AttributeError, ValueError):
        return dt.datetime(2000, 1, 1)
