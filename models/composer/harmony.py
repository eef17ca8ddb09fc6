"""Harmony: progressions per section, a chord per bar (or half bar), voice-led voicings, a cadence.

Chords are roman numerals relative to the tonic: "I", "vi7", "bVImaj7", "V9", "Iadd9", "ii°".
Upper case is a major triad, lower case minor; "b" lowers the root a semitone.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import cache

import numpy as np

from .plan import Plan, is_major
from .styles import MODE_PROGRESSIONS

VOICING_LOW, VOICING_HIGH = 48, 72  # C3..C5: the register a pad or a comping hand sits in
_ROMAN = {"i": 0, "ii": 2, "iii": 4, "iv": 5, "v": 7, "vi": 9, "vii": 11}
_PATTERN = re.compile(r"^([b#]?)(vii|iii|vi|iv|ii|v|i)(°|dim)?(maj9|maj7|add9|sus4|sus2|7|9)?$", re.IGNORECASE)


@dataclass(frozen=True)
class Chord:
    symbol: str  # the roman numeral it came from
    root_pc: int  # pitch class of the root, 0 = C
    intervals: tuple[int, ...]  # semitones above the root, sorted, root first (0)
    start_beat: float  # fractional beat index where it starts
    end_beat: float  # exclusive

    @property
    def pcs(self) -> tuple[int, ...]:
        return tuple((self.root_pc + i) % 12 for i in self.intervals)


@cache
def parse_chord(symbol: str, tonic_pc: int) -> tuple[int, tuple[int, ...]]:
    """(root pitch class, intervals) of a roman-numeral chord in the key of `tonic_pc`."""
    m = _PATTERN.match(symbol)
    if not m:
        raise ValueError(f"bad chord symbol {symbol!r}")
    accidental, numeral, dim, ext = m.groups()
    root = (tonic_pc + _ROMAN[numeral.lower()] + (-1 if accidental == "b" else 1 if accidental == "#" else 0)) % 12
    minor = numeral.islower()
    if dim:
        ivs = [0, 3, 6]
    elif ext == "sus4":
        ivs = [0, 5, 7]
    elif ext == "sus2":
        ivs = [0, 2, 7]
    else:
        ivs = [0, 3 if minor else 4, 7]
    if ext in ("7", "9"):
        ivs.append(10)  # dominant 7th on major, minor 7th on minor chords
    if ext in ("maj7", "maj9"):
        ivs.append(11)
    if ext in ("9", "maj9", "add9"):
        ivs.append(14)
    return root, tuple(ivs)


def progressions_for(plan: Plan) -> tuple[tuple[str, ...], ...]:
    style = plan.style
    if plan.mode in MODE_PROGRESSIONS:
        return MODE_PROGRESSIONS[plan.mode]
    return style.major if is_major(plan.mode) else style.minor


def cadence(plan: Plan) -> tuple[str, str]:
    """(approach chord, final chord): V–I for grooves, IV–I (plagal) for the softer styles."""
    major = is_major(plan.mode)
    plagal = plan.style.name in ("ambient",)
    dom = "V7" if plan.style.name == "lofi" else "V"
    if major:
        return ("IV" if plagal else dom), ("Iadd9" if plan.style.name in ("ambient", "lofi") else "I")
    if plan.mode == "phrygian":
        return "bII", "i"
    return ("iv" if plagal else dom), "i"


def chord_timeline(plan: Plan, rng: np.random.Generator) -> list[Chord]:
    """A chord per bar (two per full 4/4 bar where the style moves faster), progressions restart
    at each section, the last bars carry the cadence onto the tonic at `plan.end_beat`."""
    options = progressions_for(plan)
    pick = rng.permutation(len(options))
    prog_a = options[int(pick[0])]
    prog_b = options[int(pick[1 % len(options)])]
    approach, final = cadence(plan)
    chords: list[Chord] = []
    end_bar = next((i for i, b in enumerate(plan.bars) if b.start_beat >= plan.end_beat), len(plan.bars) - 1)
    step, prog = 0, None
    for sec in plan.sections:
        # A progression runs on across sections and starts afresh only when the section's
        # colour changes (A <-> B): short sections would otherwise only ever play its first chords.
        new = prog_b if sec.label == "B" else prog_a
        if new is not prog:
            prog, step = new, 0
        for bi in range(sec.first_bar, sec.end_bar):
            bar = plan.bars[bi]
            if bi >= end_bar:
                symbols, halves = [final], [bar.n_beats]
            elif bi == end_bar - 1:
                symbols, halves = [approach], [bar.n_beats]
            elif plan.style.chords_per_bar == 2 and bar.n_beats == 4:
                symbols = [prog[step % len(prog)], prog[(step + 1) % len(prog)]]
                halves, step = [2, 2], step + 2
            else:
                symbols, halves, step = [prog[step % len(prog)]], [bar.n_beats], step + 1
            b = float(bar.start_beat)
            for sym, n in zip(symbols, halves, strict=False):
                root, ivs = parse_chord(sym, plan.tonic_pc)
                chords.append(Chord(sym, root, ivs, b, b + n))
                b += n
    return chords


@cache
def _candidates(pcs: tuple[int, ...], root_pc: int, voices: int) -> np.ndarray:
    """All voicings (m, voices) of the pitch classes in [VOICING_LOW, VOICING_HIGH], ascending,
    every pitch class present, adjacent voices at most an octave apart, no muddy low seconds."""
    pitches = [p for p in range(VOICING_LOW, VOICING_HIGH + 1) if p % 12 in pcs]
    need = set(pcs)
    out = []
    for combo in itertools.combinations(pitches, voices):
        if not need.issubset({p % 12 for p in combo}):
            continue
        gaps = np.diff(combo)
        if gaps.max() > 12 or (combo[0] < 55 and gaps[0] < 3):
            continue
        out.append(combo)
    if not out:  # wide chords: drop the fifth
        return _candidates(tuple(p for p in pcs if p != (root_pc + 7) % 12), root_pc, voices)
    return np.asarray(out, dtype=np.int64)


def voice(chords: list[Chord], centre: int = 62) -> list[tuple[int, ...]]:
    """Voicings by nearest chord tones: each chord moves the least from the one before."""
    voicings = []
    prev = None
    for ch in chords:
        ivs = ch.intervals
        if len(ivs) >= 5:  # ninth chords: third, seventh, ninth and the root or fifth
            ivs = tuple(i for i in ivs if i != 7)
        pcs = tuple(sorted({(ch.root_pc + i) % 12 for i in ivs}))
        voices = 4
        cand = _candidates(pcs, ch.root_pc, voices)
        if prev is None:
            cost = np.abs(cand.mean(axis=1) - centre) + 2.0 * (cand[:, 0] % 12 != ch.root_pc)
        else:
            cost = np.abs(cand - np.asarray(prev)).sum(axis=1) + 0.15 * np.abs(cand.mean(axis=1) - centre)
        if 3 in ch.intervals:
            # Minor chords double their third: it is what makes them sound minor, and every
            # note's own fifth partial (a major third) works against it.
            third = (ch.root_pc + 3) % 12
            cost = cost - 2.5 * ((cand % 12) == third).sum(axis=1)
        best = tuple(int(p) for p in cand[int(np.argmin(cost))])
        voicings.append(best)
        prev = best
    return voicings
