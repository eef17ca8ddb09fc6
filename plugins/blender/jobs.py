"""Running takes: start one per scene, poll it from a timer, place it when it is done.

`tick(job)` is the body of the bpy.app.timers callback (main thread): it reads the worker's state,
redraws the progress, and on completion places the take. It is a plain function so it can be
called directly: timers never fire in the bpy module, where tests run.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass, field
from pathlib import Path

import bpy

from . import reroll, timeline
from .client_api import JobOptions, marker_hits, take_midi
from .job_runner import CANCELLED, FAILED, FINISHED, JobRequest, JobRunner, JobState
from .placement import take_name
from .server_status import StatusProbe, online_refusal
from .strips_to_request import Segment

POLL_INTERVAL_S = 0.2  # how often the timer looks at the worker: progress feels live, costs nothing


@dataclass
class ScoreJob:
    """One take in flight for one scene, and what the user has been told about it."""

    scene_name: str
    segment: Segment
    runner: JobRunner
    place_stems: bool  # one strip per stem, else only the mix
    keep_takes: bool  # earlier takes over these frames are muted, else removed
    reports: list[tuple[str, str]] = field(default_factory=list)  # ({'INFO'|'WARNING'|'ERROR'}, message)
    placed: list[str] = field(default_factory=list)  # names of the sound strips made
    final: JobState | None = None  # set once the job has ended and been handled
    abandoned: bool = False  # its file was closed: whatever comes back is not placed anywhere
    as_meta: bool = False  # place the take as one meta strip
    music_markers: bool = False  # mark the take's sections and downbeats as timeline markers
    midi: Path | None = None  # the placed take's score.mid, kept in its folder (the sequencer cannot play MIDI)

    @property
    def take(self) -> str:
        return self.runner.request.name

    def report(self, level: str, message: str) -> None:
        self.reports.append((level, message))


_ACTIVE: dict[str, ScoreJob] = {}  # scene name -> its running job (one at a time per scene)
_LAST: dict[str, ScoreJob] = {}  # scene name -> its latest ended job, for the panel's last message
_STATUS: list[StatusProbe] = []  # the latest server status probe, for the panel


def active_job(scene_name: str) -> ScoreJob | None:
    return _ACTIVE.get(scene_name)


def last_job(scene_name: str) -> ScoreJob | None:
    return _LAST.get(scene_name)


def running_jobs() -> list[ScoreJob]:
    return list(_ACTIVE.values())


def last_take_folder(scene_name: str) -> Path | None:
    """The folder of the scene's latest finished take (its WAVs, score.json, score.mid), if any."""
    last = _LAST.get(scene_name)
    if last is None or last.final is None or last.final.state != FINISHED or last.final.result is None:
        return None
    return Path(last.final.result.folder)


def job_options(settings) -> JobOptions:
    """The scene's Scorecut settings as client options."""
    stems = tuple(sorted(s.lower() for s in settings.stems)) if settings.place_stems else ()
    return JobOptions(model=settings.model, style=settings.style.strip(), mood=settings.mood.strip(),
                      seed=int(settings.seed), stems=stems, duck_dialogue=bool(settings.duck_dialogue),
                      loop=bool(settings.loop), tail_s=float(settings.tail_s))


def marker_directions(scene, segment: Segment) -> tuple[tuple[float, str], ...]:
    """Hit points from the scene's timeline markers named hit..., stop... or section... inside the
    scored frames, in seconds from the segment's first frame."""
    fps = segment.scene_fps
    markers = [(m.frame / fps, m.name) for m in scene.timeline_markers]
    return marker_hits(markers, segment.first_frame / fps, segment.end_frame / fps)


