"""A fake DaVinci Resolve scripting API that follows the documented behaviour, quirks included.

No Resolve runs on Linux CI, so the Resolve plugin is tested against this. What it models, from
Resolve's scripting README and the behaviour DESIGN.md records:
- the timeline starts at an absolute frame (01:00:00:00, so 86400 at 24 fps), and every frame
  number the API hands out or takes (GetStart, GetEnd, GetStartFrame, recordFrame) is absolute;
- GetSetting("timelineFrameRate") is a string ("23.976", "29.97", "24", "25");
- GetMarkInOut() gives {"video": {"in", "out"}, "audio": {...}} relative to the timeline start,
  Out inclusive, keys left out when no marks are set (new in 19.1.0);
- GetSourceStartTime()/GetSourceEndTime() give seconds (19.0.2+);
- MediaPool.AppendToTimeline([{clipInfo}]) takes an absolute "recordFrame", a 1-based
  "trackIndex", and "startFrame"/"endFrame" in the media pool item's own frame rate with
  endFrame exclusive; it appends to the *current* timeline;
- WAV media pool items report 24 FPS whatever the timeline's rate;
- ImportMedia skips a file already in the current folder.
Only the calls listed in IMPLEMENTED exist on the objects handed to the plugin; anything else
raises AttributeError, as an unknown name on the real object does. Every name in IMPLEMENTED is
also in DOCUMENTED (the README's method lists), and a test checks that.

Test setup goes through FakeResolve's own snake_case helpers, never through the API objects.
"""

from __future__ import annotations

import itertools
import math
import os
import struct
from dataclasses import dataclass, field
from fractions import Fraction

