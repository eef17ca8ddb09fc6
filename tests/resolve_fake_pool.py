"""The fake Resolve's media pool: bins, media pool items, import, AppendToTimeline (see resolve_fake.py)."""

from __future__ import annotations

import math
import os
import struct
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING

from resolve_api import _ids, _Impl
from resolve_fake_timeline import TimelineImpl, TimelineItemImpl

if TYPE_CHECKING:  # the fake's root, which imports this module
    from resolve_fake import FakeResolve, ProjectImpl

WAV_FPS = Fraction(24)  # Resolve reads an imported WAV at 24 frames per second, whatever the timeline


@dataclass(eq=False)
class MediaPoolItemImpl(_Impl):
    KIND = "MediaPoolItem"
    fake: FakeResolve
    path: str  # "" for compound, multicam and Fusion clips
    fps: Fraction  # exact (24 for WAVs)
    length_s: Fraction
    has_video: bool
    start_tc: str = "00:00:00:00"  # "Start TC": camera files carry record-run or time-of-day TC
    kind: str = ""  # "Type"; "" = from has_video ("Video + Audio" / "Audio")
    name: str = ""  # the clip name; "" = the file name
    uid: str = field(default_factory=lambda: f"mpi-{next(_ids)}")

    @property
    def frames(self) -> Fraction:
        return self.length_s * self.fps

    def start_tc_frames(self) -> int:
        from resolve_fake_timeline import _tc_frames
        return _tc_frames(self.start_tc, self.fps, ";" in self.start_tc)

    def GetName(self) -> str:
        return self.name or os.path.basename(self.path)

    def GetClipProperty(self, name=None):
        fps = float(self.fps)
        props = {
            "File Path": self.path, "File Name": os.path.basename(self.path), "Clip Name": self.GetName(),
            "FPS": round(fps, 3) if fps != int(fps) else int(fps), "Frames": str(int(math.floor(self.frames + 1e-6))),
            "Start TC": self.start_tc,
            "Type": self.kind or ("Video + Audio" if self.has_video else "Audio"),
            "Format": "Wave" if not self.has_video else "QuickTime",
        }
        return dict(props) if name is None else props.get(name, "")


@dataclass(eq=False)
class FolderImpl(_Impl):
    KIND = "Folder"
    fake: FakeResolve
    name: str
    parent: FolderImpl | None = None
    clips: list = field(default_factory=list)
    folders: list = field(default_factory=list)
    uid: str = field(default_factory=lambda: f"folder-{next(_ids)}")

    def GetName(self) -> str:
        return self.name

    def GetSubFolderList(self) -> list:
        return list(self.folders)

    def GetClipList(self) -> list:
        return list(self.clips)



@dataclass(eq=False)
class MediaPoolImpl(_Impl):
    KIND = "MediaPool"
    fake: FakeResolve
    project: ProjectImpl
    root: FolderImpl = None
    current: FolderImpl = None
    uid: str = field(default_factory=lambda: f"pool-{next(_ids)}")

    def __post_init__(self):
        self.root = FolderImpl(self.fake, "Master")
        self.current = self.root

    def GetRootFolder(self):
        return self.root

    def AddSubFolder(self, folder, name):
        if not isinstance(folder, FolderImpl) or not name:
            return None
        sub = FolderImpl(self.fake, str(name), folder)
        folder.folders.append(sub)
        return sub

    def GetCurrentFolder(self):
        return self.current

    def SetCurrentFolder(self, folder) -> bool:
        if not isinstance(folder, FolderImpl) or not self._contains(folder):
            return False
        self.current = folder
        return True

    def _contains(self, folder) -> bool:
        while folder is not None and folder is not self.root:
            folder = folder.parent
        return folder is self.root

    def ImportMedia(self, paths) -> list:
        imported = []
        for path in paths:
            path = os.path.abspath(str(path))
            if not os.path.isfile(path) or any(c.path == path for c in self.current.clips):
                continue
            clip = self.fake.probe(path)
            if clip is not None:
                self.current.clips.append(clip)
                imported.append(clip)
        return imported

    def AppendToTimeline(self, *args) -> list:
        if len(args) != 1 or not isinstance(args[0], list) or not all(isinstance(a, dict) for a in args[0]):
            raise NotImplementedError("the fake implements only AppendToTimeline([{clipInfo}, ...])")
        timeline = self.project.current
        infos = args[0][: self.fake.faults.get("append_limit", len(args[0]))]  # a track locked midway
        return [item for info in infos if timeline and (item := self._append(timeline, info))]

    def _append(self, timeline: TimelineImpl, info: dict):
        clip = info.get("mediaPoolItem")
        if not isinstance(clip, MediaPoolItemImpl):
            return None
        first = Fraction(str(float(info.get("startFrame", 0))))
        last = Fraction(str(float(info.get("endFrame", clip.frames))))  # in the clip's own frame rate
        if self.fake.version < (19, 1):
            last += 1  # before 19.1 endFrame is the last frame placed (inclusive)
        if first < 0 or last <= first or last > clip.frames + Fraction(1, 10**6):
            return None  # nothing past the media's end: such a clipInfo is not appended
        media_type = info.get("mediaType")
        track_type = "audio" if (media_type == 2 or not clip.has_video) else "video"
        if track_type == "audio" and media_type == 1:
            return None
        index, record = info.get("trackIndex", 1), info.get("recordFrame")
        if self.fake.faults.get("ignore_record_frame"):  # as Resolve before clipInfo placement did
            index, record = 1, None
        track = timeline._track(track_type, int(index))
        if track is None:
            return None
        # Timeline frames, counted down: a WAV a fraction of a sample short of N frames gives N - 1.
        length = math.floor((last - first) / clip.fps * timeline.fps + Fraction(1, 10**6))
        if record is None:
            record = max((i.end for i in track.items), default=timeline.start)
        record = int(round(float(record)))
        if any(i.start < record + length and record < i.end for i in track.items):
            return None
        item = TimelineItemImpl(self.fake, clip.GetName(), clip, record, record + length, first, last)
        track.items.append(item)
        return item

    def DeleteClips(self, clips) -> bool:
        clips = list(clips)
        found = False
        for folder in self._folders(self.root):
            for clip in list(folder.clips):
                if any(clip is c for c in clips):
                    folder.clips.remove(clip)
                    found = True
        return found

    def DeleteFolders(self, folders) -> bool:
        found = False
        for folder in folders:
            if isinstance(folder, FolderImpl) and folder.parent is not None and folder in folder.parent.folders:
                folder.parent.folders.remove(folder)
                if self._contains(self.current) is False:
                    self.current = self.root
                found = True
        return found

    def _folders(self, folder):
        yield folder
        for sub in folder.folders:
            yield from self._folders(sub)


def _wav_info(path: str) -> tuple[int, int]:
    """(sample rate, frames) from a RIFF/WAVE header (PCM or float, any bit depth)."""
    with open(path, "rb") as f:
        riff, _, wave = struct.unpack("<4sI4s", f.read(12))
        if riff != b"RIFF" or wave != b"WAVE":
            raise ValueError(f"{path} is not a WAV file")
        rate = block = 0
        while True:
            header = f.read(8)
            if len(header) < 8:
                raise ValueError(f"{path} has no data chunk")
            cid, size = struct.unpack("<4sI", header)
            if cid == b"fmt ":
                fmt = f.read(size)
                _, _, rate, _, block = struct.unpack("<HHIIH", fmt[:14])
                f.seek(size % 2, 1)
            elif cid == b"data":
                return rate, size // block
            else:
                f.seek(size + size % 2, 1)