def prepare(scene, scope: str, settings, address: str, token: str = "") -> ScoreJob:
    """A job for `scope` of `scene`, not started. Raises NothingToScore / ValueError with words."""
    if scene.name in _ACTIVE:
        raise ValueError("this scene is already being scored: wait for it or press Cancel")
    if settings.place_stems and not settings.stems:
        raise ValueError("no stems chosen: tick at least one stem, or place only the mix")
    refusal = online_refusal(address, getattr(bpy.app, "online_access", True))
    if refusal:
        raise ValueError(refusal)
    segment, not_read = timeline.collect_segment(scene, scope)
    out_dir, warning = timeline.output_dir()
    options = dataclasses.replace(job_options(settings), hits=marker_directions(scene, segment))
    request = JobRequest(address=address, clips=segment.clips, options=options,
                         duration_s=segment.duration_s, out_dir=out_dir,
                         name=take_name(scene.name, segment.first_frame), token=token)
    job = ScoreJob(scene.name, segment, JobRunner(request), settings.place_stems, settings.keep_takes,
                   as_meta=settings.take_as_meta, music_markers=settings.music_markers)
    if warning:
        job.report("WARNING", f"Scorecut: {warning}")
    for note in not_read:
        job.report("WARNING", f"Scorecut: {note}")
    return job


def prepare_reroll(scene, frame: int, address: str, token: str = "") -> ScoreJob:
    """A job that re-rolls the section of the scene's last take playing at `frame`: the same request
    with new music in that section only, placed over the take (replacing it). Raises ValueError."""
    if scene.name in _ACTIVE:
        raise ValueError("this scene is already being scored: wait for it or press Cancel")
    last = _LAST.get(scene.name)
    if last is None or last.final is None or last.final.state != FINISHED or last.final.result is None:
        raise ValueError("no finished take of this scene to re-roll: score a range first")
    refusal = online_refusal(address, getattr(bpy.app, "online_access", True))
    if refusal:
        raise ValueError(refusal)
    earlier = last.runner.request
    request = reroll.reroll_request(earlier, reroll.take_sections(Path(last.final.result.folder)), last.segment,
                                    frame, reroll.next_reroll_seed(earlier.options))
    request = dataclasses.replace(request, address=address, token=token)
    return ScoreJob(scene.name, last.segment, JobRunner(request), last.place_stems, keep_takes=False,
                    as_meta=last.as_meta, music_markers=last.music_markers)


def start(job: ScoreJob) -> ScoreJob:
    _ACTIVE[job.scene_name] = job
    job.runner.start()
    return job


def cancel(scene_name: str) -> bool:
    job = _ACTIVE.get(scene_name)
    if job is None:
        return False
    job.runner.cancel()
    return True


MUSIC_MARKER_PREFIX = "Scorecut "  # never "hit"/"stop"/"section": the next take must not read them as hits


def mark_music(scene, segment: Segment, score: dict) -> None:
    """The take's sections and downbeats as timeline markers over its frames (those of an earlier
    take there are replaced), so editors can cut to the music."""
    fps = segment.scene_fps
    for marker in list(scene.timeline_markers):
        if marker.name.startswith(MUSIC_MARKER_PREFIX) and segment.first_frame <= marker.frame < segment.end_frame:
            scene.timeline_markers.remove(marker)
    names: dict[int, str] = {}
    for bar, t in enumerate(score.get("downbeats_s") or [], start=1):
        names.setdefault(segment.first_frame + round(t * fps), f"{MUSIC_MARKER_PREFIX}bar {bar}")
    for s in score.get("sections") or []:
        names[segment.first_frame + round(s["start_s"] * fps)] = (
            f"{MUSIC_MARKER_PREFIX}{s.get('label') or 'section'} ({s['intensity']})")
    for frame, name in sorted(names.items()):
        if frame < segment.end_frame:
            scene.timeline_markers.new(name, frame=frame)


def with_tail(segment: Segment, score: dict) -> Segment:
    """The frames a take's WAVs fill: the segment and its ring-out tail (whole frames, never past the
    audio), so the tail is placed for the editor to trim or fade."""
    tail = math.floor(float(score.get("tail_s") or 0) * segment.scene_fps + 1e-9)
    return dataclasses.replace(segment, end_frame=segment.end_frame + tail) if tail > 0 else segment