# The README's method lists (Resolve 19/20), by class.
DOCUMENTED: dict[str, frozenset[str]] = {k: frozenset(v.split()) for k, v in {
    "Resolve": """Fusion GetMediaStorage GetProjectManager OpenPage GetCurrentPage GetProductName GetVersion
        GetVersionString LoadLayoutPreset UpdateLayoutPreset ExportLayoutPreset DeleteLayoutPreset
        SaveLayoutPreset ImportLayoutPreset Quit ImportRenderPreset ExportRenderPreset ImportBurnInPreset
        ExportBurnInPreset GetKeyframeMode SetKeyframeMode""",
    "ProjectManager": """ArchiveProject CreateProject DeleteProject LoadProject GetCurrentProject SaveProject
        CloseProject CreateFolder DeleteFolder GetProjectListInCurrentFolder GetFolderListInCurrentFolder
        GotoRootFolder GotoParentFolder GetCurrentFolder OpenFolder ImportProject ExportProject RestoreProject
        GetCurrentDatabase GetDatabaseList SetCurrentDatabase CreateCloudProject ImportCloudProject
        RestoreCloudProject""",
    "Project": """GetMediaPool GetTimelineCount GetTimelineByIndex GetCurrentTimeline SetCurrentTimeline
        GetGallery GetName SetName GetPresetList SetPreset AddRenderJob DeleteRenderJob DeleteAllRenderJobs
        GetRenderJobList GetRenderPresetList StartRendering StopRendering IsRenderingInProgress
        LoadRenderPreset SaveAsNewRenderPreset DeleteRenderPreset SetRenderSettings GetRenderJobStatus
        GetSetting SetSetting GetRenderFormats GetRenderCodecs GetCurrentRenderFormatAndCodec
        SetCurrentRenderFormatAndCodec GetCurrentRenderMode SetCurrentRenderMode GetRenderResolutions
        RefreshLUTList GetUniqueId InsertAudioToCurrentTrackAtPlayhead LoadBurnInPreset
        ExportCurrentFrameAsStill GetColorGroupsList AddColorGroup DeleteColorGroup""",
    "MediaStorage": """GetMountedVolumeList GetSubFolderList GetFileList RevealInStorage AddItemListToMediaPool
        AddClipMattesToMediaPool AddTimelineMattesToMediaPool""",
    "MediaPool": """GetRootFolder AddSubFolder RefreshFolders CreateEmptyTimeline AppendToTimeline
        CreateTimelineFromClips ImportTimelineFromFile DeleteTimelines GetCurrentFolder SetCurrentFolder
        DeleteClips ImportFolderFromFile DeleteFolders MoveClips MoveFolders GetClipMatteList
        GetTimelineMatteList DeleteClipMattes RelinkClips UnlinkClips ImportMedia ExportMetadata GetUniqueId
        CreateStereoClip GetSelectedClips SetSelectedClip AutoSyncAudio""",
    "Folder": """GetClipList GetName GetSubFolderList GetIsFolderStale GetUniqueId Export TranscribeAudio
        ClearTranscription""",
    "MediaPoolItem": """GetName GetMetadata SetMetadata GetThirdPartyMetadata SetThirdPartyMetadata GetMediaId
        AddMarker GetMarkers GetMarkerByCustomData UpdateMarkerCustomData GetMarkerCustomData
        DeleteMarkersByColor DeleteMarkerAtFrame DeleteMarkerByCustomData AddFlag GetFlagList ClearFlags
        GetClipColor SetClipColor ClearClipColor GetClipProperty SetClipProperty LinkProxyMedia
        UnlinkProxyMedia ReplaceClip GetUniqueId TranscribeAudio ClearTranscription GetAudioMapping
        GetMarkInOut SetMarkInOut ClearMarkInOut ReplaceClipPreserveSubClip MonitorGrowingFile""",
    "Timeline": """GetName SetName GetStartFrame GetEndFrame SetStartTimecode GetStartTimecode GetTrackCount
        AddTrack DeleteTrack GetTrackSubType SetTrackEnable GetIsTrackEnabled SetTrackLock GetIsTrackLocked
        DeleteClips SetClipsLinked GetItemListInTrack AddMarker GetMarkers GetMarkerByCustomData
        UpdateMarkerCustomData GetMarkerCustomData DeleteMarkersByColor DeleteMarkerAtFrame
        DeleteMarkerByCustomData ApplyGradeFromDRX GetCurrentTimecode SetCurrentTimecode GetCurrentVideoItem
        GetCurrentClipThumbnailImage GetTrackName SetTrackName DuplicateTimeline CreateCompoundClip
        CreateFusionClip ImportIntoTimeline Export GetSetting SetSetting InsertGeneratorIntoTimeline
        InsertFusionGeneratorIntoTimeline InsertFusionCompositionIntoTimeline InsertOFXGeneratorIntoTimeline
        InsertTitleIntoTimeline InsertFusionTitleIntoTimeline GrabStill GrabAllStills GetUniqueId
        CreateSubtitlesFromAudio DetectSceneCuts ConvertTimelineToStereo GetNodeGraph AnalyzeDolbyVision
        GetMediaPoolItem GetMarkInOut SetMarkInOut ClearMarkInOut""",
    "TimelineItem": """GetName GetDuration GetEnd GetSourceEndFrame GetSourceEndTime GetFusionCompCount
        GetFusionCompByIndex GetFusionCompNameList GetFusionCompByName GetLeftOffset GetRightOffset GetStart
        GetSourceStartFrame GetSourceStartTime SetProperty GetProperty AddMarker GetMarkers
        GetMarkerByCustomData UpdateMarkerCustomData GetMarkerCustomData DeleteMarkersByColor
        DeleteMarkerAtFrame DeleteMarkerByCustomData AddFlag GetFlagList ClearFlags GetClipColor SetClipColor
        ClearClipColor AddFusionComp ImportFusionComp ExportFusionComp DeleteFusionCompByName
        LoadFusionCompByName RenameFusionCompByName AddVersion GetCurrentVersion DeleteVersionByName
        LoadVersionByName RenameVersionByName GetVersionNameList GetMediaPoolItem GetStereoConvergenceValues
        GetStereoLeftFloatingWindowParams GetStereoRightFloatingWindowParams ApplyArriCdlLut SetCDL AddTake
        GetSelectedTakeIndex GetTakesCount GetTakeByIndex DeleteTakeByIndex SelectTakeByIndex FinalizeTake
        CopyGrades SetClipEnabled GetClipEnabled UpdateSidecar GetUniqueId LoadBurnInPreset CreateMagicMask
        RegenerateMagicMask Stabilize SmartReframe GetTrackTypeAndIndex GetSourceAudioChannelMapping
        GetLinkedItems GetNodeGraph GetColorGroup AssignToColorGroup RemoveFromColorGroup ExportLUT
        GetIsColorOutputCacheEnabled GetIsFusionOutputCacheEnabled SetColorOutputCache
        SetFusionOutputCache""",
}.items()}

