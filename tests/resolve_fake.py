"""A fake DaVinci Resolve scripting API that follows the documented behaviour, quirks included.

No Resolve runs on Linux CI, so the Resolve plugin is tested against this. What it models, from
Resolve's scripting README and the behaviour DESIGN.md records:
- the timeline starts at an absolute frame (01:00:00:00, so 86400 at 24 fps), and every frame
  number the API hands out or takes (GetStart, GetEnd, GetStartFrame, recordFrame) is absolute;
- GetSetting("timelineFrameRate") is a string ("23.976", "29.97", "24", "25");
- GetMarkInOut() gives {"video": {"in", "out"}, "audio": {...}} relative to the timeline start,
  Out inclusive, keys left out when no marks are set (new in 19.1.0);
- GetSourceStartFrame()/GetSourceEndFrame() count media frames from the file's first frame, and
  the end is one frame long on every third item (as on about a third of real clips);
  GetSourceStartTime()/GetSourceEndTime() give seconds *including the media's start timecode*
  (19.0.2+), so they are right only for files that start at 00:00:00:00;
- media pool items carry "Start TC", "Frames", "FPS" and "Type" ("Still" for images,
  "Compound"/"Multicam"/"Fusion" for clips without a "File Path");
- GetVersion() answers [major, minor, patch, build, suffix]; before 19.1 there is no GetMarkInOut
  and AppendToTimeline's endFrame is the last frame placed (inclusive);
- MediaPool.AppendToTimeline([{clipInfo}]) takes an absolute "recordFrame", a 1-based
  "trackIndex", and "startFrame"/"endFrame" in the media pool item's own frame rate with
  endFrame exclusive; it appends to the *current* timeline; the placed length is counted down to
  whole timeline frames;
- WAV media pool items are read at 24 FPS whatever the timeline's rate, so a WAV a fraction of a
  sample short of the segment comes out a frame short at 29.97 and 59.94;
- ImportMedia skips a file already in the current folder, and a file Resolve cannot read: it
  returns "the MediaPoolItems created" (README), and MIDI is not among the manual's compatible
  audio formats (WAVE, Broadcast WAVE, AIFF, MP3, AAC, CAF, AC-3/E-AC-3), so a .mid file gets no
  item and is left out of the list (no error is raised).
Only the calls listed in IMPLEMENTED exist on the objects handed to the plugin; anything else
raises AttributeError, as an unknown name on the real object does. Every name in IMPLEMENTED is
also in DOCUMENTED (the README's method lists), and a test checks that.

Test setup goes through FakeResolve's own snake_case helpers, never through the API objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from resolve_api import DOCUMENTED, IMPLEMENTED, SINCE, Api, _ids, _Impl  # noqa: F401 - re-exported for tests
from resolve_fake_pool import WAV_FPS, MediaPoolImpl, MediaPoolItemImpl, _wav_info  # noqa: F401
from resolve_fake_timeline import TimelineImpl, TimelineItemImpl  # noqa: F401


@dataclass(eq=False)
class ProjectImpl(_Impl):
    KIND = "Project"
    fake: FakeResolve
    name: str
    timelines: list = field(default_factory=list)
    current: TimelineImpl | None = None
    pool: MediaPoolImpl = None
    render_jobs: list = field(default_factory=list)  # {"JobId", "TargetDir", ...} dicts
    uid: str = field(default_factory=lambda: f"project-{next(_ids)}")

    def __post_init__(self):
        self.pool = MediaPoolImpl(self.fake, self)

    def GetName(self) -> str:
        return self.name

    def GetMediaPool(self):
        return self.pool

    def GetCurrentTimeline(self):
        return self.current

    def GetRenderJobList(self) -> list:
        return [dict(job) for job in self.render_jobs]

    def SetCurrentTimeline(self, timeline) -> bool:
        if timeline not in self.timelines:
            return False
        self.current = timeline
        return True


@dataclass(eq=False)
class ProjectManagerImpl(_Impl):
    KIND = "ProjectManager"
    fake: FakeResolve
    current: ProjectImpl | None = None
    uid: str = "project-manager"

    def GetCurrentProject(self):
        return self.current


MIDI_SUFFIXES = (".mid", ".midi")  # Standard MIDI Files: outside Resolve's compatible formats


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

    def GetVersion(self) -> list:
        return [*self.version, 0, ""][:3] + [7, ""]  # [major, minor, patch, build, suffix]

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

    def import_file(self, project: ProjectImpl, path, start_tc: str = "00:00:00:00") -> MediaPoolItemImpl:
        """Import a file; `start_tc` is the timecode its first frame carries (camera files)."""
        clips = project.pool.ImportMedia([path])
        if not clips:
            raise FileNotFoundError(path)
        clips[0].start_tc = start_tc
        return clips[0]

    def nested_clip(self, project: ProjectImpl, name: str, kind: str) -> MediaPoolItemImpl:
        """A compound, multicam or Fusion clip: a media pool item with no file behind it."""
        clip = MediaPoolItemImpl(self, "", Fraction(24), Fraction(60), True, kind=kind, name=name)
        project.pool.root.clips.append(clip)
        return clip

    def put(self, timeline: TimelineImpl, clip: MediaPoolItemImpl | None, *, track: int, at: int, frames: int,
            source_in_frames: float = 0, speed: float = 1.0, name: str | None = None,
            enabled: bool = True, freeze: bool = False) -> TimelineItemImpl:
        """An item on video `track` at `at` frames after the timeline start, `frames` long.

        source_in_frames: in point in the media's own frames; speed: source seconds per record
        second; freeze: a freeze frame (the in point held for the whole item).
        """
        fps = clip.fps if clip else timeline.fps
        start = Fraction(str(source_in_frames))
        end = start if freeze else start + Fraction(frames) / timeline.fps * Fraction(str(speed)) * fps
        item = TimelineItemImpl(self, name or (clip.GetName() if clip else "Text+"), clip,
                                timeline.start + at, timeline.start + at + frames, start, end, enabled)
        timeline.puts += 1
        item.end_slip = 1 if timeline.puts % 3 == 1 else 0  # the first, fourth, ... item put
        timeline.tracks["video"][track - 1].items.append(item)
        return item

    def probe(self, path: str) -> MediaPoolItemImpl | None:
        if path.lower().endswith(MIDI_SUFFIXES):
            return None  # not media Resolve plays: no media pool item
        if path.lower().endswith(".wav"):
            rate, frames = _wav_info(path)
            return MediaPoolItemImpl(self, path, WAV_FPS, Fraction(frames, rate), has_video=False)
        if path.lower().endswith((".png", ".jpg", ".jpeg", ".tif", ".tiff", ".dpx", ".exr")):
            # A still takes the project's rate; its length is one frame of picture.
            project = self.manager.current
            fps = project.current.fps if project and project.current else Fraction(24)
            return MediaPoolItemImpl(self, path, fps, 1 / fps, has_video=True, kind="Still")
        import av

        with av.open(path) as container:
            stream = container.streams.video[0]
            fps = Fraction(stream.average_rate).limit_denominator(1001)
            duration = (Fraction(stream.duration * stream.time_base) if stream.duration
                        else Fraction(container.duration, 10**6))
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
