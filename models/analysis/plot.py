"""The alignment picture: what the analysis saw and, after scoring, where the music's beats fall.

Top panel: motion energy over time with cuts (line style by kind) and visual beats; bottom panel
(with a plan): the beat grid, downbeats and sections shaded by intensity, plus the cuts again so
a reader sees at a glance whether cuts land on beats. Written atomically (temp name, rename).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import numpy as np

from ..interface import MusicalPlan
from .types import VideoAnalysis

_CUT_STYLE = {  # kind -> (colour, line style, label)
    "hard": ("#d62728", "-", "hard cut"),
    "fade": ("#9467bd", "--", "fade"),
    "dissolve": ("#ff7f0e", "-.", "dissolve"),
    "boundary": ("#000000", "-", "clip boundary"),
}
_INTENSITY_COLOURS = ("#f0f4ff", "#d6e4ff", "#adc8ff", "#7fa6f5", "#4f7fe0")  # intensity 0..4


DUCK_COLOUR = "#c8553d"  # spans where the music was ducked under dialogue


def plot_alignment(analysis: VideoAnalysis, path: str | os.PathLike, plan: MusicalPlan | None = None,
                   ducked_spans_s=()) -> Path:
    """Draw the analysis (and `plan`, when given) to `path` (PNG by suffix); returns the path.
    `ducked_spans_s`: [(start_s, end_s)] where the music was ducked under dialogue (score.json)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    path = Path(path)
    a = analysis
    dur = max(float(a.duration_s), 1e-3)
    rows = 2 if plan is not None else 1
    width = min(24.0, max(10.0, dur / 4))
    fig, axes = plt.subplots(rows, 1, figsize=(width, 3.2 * rows + 0.6), sharex=True, squeeze=False,
                             gridspec_kw={"height_ratios": [3, 2][:rows]})
    ax = axes[0, 0]
    ax.fill_between(a.times_s, a.motion, color="#1f77b4", alpha=0.25, linewidth=0)
    ax.plot(a.times_s, a.motion, color="#1f77b4", linewidth=1.2, label="motion")
    if len(a.pace):
        ax.plot(a.times_s, a.pace, color="#2ca02c", linewidth=1.0, alpha=0.8, label="pace")
    if len(a.speech):
        ax.fill_between(a.speech_times_s, 0, np.where(a.speech > 0.5, 0.08, 0.0), step="mid",
                        color="#8c564b", alpha=0.6, linewidth=0, label="speech")
    _draw_cuts(ax, a)
    if len(a.visual_beats_s):
        y = np.interp(a.visual_beats_s, a.times_s, a.motion) if len(a.times_s) else np.zeros(len(a.visual_beats_s))
        ax.scatter(a.visual_beats_s, np.clip(y, 0, 1) + 0.04, s=20 + 50 * a.visual_beat_strength, marker="v",
                   color="#e377c2", edgecolor="#7f3f6f", zorder=5, label="visual beat")
    if len(a.accents_s):  # impacts, flashes and unsure changes: what the music may hit besides cuts
        ax.scatter(a.accents_s, np.full(len(a.accents_s), 1.07), s=14 + 40 * a.accent_strength, marker="*",
                   color="#ff7f0e", edgecolor="#8c4500", zorder=5, label="visual accent")
    ax.set_ylim(0, 1.12)
    ax.set_ylabel("motion / pace (0-1)")
    period = f", motion repeats every {a.motion_period_s:.2f} s" if a.motion_period_s > 0 else ""
    ax.set_title(f"What the picture does: {len(a.cuts_s)} cuts, {len(a.visual_beats_s)} visual beats, "
                 f"{len(a.accents_s)} accents{period}, {dur:.1f} s")
    handles, labels = ax.get_legend_handles_labels()
    kinds = sorted(set(a.cut_kinds), key=list(_CUT_STYLE).index)
    handles += [Line2D([], [], color=_CUT_STYLE[k][0], linestyle=_CUT_STYLE[k][1], linewidth=1.6) for k in kinds]
    labels += [_CUT_STYLE[k][2] for k in kinds]
    # Legends sit outside the panels, so they never hide a cut or a beat.
    ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=8, framealpha=0.9)

    if plan is not None:
        bx = axes[1, 0]
        for sec in plan.sections:
            colour = _INTENSITY_COLOURS[max(0, min(4, int(sec.intensity)))]
            bx.axvspan(sec.start_s, sec.end_s, color=colour, zorder=0)
            bx.text(0.5 * (sec.start_s + sec.end_s), 0.92, f"{sec.label or 'section'} ({sec.intensity})",
                    ha="center", va="top", fontsize=8, clip_on=True)
        bx.vlines(plan.beats_s, 0.0, 0.45, color="#555555", linewidth=0.6)
        bx.vlines(plan.downbeats_s, 0.0, 0.75, color="#111111", linewidth=1.4)
        _draw_cuts(bx, a, ymax=0.6)
        for start, end in ducked_spans_s:  # a band under the beats: where the music steps back for a voice
            bx.axvspan(start, end, ymin=0.0, ymax=0.12, color=DUCK_COLOUR, zorder=3, linewidth=0)
        bx.set_ylim(0, 1)
        bx.set_yticks([])
        bx.set_title(f"The music: {plan.tempo_bpm:.1f} BPM {plan.meter}, {plan.key}, {plan.style}", fontsize=10)
        legend = [Line2D([], [], color="#555555", linewidth=0.8, label="beat"),
                  Line2D([], [], color="#111111", linewidth=1.6, label="downbeat")]
        legend += [Patch(color=_INTENSITY_COLOURS[i], label=f"intensity {i}") for i in range(5)]
        if len(ducked_spans_s):
            legend.append(Patch(color=DUCK_COLOUR, label="music ducked under dialogue"))
        bx.legend(handles=legend, loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=8, framealpha=0.9)
    last = axes[rows - 1, 0]
    last.set_xlim(0, dur)
    last.set_xlabel("time (s)")
    fig.tight_layout()

    path.parent.mkdir(parents=True, exist_ok=True)
    # A hidden name beside the result, created as open() would (0666 less the umask): mkstemp's
    # private 0600 would stay on the result after the rename.
    while True:
        tmp = str(path.parent / f".{path.stem}.{secrets.token_hex(4)}{path.suffix or '.png'}")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            break
        except FileExistsError:
            continue
    try:
        fig.savefig(tmp, dpi=110, format=(path.suffix[1:] or "png"), bbox_inches="tight")
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _draw_cuts(ax, a: VideoAnalysis, ymax: float = 1.0) -> None:
    for t, kind, s in zip(a.cuts_s, a.cut_kinds, a.cut_strength, strict=True):
        colour, style, _ = _CUT_STYLE.get(kind, _CUT_STYLE["hard"])
        ax.axvline(float(t), ymax=ymax, color=colour, linestyle=style, linewidth=0.8 + 1.2 * float(s), alpha=0.85)