def finish(job: ScoreJob, state: JobState) -> None:
    """Handle the ended job on the main thread: place the take or say why not."""
    job.final = state
    if job.abandoned:
        return
    _ACTIVE.pop(job.scene_name, None)
    _LAST[job.scene_name] = job
    if state.state == FINISHED and state.result is not None:
        scene = bpy.data.scenes.get(job.scene_name)
        if scene is None:
            job.report("ERROR", f"Scorecut: the scene {job.scene_name!r} is gone; "
                                f"the music is in {state.result.folder}")
            return
        job.midi = take_midi(Path(state.result.folder), state.result.score)
        try:
            # The take is the folder it landed in (<name>-2 beside an earlier take of the same frames).
            job.placed = timeline.place_take(scene, with_tail(job.segment, state.result.score),
                                             Path(state.result.folder).name, state.result.stems,
                                             state.result.mix,
                                             job.place_stems, job.keep_takes, job.as_meta, job.midi)
        except (ValueError, RuntimeError) as e:  # no free channels; a WAV Blender cannot open
            job.report("ERROR", f"Scorecut: {e}; the music is in {state.result.folder}")
            return
        if job.music_markers:
            mark_music(scene, job.segment, state.result.score)
        try:
            bpy.ops.ed.undo_push(message="Scorecut: place music")  # one Ctrl-Z takes the take away
        except RuntimeError:
            pass  # no undo stack here (e.g. undo disabled): the strips are placed all the same
        cached = " (from the server's cache)" if state.result.cached else ""
        midi = f"; the music as MIDI for your own instruments: {job.midi}" if job.midi is not None else ""
        job.report("INFO", f"Scorecut: placed {len(job.placed)} strip(s) at frame {job.segment.first_frame}{cached}"
                           f"{midi}")
    elif state.state == CANCELLED:
        job.report("WARNING", "Scorecut: cancelled; nothing was placed")
    elif state.state == FAILED:
        job.report("ERROR", f"Scorecut: {state.message}")


def run_to_completion(job: ScoreJob) -> JobState:
    """Background mode: run the job on its worker and wait, then place it (blocks the caller)."""
    start(job)
    try:
        state = job.runner.wait()
    except BaseException:
        job.runner.cancel()  # Ctrl-C in a batch run stops the server's work too
        _ACTIVE.pop(job.scene_name, None)
        raise
    finish(job, state)
    return state


def tick(job: ScoreJob) -> float | None:
    """The timer body: seconds until the next poll, or None when the job is handled (timer ends)."""
    state = job.runner.snapshot()
    redraw()
    if not state.done:
        return POLL_INTERVAL_S
    told = len(job.reports)
    finish(job, state)
    for level, message in job.reports[told:]:
        tell_user(level, message)
    return None


def start_interactive(job: ScoreJob) -> ScoreJob:
    """Start the job and poll it from a timer; the UI stays responsive."""
    start(job)
    bpy.app.timers.register(functools.partial(tick, job), first_interval=POLL_INTERVAL_S)
    return job


def tell_user(level: str, message: str) -> None:
    """A report in Blender's status bar and Info log, from outside an operator (e.g. a timer)."""
    print(f"{level}: {message}")
    if bpy.app.background:
        return
    try:
        bpy.ops.sequencer.scorecut_report(level=level, message=message)
    except (RuntimeError, AttributeError):
        pass  # the add-on is being disabled: the message was printed above


def redraw() -> None:
    wm = getattr(bpy.context, "window_manager", None)
    if wm is None:
        return
    for window in wm.windows:
        for area in window.screen.areas:
            if area.type == "SEQUENCE_EDITOR":
                area.tag_redraw()
        # The status bar is a window-level area, not one of screen.areas: Python cannot tag it, but
        # setting the workspace's status text (None: the normal bar) redraws it.
        with bpy.context.temp_override(window=window):
            window.workspace.status_text_set_internal(None)


# -- server status, for the panel ------------------------------------------------------------
def refresh_status(address: str, token: str = "") -> StatusProbe:
    probe = StatusProbe(address, token).start(online_refusal(address, getattr(bpy.app, "online_access", True)))
    _STATUS[:] = [probe]

    def poll() -> float | None:
        if not probe.done:
            return 0.2
        redraw()
        return None

    if not bpy.app.background:
        bpy.app.timers.register(poll, first_interval=0.2)
    return probe


def current_status() -> StatusProbe | None:
    return _STATUS[0] if _STATUS else None


def cancel_all() -> None:
    for job in list(_ACTIVE.values()):
        job.abandoned = True
        job.runner.cancel()
    _ACTIVE.clear()


@bpy.app.handlers.persistent
def on_load_pre(*_args) -> None:
    """Another .blend is being opened: its scenes are not the ones scored, and the timers go with
    the old file, so running jobs are cancelled (on the server too) rather than placed there."""
    cancel_all()
    _LAST.clear()