# What this fake implements: the calls the plugin makes, nothing more.
IMPLEMENTED: dict[str, frozenset[str]] = {k: frozenset(v.split()) for k, v in {
    "Resolve": "Fusion GetProjectManager",
    "ProjectManager": "GetCurrentProject",
    "Project": "GetName GetMediaPool GetCurrentTimeline SetCurrentTimeline",
    "MediaPool": """GetRootFolder AddSubFolder GetCurrentFolder SetCurrentFolder ImportMedia AppendToTimeline
        DeleteClips DeleteFolders""",
    "Folder": "GetName GetSubFolderList",
    "MediaPoolItem": "GetClipProperty",
    "Timeline": """GetName GetSetting GetStartFrame GetEndFrame GetTrackCount GetItemListInTrack
        GetIsTrackEnabled GetMarkInOut GetCurrentTimecode AddTrack DeleteTrack SetTrackName DeleteClips
        GetUniqueId""",
    "TimelineItem": """GetName GetStart GetEnd GetLeftOffset GetSourceStartTime GetSourceEndTime
        GetMediaPoolItem GetClipEnabled GetUniqueId""",
}.items()}

# Calls that older versions lack ("New in ..." in the README; DESIGN.md for the source times).
SINCE: dict[tuple[str, str], tuple[int, ...]] = {
    ("Timeline", "GetMarkInOut"): (19, 1, 0),
    ("TimelineItem", "GetSourceStartTime"): (19, 0, 2),
    ("TimelineItem", "GetSourceEndTime"): (19, 0, 2),
}

AUDIO_SUBTYPES = frozenset("mono stereo 5.1 5.1film 7.1 7.1film".split()) | {f"adaptive{n}" for n in range(1, 25)}
WAV_FPS = 24.0  # the rate Resolve reports for audio-only media pool items
_ids = itertools.count(1)


class Api:
    """The object a script sees: only implemented, documented methods of its class exist."""

    __slots__ = ("_impl",)

    def __init__(self, impl):
        object.__setattr__(self, "_impl", impl)

    def __getattr__(self, name: str):
        impl = object.__getattribute__(self, "_impl")
        kind = impl.KIND
        since = SINCE.get((kind, name))
        if name not in IMPLEMENTED[kind] or (since and impl.fake.version < since):
            raise AttributeError(f"'{kind}' object has no attribute '{name}'")
        method = getattr(impl, name)

        def call(*args):
            impl.fake.calls.append((kind, name))
            return _wrap(method(*(_unwrap(a) for a in args)))

        return call

    def __setattr__(self, name, value):
        raise AttributeError(f"cannot set {name!r} on a Resolve object")

    def __repr__(self) -> str:
        return f"<{object.__getattribute__(self, '_impl').KIND} (fake)>"


def _wrap(value):
    if isinstance(value, _Impl):
        return Api(value)
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    if isinstance(value, dict):
        return {k: _wrap(v) for k, v in value.items()}
    return value


def _unwrap(value):
    if isinstance(value, Api):
        return object.__getattribute__(value, "_impl")
    if isinstance(value, (list, tuple)):
        return [_unwrap(v) for v in value]
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    return value


def _rate(text: str) -> Fraction:
    value = float(text)
    if value != int(value):  # NTSC: 23.976 = 24000/1001
        return Fraction(round(value * 1.001) * 1000, 1001)
    return Fraction(int(value))


class _Impl:
    KIND = ""
    fake: "FakeResolve"

    def GetUniqueId(self) -> str:
        return self.uid


