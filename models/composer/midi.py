"""score.mid: the performance as a Standard MIDI File, with a tempo map of every bent bar.

Type 1 file: track 0 is the conductor (tempo map, time signatures), then one track per stem
(named after the stem, with its program changes). The plan's beats are the file's beats: beat i
of the plan sits on tick `lead_ticks + i * ticks_per_beat`, and each beat interval has its own
tempo, so a DAW's beat grid falls where score.json's `beats_s` say (within the microsecond
resolution of a MIDI tempo). Music before the first beat gets whole pickup beats of its own.

In 6/8 a plan beat is a dotted quarter (1.5 MIDI quarter notes); otherwise it is a quarter.
"""

from __future__ import annotations

import io
import math

import numpy as np

from ..interface import MusicalPlan
from .performance import Track

TICKS_PER_QUARTER = 960  # fine enough that rounding a time to a tick moves it < 0.6 ms at 60 BPM
DRIFT_S = 50e-6  # a beat of the file may sit this far from the plan's before the tempo is restated
SINGLE_TEMPO_US = 500_000  # 120 BPM, for a plan without two beats to take a tempo from


def quarters_per_beat(meter: str) -> float:
    return 1.5 if meter == "6/8" else 1.0


class TempoMap:
    """Seconds <-> ticks along the plan's beats (piecewise linear: one tempo per beat interval)."""

    def __init__(self, plan: MusicalPlan):
        self.ticks_per_beat = int(round(TICKS_PER_QUARTER * quarters_per_beat(plan.meter)))
        beats = np.asarray(plan.beats_s, dtype=np.float64)
        if len(beats) < 2:
            period = SINGLE_TEMPO_US / 1e6 * quarters_per_beat(plan.meter)
            beats = np.array([0.0, period]) if len(beats) == 0 else np.array([beats[0], beats[0] + period])
        self.plan_beats = beats
        first_period = beats[1] - beats[0]
        # Whole pickup beats before the first beat, each beats[0] / lead long (none when it is at 0).
        self.lead_beats = math.ceil(beats[0] / first_period - 1e-9) if beats[0] > 1e-9 else 0
        lead = np.linspace(0.0, beats[0], self.lead_beats, endpoint=False)
        self.beats = np.concatenate([lead, beats])  # the file's beat k at tick k * ticks_per_beat

    def ticks(self, time_s: float) -> int:
        """The tick of a time in seconds (after the last beat, the last tempo goes on)."""
        b = self.beats
        k = int(np.searchsorted(b, time_s, side="right")) - 1
        k = min(max(k, 0), len(b) - 2)
        return int(round((k + (time_s - b[k]) / (b[k + 1] - b[k])) * self.ticks_per_beat))

    def tempos_us(self) -> list[tuple[int, int]]:
        """(tick, microseconds per quarter note) at each beat whose length changes."""
        out, last, now = [], None, self.beats[0]
        quarters = self.ticks_per_beat / TICKS_PER_QUARTER
        for k in range(len(self.beats) - 1):
            # Keep the tempo while the beats it makes stay within DRIFT_S of the plan's; a new
            # tempo aims at the plan's next beat from where the file's beat is, so errors never add up.
            if last is None or abs(now + last * quarters / 1e6 - self.beats[k + 1]) > DRIFT_S:
                last = int(round((self.beats[k + 1] - now) / quarters * 1e6))
                out.append((k * self.ticks_per_beat, last))
            now += last * quarters / 1e6
        return out


def _time_signatures(plan: MusicalPlan, tempo: TempoMap) -> list[tuple[int, int, int]]:
    """(tick, numerator, denominator) where a bar's beat count differs from the bar before."""
    eighths = plan.meter == "6/8"
    starts = sorted({0} | {tempo.ticks(t) for t in plan.downbeats_s})
    out, last = [], None
    for start, end in zip(starts, starts[1:] + [None], strict=True):
        n_beats = round(((end if end is not None else start + 10**9) - start) / tempo.ticks_per_beat)
        if end is None:
            n_beats = int(plan.meter.split("/")[0]) // (3 if eighths else 1)
        n_beats = max(int(n_beats), 1)
        signature = (n_beats * 3, 8) if eighths else (n_beats, 4)
        if signature != last:
            out.append((start, *signature))
            last = signature
    return out


def _track(name: str, messages: list[tuple[int, object]], end_tick: int):
    import mido

    track = mido.MidiTrack([mido.MetaMessage("track_name", name=name, time=0)])
    now = 0
    for tick, message in sorted(messages, key=lambda m: m[0]):  # stable: the events' own order at a tick
        track.append(message.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=max(end_tick - now, 0)))
    return track


def midi_bytes(tracks: dict[str, Track], plan: MusicalPlan, duration_s: float) -> bytes:
    """score.mid's bytes for the stems' tracks (models/composer/performance.perform)."""
    import mido  # light, but only the composer needs it

    tempo = TempoMap(plan)
    end_tick = tempo.ticks(duration_s)
    conductor = [(tick, mido.MetaMessage("set_tempo", tempo=us)) for tick, us in tempo.tempos_us()]
    conductor += [(tick, mido.MetaMessage("time_signature", numerator=n, denominator=d))
                  for tick, n, d in _time_signatures(plan, tempo)]
    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_QUARTER)
    midi.tracks.append(_track("tempo", conductor, end_tick))
    for stem, track in tracks.items():
        messages = []
        for channel, bank, program in track.programs:
            if bank != 128:  # the percussion channel is a kit by itself in General MIDI
                messages.append((0, mido.Message("program_change", channel=channel, program=program)))
        for e in track.events:
            tick = tempo.ticks(e.time_s)
            if e.kind == "control":
                messages.append((tick, mido.Message("control_change", channel=e.channel, control=e.a, value=e.b)))
            else:
                messages.append((tick, mido.Message(e.kind, channel=e.channel, note=e.a, velocity=e.b)))
        midi.tracks.append(_track(stem, messages, end_tick))
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


# The key of score.mid's bytes (base64) in ModelOutput.extra; the client writes them as score.mid
# beside the stems and leaves them out of score.json (plugins/client/output.py).
MIDI_EXTRA = "score_mid_base64"


def score_mid_base64(arrangement, duration_s: float, articulate: bool = False) -> str:
    """The arrangement's score.mid (see `midi_bytes`) as base64 text for score.json's extras."""
    import base64

    from .performance import perform

    tracks = perform(arrangement, articulate=articulate)
    return base64.b64encode(midi_bytes(tracks, arrangement.plan, duration_s)).decode("ascii")
