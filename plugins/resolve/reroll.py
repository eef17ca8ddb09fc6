"""Re-roll section: new music for the section of the last take under the playhead, the rest kept.

The take is asked for again with the options it was made with (the server's result cache answers
at once) to learn its sections; the section under the playhead is then re-rolled with another seed
(`--reroll` semantics: the same plan, sample-identical outside the section and its half-second
handles) and placed over the take on its own tracks.
"""

from __future__ import annotations

from scorecut.plugins.client.hits import DirectionError, section_at

from .errors import ResolveScoreError
from .score import prepare
from .timecode import timecode_to_frames


def reroll_section(resolve, reroll_seed: int, scope: str = "inout", server: str | None = None, *, progress=None,
                   cancel=None, out_dir=None, token: str | None = None, timeout: float | None = None,
                   **options) -> list:
    """Re-roll the section under the playhead of the take `scope` and `options` make (give the
    options the take was made with, its seed included); returns the TimelineItems placed."""
    job = prepare_reroll(resolve, reroll_seed, scope, server, progress=progress, cancel=cancel, out_dir=out_dir,
                         token=token, timeout=timeout, **options)
    job.run(progress, cancel)
    return job.place(progress, cancel)


def prepare_reroll(resolve, reroll_seed: int, scope: str = "inout", server: str | None = None, *, progress=None,
                   cancel=None, out_dir=None, token: str | None = None, timeout: float | None = None,
                   **options):
    """The re-roll's job, not run: the take is asked for again (the server's cache answers) to learn
    the section under the playhead. The panel runs the job on its worker and places it on its timer."""
    take = prepare(resolve, scope, server, out_dir=out_dir, token=token, timeout=timeout, **options)
    take.run(progress, cancel)
    timecode = take.timeline.GetCurrentTimecode()
    try:
        playhead = timecode_to_frames(str(timecode), take.segment.fps, take.segment.drop_frame)
    except ValueError:
        raise ResolveScoreError(f"cannot read the playhead position {timecode!r}; click in the timeline "
                                "and try again") from None
    try:
        section = section_at(take.result.score.get("sections") or [],
                             float((playhead - take.segment.start) / take.segment.fps))
    except DirectionError as e:
        raise ResolveScoreError(str(e)) from None
    return prepare(resolve, scope, server, out_dir=out_dir, token=token, timeout=timeout, replace_last=True,
                   reroll=section, reroll_seed=int(reroll_seed), **options)