@dataclass(eq=False)
class MediaPoolItemImpl(_Impl):
    KIND = "MediaPoolItem"
    fake: "FakeResolve"
    path: str
    fps: float  # as Resolve reports it (24 for WAVs)
    length_s: float
    has_video: bool
    uid: str = field(default_factory=lambda: f"mpi-{next(_ids)}")

    @property
    def frames(self) -> float:
        return self.length_s * self.fps

    def GetName(self) -> str:
        return os.path.basename(self.path)

    def GetClipProperty(self, name=None):
        props = {
            "File Path": self.path, "File Name": os.path.basename(self.path), "Clip Name": self.GetName(),
            "FPS": self.fps, "Frames": str(int(math.floor(self.frames + 1e-6))),
            "Type": "Video + Audio" if self.has_video else "Audio",
            "Format": "Wave" if not self.has_video else "QuickTime",
        }
        return dict(props) if name is None else props.get(name, "")


@dataclass(eq=False)
class FolderImpl(_Impl):
    KIND = "Folder"
    fake: "FakeResolve"
    name: str
    parent: "FolderImpl | None" = None
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
class TimelineItemImpl(_Impl):
    KIND = "TimelineItem"
    fake: "FakeResolve"
    name: str
    media: MediaPoolItemImpl | None
    start: int  # absolute timeline frames
    end: int  # exclusive
    source_start_s: float
    source_end_s: float
    enabled: bool = True
    uid: str = field(default_factory=lambda: f"item-{next(_ids)}")

    def GetName(self) -> str:
        return self.name

    def GetStart(self, subframe_precision=False) -> int:
        return self.start

    def GetEnd(self, subframe_precision=False) -> int:
        return self.end

    def GetDuration(self, subframe_precision=False) -> int:
        return self.end - self.start

    def GetLeftOffset(self, subframe_precision=False) -> int:
        # The media frames before the in point: how far the item could be extended to the left.
        value = self.source_start_s * (self.media.fps if self.media else 0)
        return value if subframe_precision else int(round(value))

    def GetSourceStartTime(self) -> float:
        return self.source_start_s

    def GetSourceEndTime(self) -> float:
        return self.source_end_s

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
    fake: "FakeResolve"
    name: str
    fps_text: str
    drop_frame: bool = False
    start_timecode: str = "01:00:00:00"
    tracks: dict = field(default_factory=lambda: {"video": [Track("Video 1")], "audio": [Track("Audio 1", "stereo")]})
    marks: tuple[int, int] | None = None  # (in, out) relative to the start, out inclusive
    playhead: int = 0  # relative to the start
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

    def GetTrackName(self, track_type, index) -> str:
        track = self._track(track_type, index)
        return track.name if track else ""

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


@dataclass(eq=False)
class MediaPoolImpl(_Impl):
    KIND = "MediaPool"
    fake: "FakeResolve"
    project: "ProjectImpl"
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
        return [item for info in args[0] if timeline and (item := self._append(timeline, info))]

    def _append(self, timeline: TimelineImpl, info: dict):
        clip = info.get("mediaPoolItem")
        if not isinstance(clip, MediaPoolItemImpl):
            return None
        first = float(info.get("startFrame", 0))
        last = float(info.get("endFrame", clip.frames))  # exclusive, in the clip's own frame rate
        last = min(last, clip.frames)
        if first < 0 or last <= first:
            return None
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
        length = round((last - first) / clip.fps * timeline.fps)  # timeline frames
        if record is None:
            record = max((i.end for i in track.items), default=timeline.start)
        record = int(round(float(record)))
        if any(i.start < record + length and record < i.end for i in track.items):
            return None
        item = TimelineItemImpl(self.fake, clip.GetName(), clip, record, record + length,
                                first / clip.fps, last / clip.fps)
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


@dataclass(eq=False)
class ProjectImpl(_Impl):
    KIND = "Project"
    fake: "FakeResolve"
    name: str
    timelines: list = field(default_factory=list)
    current: TimelineImpl | None = None
    pool: MediaPoolImpl = None
    uid: str = field(default_factory=lambda: f"project-{next(_ids)}")

    def __post_init__(self):
        self.pool = MediaPoolImpl(self.fake, self)

    def GetName(self) -> str:
        return self.name

    def GetMediaPool(self):
        return self.pool

    def GetCurrentTimeline(self):
        return self.current

    def SetCurrentTimeline(self, timeline) -> bool:
        if timeline not in self.timelines:
            return False
        self.current = timeline
        return True


