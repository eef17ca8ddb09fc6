"""score.json from what the server streamed: the Plan, the Analysis and the Manifest.

The plan and cuts travel once, in their own events; the manifest's `score_json` carries only
the model-specific fields. Pure Python (stdlib only) so the Blender extension and the Resolve
script can carry it.
"""

from __future__ import annotations

import json
import math


def _num(value: float) -> float | None:
    """JSON has no NaN: an unmeasured value is null; times are rounded to the microsecond."""
    return None if value is None or not math.isfinite(value) else round(float(value), 6)


def score_document(analysis, plan, manifest) -> dict:
    """score.json's musical fields (the client adds the file entries and the request).

    `analysis`, `plan`, `manifest`: the scorecut.v1 Analysis, Plan and Manifest messages of a job
    (an analysis or plan the server did not send is None: those fields are left out).
    """
    mix = next((s for s in manifest.stems if s.name == "mix"), None)
    rate = int(mix.sample_rate) if mix is not None else 0
    duration = float(analysis.duration_s) if analysis is not None else (mix.frames / rate if rate else 0.0)
    doc: dict = {"version": manifest.version, "model": manifest.model, "seed": int(manifest.seed)}
    if plan is not None:
        doc.update(style=plan.style, mood=plan.mood)
    doc.update(duration_s=round(duration, 6), sample_rate=rate)
    if plan is not None:
        doc.update(tempo_bpm=_num(plan.tempo_bpm), meter=plan.meter, key=plan.key,
                   beats_s=[_num(t) for t in plan.beats_s], downbeats_s=[_num(t) for t in plan.downbeats_s])
    doc["cuts_s"] = [_num(t) for t in analysis.cuts_s] if analysis is not None else []
    if plan is not None:
        doc["sections"] = [{"start_s": _num(s.start_s), "end_s": _num(s.end_s), "intensity": int(s.intensity),
                            "label": s.label} for s in plan.sections]
    doc.update(loudness_lufs=_num(manifest.loudness_lufs), true_peak_dbtp=_num(manifest.true_peak_dbtp))
    extra = json.loads(manifest.score_json) if manifest.score_json else {}
    for key, value in extra.items():
        doc.setdefault(key, value)  # model-specific extras never override the common fields
    return doc
