"""score_timeline: read the Resolve timeline, score it on a Scorecut server, place the stems.

The job comes apart in three steps so the panel can keep Resolve calls on its own thread:
`prepare` (reads Resolve, fast), `ResolveJob.run` (talks to the server; no Resolve calls, safe on
a worker thread) and `ResolveJob.place` (writes to Resolve).
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from scorecut.plugins.client import (
    JobCancelled,
    JobEvent,
    JobOptions,
    JobResult,
    ScorecutClient,
    marker_hits,
    server_address,
    take_midi,
)
from scorecut.plugins.client.hits import marker_kind

from .errors import ResolveScoreError
from .placement import place_stems
from .stems_folder import stems_folder
from .take_midi import TakeMidi
from .timeline_reader import TimelineSegment, read_segment
from .version import UNKNOWN, ResolveVersion, resolve_version

Progress = Callable[[str, float], None]  # (message, fraction 0..1)


def job_options(options: dict) -> JobOptions:
    """JobOptions from keyword options; unknown names are an error that lists the known ones."""
    known = {f.name for f in dataclasses.fields(JobOptions)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ResolveScoreError(f"unknown option(s) {', '.join(unknown)}; use: {', '.join(sorted(known))}")
    values = dict(options)
    if isinstance(values.get("stems"), str):
        values["stems"] = tuple(s.strip() for s in values["stems"].split(",") if s.strip())
    elif values.get("stems") is not None:
        values["stems"] = tuple(values["stems"])
    return JobOptions(**values)


SERVER_SAMPLE_RATE = 48000  # Hz: what the server writes when JobOptions.sample_rate is 0


def stem_duration_s(frames: int, fps: Fraction, sample_rate: int) -> float:
    """The music's length to ask for: the segment rounded *up* to a whole sample.

    Resolve reads an imported WAV at 24 frames per second; at 29.97 or 59.94 a WAV even a fraction
    of a sample shorter than the segment comes out a timeline frame short, so no stem may be.
    """
    samples = math.ceil(Fraction(frames) / fps * sample_rate)
    return samples / sample_rate


def current_timeline(resolve):
    """(project, timeline) open in Resolve, with a clear error when there is none."""
    if resolve is None:
        raise ResolveScoreError("DaVinci Resolve is not reachable; start Resolve (Studio for external "
                                "scripts) and enable Preferences > System > General > External scripting")
    project = resolve.GetProjectManager().GetCurrentProject()
    if not project:
        raise ResolveScoreError("no project is open in Resolve; open a project and a timeline first")
    timeline = project.GetCurrentTimeline()
    if not timeline:
        raise ResolveScoreError(f"the project {project.GetName()!r} has no open timeline; open one first")
    return project, timeline


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "timeline"


@dataclass
class ResolveJob:
    """One scoring job for a range of a Resolve timeline."""

    project: object
    timeline: object
    segment: TimelineSegment
    options: JobOptions
    address: str
    out_dir: Path
    name: str
    token: str | None = None
    timeout: float | None = None
    result: JobResult | None = None
    version: ResolveVersion = ResolveVersion(UNKNOWN)
    replace_last: bool = False  # put the stems on the last take's tracks
    music_markers: bool = False  # mark the music's sections and downbeats on the placed items
    midi: TakeMidi | None = None  # after place(): what became of the take's score.mid

    def run(self, progress: Progress | None = None, cancel: threading.Event | None = None) -> JobResult:
        """Score on the server and land out_dir/name/; makes no Resolve calls."""
        def on_event(event: JobEvent) -> None:
            if progress is not None and event.kind == "progress":
                progress(event.message or event.stage or "working", 0.95 * event.fraction)

        if progress is not None:
            progress(f"scoring {self.segment.describe()} on {self.address}", 0.0)
        with ScorecutClient(self.address, token=self.token) as client:
            duration_s = stem_duration_s(self.segment.frames, self.segment.fps,
                                         self.options.sample_rate or SERVER_SAMPLE_RATE)
            self.result = client.score(self.segment.clips, self.options, duration_s=duration_s,
                                       out_dir=self.out_dir, name=self.name, on_event=on_event, cancel=cancel,
                                       timeout=self.timeout,
                                       # the WAVs' BWF TimeReference: the range's timeline timecode
                                       timecode_start_s=float(self.segment.start / self.segment.fps))
        return self.result

    def place(self, progress: Progress | None = None, cancel: threading.Event | None = None) -> list:
        """Import the stems and put each on its own track; returns the placed TimelineItems."""
        if self.result is None:
            raise ResolveScoreError("the job has not been scored yet")
        if cancel is not None and cancel.is_set():
            raise JobCancelled(f"cancelled; the stems are in {self.result.folder}, nothing was placed")
        if progress is not None:
            progress("placing the stems on the timeline", 0.97)
        stems = dict(self.result.stems)
        if not stems:
            stems = {"mix": self.result.mix}  # a model that gives only a mix
        rate = int(self.result.score.get("sample_rate") or 0)
        samples = {s.get("name"): s.get("samples") for s in [*self.result.score.get("stems", []),
                                                             {**(self.result.score.get("mix") or {}), "name": "mix"}]}
        lengths = {name: Fraction(int(samples[name]), rate) for name in stems if rate and samples.get(name)}
        # A ring-out tail is placed too (whole frames, never past the audio), for the editor to trim or fade.
        tail = math.floor(Fraction(str(self.result.score.get("tail_s") or 0)) * self.segment.fps)
        try:
            placed = place_stems(self.project, self.timeline, stems, record_frame=self.segment.start,
                                 frames=self.segment.frames + tail, fps=self.segment.fps, job=self.result.folder.name,
                                 lengths_s=lengths, version=self.version, replace_last=self.replace_last,
                                 midi=take_midi(self.result.folder, self.result.score))
        except ResolveScoreError as e:
            raise ResolveScoreError(f"{e} (the stems are in {self.result.folder})") from None
        items, self.midi = placed.items, placed.midi
        if self.music_markers:
            mark_music(items, self.result.score, self.segment.fps)
        if progress is not None:
            midi = f"; {self.midi.words()}" if self.midi is not None else ""
            progress(f"placed {len(items)} stems at {self.segment.timecode(self.segment.start)}{midi}", 1.0)
        return items


def prepare(resolve, scope: str = "inout", server: str | None = None, *, out_dir: str | os.PathLike | None = None,
            token: str | None = None, timeout: float | None = None, replace_last: bool = False,
            **options) -> ResolveJob:
    """Read the timeline and make the job; raises ResolveScoreError for what the user must fix."""
    hit_color = str(options.pop("hit_marker_color", "") or "")  # markers of this colour are hits too
    music_markers = bool(options.pop("music_markers", False))
    opts = job_options(options)
    project, timeline = current_timeline(resolve)
    version = resolve_version(resolve)
    segment = read_segment(timeline, scope, version)
    if not opts.hits:  # hits given in words win over the timeline's markers
        opts = dataclasses.replace(opts, hits=marker_directions(timeline, segment, hit_color))
    folder = stems_folder(project, out_dir)
    # The take's base name; the client library's land_take lands it there, or at <name>-2, ... when
    # another request's take holds it: stems an earlier job imported are never replaced by others.
    name = f"{_safe(segment.timeline_name)}_{segment.describe().replace(':', '-').replace(';', '-')}"
    return ResolveJob(project, timeline, segment, opts, server_address(server), folder, name, token, timeout,
                      version=version, replace_last=replace_last, music_markers=music_markers)


SECTION_MARKER_COLOR = "Purple"
DOWNBEAT_MARKER_COLOR = "Sky"


def mark_music(items, score: dict, fps: Fraction) -> None:
    """The take's sections and downbeats as markers on each placed item, so editors can cut to the
    music: a section's marker is named by its label and energy, a downbeat's by its bar."""
    marks: dict[int, tuple[str, str]] = {}
    for bar, t in enumerate(score.get("downbeats_s") or [], start=1):
        marks.setdefault(round(Fraction(t) * fps), (DOWNBEAT_MARKER_COLOR, f"bar {bar}"))
    for s in score.get("sections") or []:
        marks[round(Fraction(s["start_s"]) * fps)] = (SECTION_MARKER_COLOR,
                                                       f"section {s.get('label') or ''} ({s['intensity']})")
    for item in items:
        for frame, (color, name) in sorted(marks.items()):
            item.AddMarker(frame, color, name, "Scorecut", 1, "scorecut")


def marker_directions(timeline, segment: TimelineSegment, hit_color: str = "") -> tuple[tuple[float, str], ...]:
    """Hit points from the timeline's markers inside the segment: those named hit..., stop... or
    section..., and any of `hit_color` (a plain hit unless its name says otherwise), in seconds
    from the segment's start. GetMarkers keys markers by frames from the timeline's start."""
    start = timeline.GetStartFrame()
    named = []
    for frame, info in (timeline.GetMarkers() or {}).items():
        name = str(info.get("name", ""))
        if hit_color and info.get("color") == hit_color and marker_kind(name) is None:
            name = "hit"
        named.append((float(Fraction(start) + Fraction(frame)) / float(segment.fps), name))
    return marker_hits(named, float(segment.start / segment.fps), float(segment.end / segment.fps))


def score_timeline(resolve, scope: str = "inout", server: str | None = None, *, progress: Progress | None = None,
                   cancel: threading.Event | None = None, out_dir: str | os.PathLike | None = None,
                   token: str | None = None, timeout: float | None = None, replace_last: bool = False,
                   **options) -> list:
    """Score `scope` of Resolve's current timeline and return the TimelineItems placed (one per stem).

    scope: "inout" (In/Out marks, the whole timeline when unset), "current" (the clip under the
    playhead) or "timeline". server: "host:port" (default $SCORECUT_SERVER or 127.0.0.1:50777).
    options: JobOptions fields (model, style, mood, seed, stems, ...). out_dir: where the WAVs go
    (default: "Scorecut Stems" beside the project's renders, else in ~/Movies or ~/Videos; never
    inside a camera card's folders). replace_last: the new take goes on the last take's tracks,
    replacing its stems over the range, instead of on new tracks. Timeline markers named hit...,
    stop... or section... inside the range are hit points, and so are markers of the colour
    `hit_marker_color="..."` when given (unless `hits` are given). `music_markers=True` marks the
    take's sections and downbeats on the placed items.
    """
    started = time.monotonic()
    job = prepare(resolve, scope, server, out_dir=out_dir, token=token, timeout=timeout, replace_last=replace_last,
                  **options)
    job.run(progress, cancel)
    items = job.place(progress, cancel)
    if progress is not None:
        progress(f"done in {time.monotonic() - started:.1f} s: {len(items)} stems placed", 1.0)
    return items