@dataclass(eq=False)
class ProjectManagerImpl(_Impl):
    KIND = "ProjectManager"
    fake: "FakeResolve"
    current: ProjectImpl | None = None
    uid: str = "project-manager"

    def GetCurrentProject(self):
        return self.current


class FakeResolve(_Impl):
    """The fake application. `resolve` is what a script gets; the snake_case methods set up tests."""

    KIND = "Resolve"

    def __init__(self, version: tuple[int, ...] = (19, 1, 3)):
        self.fake = self
        self.version = tuple(version)
        self.calls: list[tuple[str, str]] = []
        self.faults: dict[str, object] = {}
        self.manager = ProjectManagerImpl(self)
        self.uid = "resolve"
        self.fusion = None  # what Fusion() answers: tests put a UIManager fake's Fusion here

    @property
    def resolve(self) -> Api:
        return Api(self)

    # -- the API ----------------------------------------------------------------------------------
    def GetProjectManager(self):
        return self.manager

    def Fusion(self):
        return self.fusion

    def GetVersionString(self) -> str:
        return ".".join(str(v) for v in self.version)

    # -- test setup -------------------------------------------------------------------------------
    def create_project(self, name: str = "Project") -> ProjectImpl:
        project = ProjectImpl(self, name)
        self.manager.current = project
        return project

    def create_timeline(self, project: ProjectImpl, name: str, fps: str, *, drop_frame: bool = False,
                        start_timecode: str = "01:00:00:00", video_tracks: int = 2) -> TimelineImpl:
        timeline = TimelineImpl(self, name, fps, drop_frame, start_timecode)
        for _ in range(video_tracks - 1):
            timeline.AddTrack("video")
        project.timelines.append(timeline)
        project.current = timeline
        return timeline

    def import_file(self, project: ProjectImpl, path) -> MediaPoolItemImpl:
        clips = project.pool.ImportMedia([path])
        if not clips:
            raise FileNotFoundError(path)
        return clips[0]

    def put(self, timeline: TimelineImpl, clip: MediaPoolItemImpl | None, *, track: int, at: int, frames: int,
            source_in_frames: float = 0, speed: float = 1.0, name: str | None = None,
            enabled: bool = True) -> TimelineItemImpl:
        """An item on video `track` at `at` frames after the timeline start, `frames` long."""
        source_start = source_in_frames / clip.fps if clip else 0.0
        source_end = source_start + float(frames / timeline.fps) * speed
        item = TimelineItemImpl(self, name or (clip.GetName() if clip else "Text+"), clip,
                                timeline.start + at, timeline.start + at + frames, source_start, source_end, enabled)
        timeline.tracks["video"][track - 1].items.append(item)
        return item

    def probe(self, path: str) -> MediaPoolItemImpl | None:
        if path.lower().endswith(".wav"):
            rate, frames = _wav_info(path)
            return MediaPoolItemImpl(self, path, WAV_FPS, frames / rate, has_video=False)
        import av

        with av.open(path) as container:
            stream = container.streams.video[0]
            fps = float(stream.average_rate)
            duration = float(stream.duration * stream.time_base) if stream.duration else float(container.duration) / 1e6
            return MediaPoolItemImpl(self, path, fps, duration, has_video=True)

    def snapshot(self) -> tuple:
        """Everything a user would see: bins and clips, every timeline's tracks and items."""
        project = self.manager.current

        def folder(f):
            return (f.name, tuple(c.path for c in f.clips), tuple(folder(s) for s in f.folders))

        timelines = tuple(
            (t.name, tuple((kind, tr.name, tr.subtype, tuple((i.name, i.start, i.end) for i in tr.items))
                           for kind, tracks in t.tracks.items() for tr in tracks))
            for t in project.timelines)
        return folder(project.pool.root), timelines


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
