"""Score a timeline segment written as a job file: the free edition's way to the server.

Free Resolve runs no Python scripts from 21.1 and builds no panels from 19.1, so its Lua script
(plugins/resolve/lua/Scorecut.lua) reads the timeline itself, writes the segment as a JSON job
and runs `python -m scorecut.plugins.resolve.segment_job JOB.json`, reading this module's
stdout line by line:

    progress <fraction 0..1> <message>
    stem <name> <samples> <sample rate> <path>
    midi <path>                 (the take's score.mid, when the model wrote one)
    done <folder>
    error <message>

The job file (written by the Lua script; every time in seconds):

    {"server": "127.0.0.1:50777", "out_dir": "...", "name": "...", "duration_s": 3.04,
     "options": {"seed": 3, "stems": ["drums", "bass"], "model": "", "style": "", "mood": ""},
     "clips": [{"path": "...", "source_in_s": 0.4, "source_out_s": 2.4,
                "record_start_s": 0.0, "record_end_s": 2.0, "name": "A001C003"}],
     "markers": [{"time_s": 1.2, "name": "hit door"}]}

`markers` are the timeline's markers inside the segment (seconds from its start); those named
hit..., stop... or section... become the job's hit points, as in the Python plugin.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from pathlib import Path

from scorecut.plugins.client import (
    ClipSpec,
    JobOptions,
    ScorecutClient,
    ScorecutClientError,
    marker_hits,
    take_midi,
)

from .score import SERVER_SAMPLE_RATE, job_options, server_address

OPTION_KEYS = ("model", "style", "mood", "seed", "stems")


class JobFileError(ValueError):
    """The job file cannot be used; the message says what is wrong with it."""


def read_job(path: Path) -> dict:
    try:
        job = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise JobFileError(f"cannot read the job file {path}: {e}") from None
    missing = [k for k in ("out_dir", "name", "duration_s", "clips") if k not in job]
    if missing:
        raise JobFileError(f"the job file {path} lacks {', '.join(missing)}; write it again from Resolve")
    if not job["clips"]:
        raise JobFileError(f"the job file {path} has no clips; put the In/Out marks over video and score again")
    return job


def clips_of(job: dict) -> tuple[ClipSpec, ...]:
    return tuple(ClipSpec(path=c["path"], source_in_s=float(c["source_in_s"]), source_out_s=float(c["source_out_s"]),
                          record_start_s=float(c["record_start_s"]), record_end_s=float(c["record_end_s"]),
                          name=str(c.get("name", ""))) for c in job["clips"])


def options_of(job: dict) -> JobOptions:
    options = job.get("options") or {}
    unknown = sorted(set(options) - set(OPTION_KEYS))
    if unknown:
        raise JobFileError(f"unknown option(s) {', '.join(unknown)} in the job file; known: {', '.join(OPTION_KEYS)}")
    given = {k: v for k, v in options.items() if v not in ("", None)}
    if isinstance(given.get("stems"), dict):  # an empty Lua table is written as {}
        given.pop("stems")
    return job_options(given)


def hits_of(job: dict) -> tuple[tuple[float, str], ...]:
    """The job's hit points from the markers the Lua script read (those named hit/stop/section)."""
    markers = job.get("markers") or []
    if isinstance(markers, dict):  # an empty Lua table is written as {}
        markers = [] if not markers else None
    try:
        named = [(float(m["time_s"]), str(m.get("name", ""))) for m in markers]
    except (TypeError, KeyError, ValueError, AttributeError):
        raise JobFileError("the job file's markers are not a list of {time_s, name}; write it again from "
                           "Resolve") from None
    return marker_hits(named, 0.0, float(job["duration_s"]))


def _line(out, *parts) -> None:
    out.write(" ".join(str(p) for p in parts).replace("\n", " ") + "\n")
    out.flush()


def run(path: Path, out=sys.stdout) -> int:
    """Score the job at `path`, reporting on `out` in the line protocol; exit status 0 or 1."""
    try:
        job = read_job(path)
        options = dataclasses.replace(options_of(job), hits=hits_of(job))
        rate = options.sample_rate or SERVER_SAMPLE_RATE
        # At least the segment's length (whole samples, rounded up): Resolve reads a WAV at 24 fps.
        duration_s = math.ceil(float(job["duration_s"]) * rate - 1e-6) / rate

        def on_event(event) -> None:
            if event.kind == "progress":
                _line(out, "progress", f"{event.fraction:.3f}", event.message or event.stage or "working")

        with ScorecutClient(server_address(job.get("server") or None)) as client:
            result = client.score(clips_of(job), options, duration_s=duration_s, out_dir=Path(job["out_dir"]),
                                  name=str(job["name"]), on_event=on_event)
    except (JobFileError, ScorecutClientError) as e:
        _line(out, "error", e)
        return 1
    except Exception as e:  # the Lua side shows words, not a traceback
        _line(out, "error", f"scoring failed: {type(e).__name__}: {e}")
        return 1
    written = {s.get("name"): s for s in result.score.get("stems", [])}
    stems = dict(result.stems) or {"mix": result.mix}
    sample_rate = int(result.score.get("sample_rate") or rate)
    for name, wav in stems.items():
        samples = int((written.get(name) or result.score.get("mix") or {}).get("samples") or 0)
        _line(out, "stem", name, samples, sample_rate, Path(wav).resolve())
    midi = take_midi(Path(result.folder), result.score)
    if midi is not None:
        _line(out, "midi", midi.resolve())
    _line(out, "done", Path(result.folder).resolve())
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        _line(sys.stdout, "error", "usage: python -m scorecut.plugins.resolve.segment_job JOB.json")
        return 2
    return run(Path(args[0]))


if __name__ == "__main__":
    raise SystemExit(main())
