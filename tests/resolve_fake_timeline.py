"""The fake Resolve's timeline: tracks, timeline items, marks, playhead (see resolve_fake.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING

from resolve_api import _ids, _Impl, _rate

if TYPE_CHECKING:  # the fake's root, which imports this module
    from resolve_fake import FakeResolve

MARKER_COLORS = frozenset("Blue Cyan Green Yellow Red Pink Purple Fuchsia Rose Lavender Sky Mint Lemon Sand Cocoa "
                          "Cream".split())
CLIP_COLORS = frozenset("Orange Apricot Yellow Lime Olive Green Teal Navy Blue Purple Violet Pink Tan Beige Brown "
                        "Chocolate".split())
AUDIO_SUBTYPES = frozenset("mono stereo 5.1 5.1film 7.1 7.1film".split()) | {f"adaptive{n}" for n in range(1, 25)}


@dataclass(eq=False)
class TimelineItemImpl(_Impl):
    KIND = "TimelineItem"
    fake: FakeResolve
    name: str
    media: object | None  # MediaPoolItemImpl
    start: int  # absolute timeline frames
    end: int  # exclusive
    source_start: Fraction  # media frames from the file's first frame
    source_end: Fraction  # where a normal-speed item ends; == source_start for a freeze frame
    enabled: bool = True
    uid: str = field(default_factory=lambda: f"item-{next(_ids)}")
    color: str = ""
    linked: tuple = ()  # uids of the items linked with this one
    markers: dict = field(default_factory=dict)  # frames from the item's start -> marker
    # GetSourceEndFrame - GetSourceStartFrame is one more than the played length on about a third
    # of clips (measured on Resolve 21.0); FakeResolve.put gives it to every third item it makes.
    end_slip: int = 0

    def GetName(self) -> str:
        return self.name

    def GetStart(self, subframe_precision=False) -> int:
        return self.start

    def GetEnd(self, subframe_precision=False) -> int:
        return self.end

    def GetLeftOffset(self, subframe_precision=False) -> int:
        # The media frames before the in point: how far the item could be extended to the left.
        value = self.source_start if self.media else 0
        return float(value) if subframe_precision else int(round(value))

    def GetSourceStartFrame(self) -> int:
        return int(round(self.source_start))  # file-relative: no start timecode in it

    def GetSourceEndFrame(self) -> int:
        return int(round(self.source_end)) + self.end_slip

    def GetSourceStartTime(self) -> float:
        # Seconds *including the media's start timecode* (Resolve 21.0 over 167 camera clips).
        if self.media is None:
            return 0.0
        off = self.fake.faults.get("source_time_offset_frames", 0)  # a Start TC that disagrees
        return float((self.media.start_tc_frames() + self.source_start + off) / self.media.fps)

    def GetSourceEndTime(self) -> float:
        if self.media is None:
            return 0.0
        return float((self.media.start_tc_frames() + self.source_end) / self.media.fps)

    def AddMarker(self, frameId, color, name, note, duration, customData="") -> bool:
        # frameId: frames from the item's start; one marker per frame, a marker colour, inside the item.
        frame = int(frameId)
        if color not in MARKER_COLORS or frame in self.markers or not 0 <= frame < self.end - self.start:
            return False
        self.markers[frame] = {"color": color, "duration": int(duration), "note": str(note), "name": str(name),
                               "customData": str(customData)}
        return True

    def SetClipColor(self, color) -> bool:
        if color not in CLIP_COLORS:
            return False
        self.color = str(color)
        return True

    def GetMediaPoolItem(self):
        return self.media

    def GetClipEnabled(self) -> bool:
        return self.enabled


@dataclass(eq=False)
class Track:
    name: str
    subtype: str = ""
    enabled: bool = True
    items: list = field(default_factory=list)


@dataclass(eq=False)
class TimelineImpl(_Impl):
    KIND = "Timeline"
    fake: FakeResolve
    name: str
    fps_text: str
    drop_frame: bool = False
    start_timecode: str = "01:00:00:00"
    tracks: dict = field(default_factory=lambda: {"video": [Track("Video 1")], "audio": [Track("Audio 1", "stereo")]})
    marks: tuple[int, int] | None = None  # (in, out) relative to the start, out inclusive
    playhead: int = 0  # relative to the start
    # frameId (frames from the timeline's start, as GetMarkers keys them) -> {color, duration, note, name, customData}
    markers: dict = field(default_factory=dict)
    puts: int = 0  # items FakeResolve.put has made here
    uid: str = field(default_factory=lambda: f"timeline-{next(_ids)}")

    @property
    def fps(self) -> Fraction:
        return _rate(self.fps_text)

    @property
    def start(self) -> int:
        return _tc_frames(self.start_timecode, self.fps, self.drop_frame)

    def GetName(self) -> str:
        return self.name

    def GetSetting(self, name=None):
        settings = {"timelineFrameRate": self.fps_text, "timelineDropFrameTimecode": "1" if self.drop_frame else "0",
                    "timelineResolutionWidth": "1920", "timelineResolutionHeight": "1080"}
        return dict(settings) if name is None else settings.get(name, "")

    def GetStartFrame(self) -> int:
        return self.start

    def GetEndFrame(self) -> int:
        ends = [i.end for tracks in self.tracks.values() for t in tracks for i in t.items]
        return max(ends, default=self.start)

    def GetTrackCount(self, track_type) -> int:
        return len(self.tracks.get(track_type, []))

    def _track(self, track_type, index) -> Track | None:
        tracks = self.tracks.get(track_type, [])
        return tracks[index - 1] if isinstance(index, int) and 1 <= index <= len(tracks) else None

    def GetItemListInTrack(self, track_type, index) -> list:
        track = self._track(track_type, index)
        return sorted(track.items, key=lambda i: i.start) if track else []

    def GetIsTrackEnabled(self, track_type, index) -> bool:
        track = self._track(track_type, index)
        return bool(track and track.enabled)

    def GetMarkInOut(self) -> dict:
        if self.marks is None:
            return {}
        mark_in, mark_out = self.marks
        return {"video": {"in": mark_in, "out": mark_out}, "audio": {"in": mark_in, "out": mark_out}}

    def GetMarkers(self) -> dict:
        return {frame: dict(info) for frame, info in self.markers.items()}

    def GetCurrentTimecode(self) -> str:
        return _frames_tc(self.start + self.playhead, self.fps, self.drop_frame)

    def AddTrack(self, track_type, sub_type=None) -> bool:
        if track_type not in self.tracks:
            return False
        if track_type == "audio":
            sub_type = sub_type or "mono"
            if sub_type not in AUDIO_SUBTYPES:
                return False
            self.tracks["audio"].append(Track(f"Audio {len(self.tracks['audio']) + 1}", sub_type))
        else:
            self.tracks[track_type].append(Track(f"Video {len(self.tracks[track_type]) + 1}"))
        return True

    def DeleteTrack(self, track_type, index) -> bool:
        track = self._track(track_type, index)
        if track is None:
            return False
        self.tracks[track_type].remove(track)
        return True

    def SetTrackName(self, track_type, index, name) -> bool:
        track = self._track(track_type, index)
        if track is None or not name:
            return False
        track.name = str(name)
        return True

    def SetClipsLinked(self, items, linked) -> bool:
        items = list(items)
        if len(items) < 2:
            return False
        uids = tuple(i.uid for i in items) if linked else ()
        for item in items:
            item.linked = uids
        return True

    def DeleteClips(self, items, ripple=False) -> bool:
        items = list(items)
        found = False
        for tracks in self.tracks.values():
            for track in tracks:
                for item in list(track.items):
                    if any(item is other for other in items):
                        track.items.remove(item)
                        found = True
        return found


def _tc_frames(tc: str, fps: Fraction, drop: bool) -> int:
    hh, mm, ss, ff = (int(p) for p in tc.replace(";", ":").split(":"))
    base = round(fps)
    frames = ((hh * 60 + mm) * 60 + ss) * base + ff
    if drop:
        minutes = hh * 60 + mm
        frames -= (base // 15) * (minutes - minutes // 10)
    return frames


def _frames_tc(frames: int, fps: Fraction, drop: bool) -> str:
    base = round(fps)
    if drop:
        d = base // 15
        ten, rest = divmod(frames, base * 600 - 9 * d)
        frames += 9 * d * ten + (d * ((rest - d) // (base * 60 - d)) if rest >= d else 0)
    ss, ff = divmod(frames, base)
    return f"{ss // 3600:02d}:{ss // 60 % 60:02d}:{ss % 60:02d}{';' if drop else ':'}{ff:02d}"
