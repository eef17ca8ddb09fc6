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

from dataclasses import dataclass, field
from resolve_api import DOCUMENTED, IMPLEMENTED, SINCE, Api, _ids, _Impl  # noqa: F401 - re-exported for tests
from resolve_fake_pool import WAV_FPS, MediaPoolImpl, MediaPoolItemImpl, _wav_info  # noqa: F401
from resolve_fake_timeline import TimelineImpl, TimelineItemImpl  # noqa: F401


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
