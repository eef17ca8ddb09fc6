"""`--otio`: a take as an OpenTimelineIO timeline, written with the maintained `opentimelineio`
library, so it opens in any editor with an OTIO adapter (Resolve, Premiere via plugins, Avid via
AAF, Final Cut via FCPXML, Blender, ...).

One audio track per stem (the mix alone when the model gives no stems), each a clip of its WAV
at the segment's record position; the timeline starts at the same timecode as the WAVs' BWF
TimeReference (see bext.py). The plan travels as markers on the timeline's stack: each section
a ranged marker (its label and intensity), each downbeat a point marker. Times are kept at the
sample rate, so nothing is rounded to a frame. Media paths are relative to the .otio file, which
lives in the take's folder beside the WAVs (the folder can be moved whole).
"""

from __future__ import annotations

from pathlib import Path

OTIO_SUFFIX = ".otio"


def write_otio(folder: str | Path, score: dict, name: str, start_s: float | None = None) -> Path:
    """Write `folder/<name>.otio` from the take's score.json fields; returns its path.

    `start_s`: the timecode (seconds since midnight) of the segment's first sample, when known."""
    import opentimelineio as otio

    folder = Path(folder)
    rate = float(score["sample_rate"])

    def at(seconds: float) -> otio.opentime.RationalTime:
        return otio.opentime.RationalTime(round(float(seconds) * rate), rate)

    timeline = otio.schema.Timeline(name=f"Scorecut: {name}")
    if start_s is not None:
        timeline.global_start_time = at(start_s)
    entries = list(score.get("stems") or []) or [score["mix"]]
    for entry in entries:
        length = otio.opentime.RationalTime(int(entry["samples"]), rate)
        whole = otio.opentime.TimeRange(otio.opentime.RationalTime(0, rate), length)
        media = otio.schema.ExternalReference(target_url=entry["file"], available_range=whole)
        clip = otio.schema.Clip(name=entry["name"], media_reference=media, source_range=whole)
        clip.metadata["scorecut"] = {"sha256": entry.get("sha256", ""), "file": entry["file"]}
        track = otio.schema.Track(name=entry["name"], kind=otio.schema.TrackKind.Audio)
        track.append(clip)
        timeline.tracks.append(track)

    markers = timeline.tracks.markers
    for section in score.get("sections") or []:
        label = section.get("label") or "section"
        markers.append(otio.schema.Marker(
            name=f"{label} (intensity {section.get('intensity', 0)})",
            marked_range=otio.opentime.TimeRange(at(section["start_s"]), at(section["end_s"] - section["start_s"])),
            color=otio.schema.MarkerColor.BLUE,
            metadata={"scorecut": {"kind": "section", **section}},
        ))
    for i, t in enumerate(score.get("downbeats_s") or []):
        markers.append(otio.schema.Marker(
            name=f"bar {i + 1}",
            marked_range=otio.opentime.TimeRange(at(t), otio.opentime.RationalTime(0, rate)),
            color=otio.schema.MarkerColor.YELLOW,
            metadata={"scorecut": {"kind": "downbeat"}},
        ))
    timeline.metadata["scorecut"] = {k: score.get(k) for k in ("version", "model", "seed", "style", "mood",
                                                                "tempo_bpm", "meter", "key")}
    path = folder / f"{name}{OTIO_SUFFIX}"
    tmp = folder / f".{path.name}.partial"
    otio.adapters.write_to_file(timeline, str(tmp), adapter_name="otio_json")
    tmp.replace(path)
    return path
