"""The musical plan: tempo map, bars, sections with intensity, key and mode, from the analysis.

Everything the arranger needs to know about *when* and *how much*; nothing about notes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import directing
from ..interface import MusicalPlan, RequestError, ScoreOptions, Section
from .grid import Grid, build_eighth_grid, build_grid, pin, reach
from .styles import MAJOR_FAMILY, Mood, Style, meter_beats, mood_by_name, style_by_name
from .tempo import choose_tempo

PITCH_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MAJOR_CUT = 0.6  # cut strength from which a cut is "major": it may open a section on a downbeat
MIN_SECTION_BARS = 2  # a section shorter than this reads as a hiccup, not a change
PHRASE_BARS = 8  # long stretches without major cuts are split into phrases of this many bars
HIT_STRENGTH = 20.0  # a hit's weight in the grid's search: it outranks any number of cuts near it
RING_OUT_RELEASE = 0.7  # with a ring-out tail the final chord lets go this fraction of the tail before the end
STOP_BREAK_S = 0.6  # a stop's break lasts at least one beat, two when beats are shorter than this


@dataclass(frozen=True)
class Bar:
    start_beat: int  # index into Plan.beats_s
    n_beats: int  # usually the meter's; a section's last bar may be short (a 2/4 bar) to land the cut


@dataclass(frozen=True)
class PlannedSection:
    first_bar: int
    end_bar: int  # exclusive
    intensity: int  # 0..4
    label: str
    starts_on_cut: bool  # a major cut opens it: crash/impact on its downbeat


@dataclass(frozen=True)
class Plan:
    style: Style
    mood: Mood | None
    mood_name: str  # the mood named in score.json ("" never: derived moods get a name too)
    duration_s: float
    meter: str
    beats_per_bar: int
    subdivisions: int  # per beat: 4 (16ths) or 3 (6/8 eighths)
    tempo_bpm: float
    beats_s: np.ndarray  # (n,) true beat times, extends past the end
    bars: tuple[Bar, ...]
    sections: tuple[PlannedSection, ...]
    tonic_pc: int  # 0 = C
    mode: str
    cut_beats: dict[int, float]  # beat index -> strength of the cut landing on it
    off_grid_cuts: tuple[tuple[float, float], ...]  # (time_s, strength) cuts no beat reaches
    end_beat: int  # the beat where the final tonic lands
    tempo_reason: str = ""  # why this tempo, in words (score.json `tempo_reason`)
    hit_beats: tuple[tuple[int, str], ...] = ()  # (beat index, kind) of the editor's hits, in time order
    breaks_s: tuple[tuple[float, float], ...] = ()  # (start, end) seconds a stop leaves silent
    loop: bool = False  # bars fill the segment exactly; the last leads into the first
    release_s: float = 0.6  # the final notes release this long before the end, so their ring fits

    def beat_time(self, beat: float) -> float:
        """Time of a fractional beat index, following the tempo map."""
        i = int(np.floor(beat))
        i = min(max(i, 0), len(self.beats_s) - 2)
        frac = beat - i
        return float(self.beats_s[i] + frac * (self.beats_s[i + 1] - self.beats_s[i]))

    @property
    def key_name(self) -> str:
        return f"{PITCH_NAMES[self.tonic_pc]} {self.mode}"

    def bar_time(self, bar: int) -> float:
        return float(self.beats_s[self.bars[bar].start_beat]) if bar < len(self.bars) else self.duration_s

    def musical_plan(self) -> MusicalPlan:
        inside = self.beats_s[(self.beats_s >= 0) & (self.beats_s < self.duration_s)]
        downs = [self.beats_s[b.start_beat] for b in self.bars]
        downs = [float(t) for t in downs if 0 <= t < self.duration_s]
        sections = []
        for s in self.sections:
            start = 0.0 if s.first_bar == 0 else self.bar_time(s.first_bar)
            end = self.duration_s if s.end_bar >= len(self.bars) else self.bar_time(s.end_bar)
            sections.append(Section(round(start, 6), round(min(end, self.duration_s), 6), s.intensity, s.label))
        return MusicalPlan(
            tempo_bpm=round(self.tempo_bpm, 3), meter=self.meter, key=self.key_name,
            beats_s=tuple(round(float(t), 6) for t in inside), downbeats_s=tuple(round(t, 6) for t in downs),
            sections=tuple(sections), style=self.style.name, mood=self.mood_name,
        )


def _mean_over(times: np.ndarray, values: np.ndarray, t0: float, t1: float, default: float) -> float:
    if len(times) == 0:
        return default
    sel = (times >= t0) & (times < t1)
    if not sel.any():
        return float(values[int(np.argmin(np.abs(times - (t0 + t1) / 2)))])
    return float(values[sel].mean())


def choose_key(analysis, style: Style, mood: Mood | None, rng: np.random.Generator) -> tuple[int, str, str]:
    """(tonic pitch class, mode, mood name). The picture decides unless a mood is given:
    bright, saturated, warm pictures read major; dark, grey, cold ones minor."""
    tonic = int(rng.integers(0, 12))
    if mood is not None:
        return tonic, mood.mode, mood.name
    b = float(np.mean(analysis.brightness)) if len(analysis.brightness) else 0.5
    s = float(np.mean(analysis.saturation)) if len(analysis.saturation) else 0.3
    w = float(np.mean(analysis.warmth)) if len(analysis.warmth) else 0.0
    light = 1.6 * (b - 0.45) + 0.8 * (s - 0.3) + 0.5 * w + 0.4 * style.major_bias
    light += rng.normal(0, 0.08)  # seeds may flip a picture that sits on the fence
    # The picture picks major or minor only; the modal colours are for moods a person asks for.
    if light > 0.02:
        return tonic, "major", "bright" if light > 0.45 else "warm" if light > 0.15 else "calm"
    return tonic, "minor", "dark" if light < -0.4 else "serious"


def _bars_for(beats_in_section: int, bpb: int) -> list[int]:
    """Bar lengths filling a section: full bars, the last one shortened (or a single spare
    beat folded into the previous bar) so the next section starts on a downbeat."""
    full, rest = divmod(beats_in_section, bpb)
    bars = [bpb] * full
    if rest:
        if rest == 1 and bars:
            bars[-1] += 1
        else:
            bars.append(rest)
    return bars or [beats_in_section]


def _intensities(raw: list[float], style: Style, mood: Mood | None) -> list[int]:
    """Section energies 0..4 from raw activity 0..1, with hysteresis so they do not flicker."""
    lo, hi = style.intensity
    shift = mood.intensity_shift if mood else 0
    levels, current = [], None
    for r in raw:
        target = lo + (hi - lo) * r
        if current is None:
            current = int(np.clip(round(target - 0.3), lo, hi))  # the opening holds back a little
        elif abs(target - current) > 0.75:  # change only for a clear move
            current = int(np.clip(round(target), lo, hi))
        levels.append(int(np.clip(current + shift, 0, 4)))
    return levels


def _build_bars(starts: list[int], cut_beats: dict[int, float], end_beat: int, n_beats: int, bpb: int,
                free_meter: bool, pinned: frozenset[int] = frozenset()) -> list[Bar]:
    """Bars over beat indices 0..n_beats-1. They restart at every section start and at major cuts
    (a shortened bar before, as film scores do) so those cuts fall on downbeats. A groove
    tolerates an odd bar only now and then (two bars apart at least); free-time styles
    (cinematic, ambient) may restart at any major cut a bar apart. Before the first restart bars
    count backwards from it: the piece may open with a pickup. `pinned` beats (the editor's hits)
    always open a bar, as section starts do."""
    gap = bpb if free_meter else MIN_SECTION_BARS * bpb
    forced = set(starts[1:]) | {b for b in pinned if 0 < b}
    restarts: list[int] = []
    for b in sorted(forced | {b for b, s in cut_beats.items() if s >= MAJOR_CUT and bpb <= b < end_beat}):
        if b in forced:
            while restarts and restarts[-1] not in forced and b - restarts[-1] < 2:
                restarts.pop()  # a section start or a hit wins over a minor restart just before it
            restarts.append(b)
        elif b - (restarts[-1] if restarts else 0) >= gap and min(abs(b - x) for x in [*starts, *forced]) >= 2:
            restarts.append(b)
    restarts = sorted(r for r in restarts if r <= end_beat)
    bars: list[Bar] = []
    first = restarts[0] if restarts else n_beats - 1
    b = 0
    for n in (_bars_for(first, bpb)[::-1] if first > 0 else []):
        bars.append(Bar(b, n))
        b += n
    bounds = restarts + [n_beats - 1]
    for r0, r1 in zip(bounds[:-1], bounds[1:], strict=True):
        b = r0
        for n in _bars_for(r1 - r0, bpb):
            bars.append(Bar(b, n))
            b += n
    return bars


def make_plan(analysis, options: ScoreOptions) -> Plan:
    style = style_by_name(options.style)
    mood = mood_by_name(options.mood)
    meter = options.meter or "4/4"
    bpb, subdiv = meter_beats(meter)
    if meter not in style.meters:
        raise RequestError(
            f"the {style.name} style plays in {' or '.join(style.meters)}, not {meter}; choose one of those "
            f"or a style that plays in {meter} (cinematic, ambient, acoustic_pop)"
        )
    rng = np.random.default_rng(np.random.SeedSequence([int(options.seed) & 0xFFFFFFFF, 0x5C0E]))
    duration = float(analysis.duration_s)
    if not duration > 0:
        raise RequestError("the segment has no duration; give it clips with a positive length")
    directing.check(options, duration)
    duration += float(options.tail_s)  # the music's length: the segment and its ring-out

    lo, hi = style.tempo_bpm
    if options.tempo_min_bpm or options.tempo_max_bpm:
        lo = float(options.tempo_min_bpm or lo)
        hi = float(options.tempo_max_bpm or max(hi, lo))
        if not (20 <= lo <= hi <= 300):
            raise RequestError(f"tempo range {lo:g}-{hi:g} BPM is not usable; give 20 <= min <= max <= 300")
    choice = choose_tempo(analysis, style, mood, lo, hi)
    preferred = choice.preferred_bpm
    cuts = np.asarray(analysis.cuts_s, float)
    strength = (np.asarray(analysis.cut_strength, float) if len(analysis.cut_strength) == len(cuts)
                else np.ones(len(cuts)))
    if options.loop:
        beats, bars, end_beat = _loop_layout(duration, lo, hi, preferred, bpb, subdiv)
        section_bars, starts_on_cut, cut_beats, off_grid = [(0, end_beat // bpb)], set(), {}, []
        hit_beats, breaks = {}, ()
    else:
        # Regular visual accents join the cuts as hits of the lowest weight, the editor's hits as the
        # heaviest (indices past the cuts).
        directed = sorted(options.hits, key=lambda h: h.time_s)
        hit_times = np.asarray([h.time_s for h in directed], np.float64)
        hits = np.concatenate([cuts, choice.accents_s, hit_times])
        hit_strength = np.concatenate([strength, np.zeros(len(choice.accents_s)),
                                       np.full(len(hit_times), HIT_STRENGTH)])
        grid: Grid = build_grid(duration, hits, hit_strength, choice.range_bpm, preferred, rng, bpb, MAJOR_CUT)
        if style.eighth_grid and len(hits):
            half = build_eighth_grid(duration, hits, hit_strength, choice.range_bpm, preferred, rng, bpb, MAJOR_CUT)
            if reach(half, hits, hit_strength) > reach(grid, hits, hit_strength) + 0.25:
                grid = half
        beats, hit_index = pin(grid.beats_s, hit_times)
        hit_beats = {int(b): h.kind for b, h in zip(hit_index, directed, strict=True)}

        cut_beats = {int(b): float(strength[c]) for b, c in zip(grid.anchor_beats, grid.anchor_cuts, strict=True)
                     if c < len(cuts)}
        off_grid = []
        for c, t in enumerate(cuts):
            if 0.05 < t < duration - 0.05 and float(np.min(np.abs(beats - t))) > 0.03:
                off_grid.append((float(t), float(strength[c])))

        # Where the music ends: the final tonic lands on the last beat that leaves it room to ring and
        # its tail to decay inside the clip; the groove carries through every cut before it.
        in_clip = np.flatnonzero(beats < duration)
        ring_min = float(np.clip(0.08 * duration, 1.0, 2.0))  # short clips end on a button, long ones ring
        ring_min = max(ring_min, float(options.tail_s))  # a ring-out: the ending lands inside the picture
        end_candidates = in_clip[beats[in_clip] <= duration - ring_min]
        end_beat = int(end_candidates[-1]) if len(end_candidates) else int(in_clip[0]) if len(in_clip) else 0
        late_cut = np.any((cuts >= beats[end_beat] - 0.035) & (cuts < beats[min(end_beat + 1, len(beats) - 1)]))
        if late_cut and end_beat + 1 < len(beats) and beats[end_beat + 1] <= duration - 1.0:
            # A cut on the final hit (or in its ring) would come after the groove's last word; the
            # groove carries through the cut and the ending lands one beat later, ringing shorter.
            end_beat += 1
        # The editor's hits come before the ending: it lands on the last of them at the latest.
        period = float(np.median(np.diff(beats))) if len(beats) > 1 else 0.5
        stop_beats = 2 if period < STOP_BREAK_S else 1
        reentries = {b: min([b + stop_beats, *(c for c in hit_beats if c > b)])
                     for b, k in hit_beats.items() if k == "stop"}
        last_needed = max([*(b for b, k in hit_beats.items() if k != "stop"),
                           *(r for r in reentries.values() if beats[r] < duration - 0.3)], default=-1)
        end_beat = min(max(end_beat, last_needed), len(beats) - 2)
        breaks = tuple((float(beats[b]), float(beats[r]) if r <= end_beat else duration)
                       for b, r in sorted(reentries.items()))
        pinned = frozenset(hit_beats) | frozenset(r for r in reentries.values() if r <= end_beat)
        section_hits = sorted(b for b, k in hit_beats.items() if k == "section" and 0 < b < end_beat)

        # Section starts: major cuts on beats, at least MIN_SECTION_BARS apart, before the ending,
        # which opens its own bar so the final tonic falls on a downbeat.
        starts = [0]
        min_gap = MIN_SECTION_BARS * bpb
        for b in sorted(cut_beats):
            since = b - starts[-1]
            # Grooves change section off the bar line (a shortened bar) only after a full phrase.
            aligned = style.free_meter or since % bpb == 0 or since >= 2 * min_gap
            near_hit = any(abs(b - h) < bpb for h in section_hits)  # a hit outranks a cut
            if cut_beats[b] >= MAJOR_CUT and since >= min_gap and aligned and end_beat - b >= bpb and not near_hit:
                starts.append(b)
        if end_beat - starts[-1] < bpb and len(starts) > 1:
            starts.pop()
        starts = sorted(set(starts) | set(section_hits))
        if end_beat > 0 and end_beat not in starts:
            starts.append(end_beat)
        starts_on_cut = {b for b in starts if b in cut_beats or b in section_hits}
        bars = _build_bars(starts, cut_beats, end_beat, len(beats), bpb, style.free_meter, pinned)
        bar_of_beat = {bar.start_beat: i for i, bar in enumerate(bars)}
        section_bars = [(bar_of_beat[s0], bar_of_beat[s1] if s1 in bar_of_beat else len(bars))
                        for s0, s1 in zip(starts, starts[1:] + [len(beats) - 1], strict=True)]

    # Long sections without cuts become phrases of PHRASE_BARS bars.
    phrases: list[tuple[int, int, bool]] = []
    for si, (b0, b1) in enumerate(section_bars):
        on_cut = bars[b0].start_beat in starts_on_cut
        last = si == len(section_bars) - 1 and not options.loop  # a loop's last phrase leads into its first
        if last:
            phrases.append((b0, b1, on_cut))
            continue
        while b1 - b0 > PHRASE_BARS + MIN_SECTION_BARS:
            phrases.append((b0, b0 + PHRASE_BARS, on_cut))
            b0, on_cut = b0 + PHRASE_BARS, False
        phrases.append((b0, b1, on_cut))

    # Intensity from motion and pace over each phrase.
    raw = []
    for b0, b1, _ in phrases:
        t0 = float(beats[bars[b0].start_beat]) if b0 else 0.0
        t1 = min(float(beats[bars[b1].start_beat]) if b1 < len(bars) else duration, duration)
        m = _mean_over(analysis.times_s, analysis.motion, t0, t1, 0.3)
        pace = _mean_over(analysis.times_s, analysis.pace, t0, t1, 0.3)
        raw.append(0.15 + 1.2 * m + 0.8 * pace)
    # Energy is part absolute (a frantic edit is loud whatever came before) and part relative
    # to the clip itself (the busiest stretch of a calm film still lifts), plus an arc: after the
    # opening the arrangement builds, as library cues do.
    raw_arr = np.asarray(raw)
    rel = 0.5 + 0.25 * (raw_arr - raw_arr.mean()) / (raw_arr.std() + 0.05)
    arc = np.where(np.arange(len(raw)) >= max(1, len(raw) // 3), 0.15, 0.0)
    levels = _intensities(list(np.clip(0.6 * np.clip(raw_arr, 0, 1) + 0.4 * rel + arc, 0, 1)), style, mood)

    key_rng = np.random.default_rng(
        np.random.SeedSequence([int(options.seed) & 0xFFFFFFFF, 0x4B3, *map(ord, style.name)]))
    tonic, mode, mood_name = choose_key(analysis, style, mood, key_rng)
    # Labels: the busier sections are the "B" (chorus-like) parts; when energy is flat, parts
    # alternate in pairs (A A B B) so the harmony and the melody still move on.
    sections = []
    body = levels[1:-1] if len(levels) > 2 else levels
    low = min(body) if body else 0
    flat = max(body, default=0) == low
    for i, ((b0, b1, on_cut), lvl) in enumerate(zip(phrases, levels, strict=True)):
        if i == len(phrases) - 1 and len(phrases) > 1 and not options.loop:  # a loop has no intro or ending
            label = "outro"
            lvl = max(0, min(lvl, levels[i - 1]))
        elif i == 0 and len(phrases) > 2 and not options.loop:
            label = "intro"
        elif flat:
            label = "B" if (i // 2) % 2 == 1 else "A"
        else:
            label = "B" if lvl > low else "A"
        sections.append(PlannedSection(b0, b1, lvl, label, on_cut))

    # The tempo a listener hears: the average over the beats that play (the map bends around it).
    tempo = 60.0 * end_beat / float(beats[end_beat] - beats[0]) if end_beat >= 2 else grid.tempo_bpm
    return Plan(
        style=style, mood=mood, mood_name=mood_name, duration_s=duration, meter=meter, beats_per_bar=bpb,
        subdivisions=subdiv, tempo_bpm=tempo, beats_s=beats, bars=tuple(bars), sections=tuple(sections),
        tonic_pc=tonic, mode=mode, cut_beats=cut_beats, off_grid_cuts=tuple(off_grid), end_beat=end_beat,
        tempo_reason=choice.reason, hit_beats=tuple(sorted(hit_beats.items())), breaks_s=breaks, loop=options.loop,
        release_s=max(0.6, RING_OUT_RELEASE * float(options.tail_s)),
    )


def _loop_layout(duration: float, lo: float, hi: float, preferred: float, bpb: int,
                 subdiv: int) -> tuple[np.ndarray, tuple, int]:
    """A loop's beats, bars and beat count: whole bars exactly the segment long, at the tempo in
    [lo, hi] nearest `preferred` (the nearest outside it when no whole number of bars fits)."""
    bar_bpm = 60.0 * bpb / duration  # tempo of one bar per segment
    counts = np.arange(1, int(hi / bar_bpm) + 2)  # bars per loop
    bpm = counts * bar_bpm
    inside = (bpm >= lo) & (bpm <= hi)
    cost = np.where(inside, np.abs(bpm - preferred), 1e6 + np.minimum(np.abs(bpm - lo), np.abs(bpm - hi)))
    n_bars = int(counts[int(np.argmin(cost))])
    if not inside[int(np.argmin(cost))] and not lo / 1.25 <= bpm[n_bars - 1] <= hi * 1.25:
        raise RequestError(f"a {duration:.2f} s loop holds no whole number of bars near the style's tempo "
                           f"({lo:g}-{hi:g} BPM); make the segment a few bars long or choose another tempo range")
    n_beats = n_bars * bpb
    period = duration / n_beats
    # The file starts half a subdivision before the first downbeat: the join then falls between
    # two attacks, where the music only sustains, never on one (an attack split by the join
    # reads as a click).
    phase = period / (2 * (3 if bpb == 3 and subdiv == 3 else 4))
    beats = phase + period * np.arange(n_beats + 9)  # a few past the end, for note lengths
    bars = tuple(Bar(i * bpb, bpb) for i in range((len(beats) - 1) // bpb))
    return beats, bars, n_beats


def is_major(mode: str) -> bool:
    return mode in MAJOR_FAMILY
