"""score.mid: the composer's performance as MIDI, read back with mido's own reader and judged on the
audio by librosa's onset detector.

A real PyAV clip with irregular cuts makes the tempo bend; the beats a DAW reads from the file's
tempo map must be score.json's beats, and every note the file holds must be heard in its stem.
"""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest

from tests.helpers.composing import analysed_edit, compose

CLIP_S = 12.0
CUTS_S = (1.93, 4.41, 6.27, 9.1)
BEAT_TOLERANCE_S = 0.001
ONSET_TOLERANCE_S = 0.020


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """(segment, analysis) of a made clip, analysed once for every test here."""
    return analysed_edit(tmp_path_factory.mktemp("midi"), CLIP_S, CUTS_S)


def read_midi(data: bytes):
    import mido

    return mido.MidiFile(file=io.BytesIO(data))


def tick_seconds(midi):
    """tick -> seconds through the file's tempo map, as a DAW reads it (mido.tick2second per span)."""
    import mido

    changes, tick = [], 0
    for message in midi.tracks[0]:
        tick += message.time
        if message.type == "set_tempo":
            changes.append((tick, message.tempo))
    assert changes and changes[0][0] == 0, "the tempo map must start at tick 0"

    def seconds(target: int) -> float:
        total = 0.0
        for i, (start, tempo) in enumerate(changes):
            end = changes[i + 1][0] if i + 1 < len(changes) else None
            if end is not None and target > end:
                total += mido.tick2second(end - start, midi.ticks_per_beat, tempo)
            else:
                return total + mido.tick2second(target - start, midi.ticks_per_beat, tempo)
        return total

    return seconds, changes


def note_onsets(midi, name: str, seconds) -> np.ndarray:
    track = next(t for t in midi.tracks if t.name == name)
    tick, out = 0, []
    for message in track:
        tick += message.time
        if message.type == "note_on" and message.velocity > 0:
            out.append(seconds(tick))
    return np.array(out)


def detected_onsets(stem: np.ndarray, sr: int) -> np.ndarray:
    """librosa's onsets, rolled back to where each attack starts (its flux peak comes ~10 ms late)."""
    import librosa

    y = stem.mean(axis=0).astype(np.float32)  # (frames,)
    return np.asarray(librosa.onset.onset_detect(y=y, sr=sr, hop_length=128, units="time", backtrack=True))


def unheard(notes: np.ndarray, heard: np.ndarray) -> list[float]:
    return [round(float(t), 3) for t in notes if np.min(np.abs(heard - t)) > ONSET_TOLERANCE_S]


@pytest.mark.parametrize("style,meter", [("acoustic_pop", "4/4"), ("cinematic", "6/8")])
def test_tempo_map_gives_score_beats(clip, style, meter):
    finished = compose(clip, style=style, meter=meter)
    midi = read_midi(base64.b64decode(finished.extra["score_mid_base64"]))
    assert midi.type == 1 and [t.name for t in midi.tracks] == ["tempo", "drums", "bass", "harmony", "melody"]
    seconds, tempos = tick_seconds(midi)
    beats = np.asarray(finished.plan.beats_s)
    assert np.ptp(np.diff(beats)) > 0.005, "the clip's cuts should bend the tempo; the test needs a bent map"
    assert len({us for _, us in tempos}) > 2
    per_beat = int(midi.ticks_per_beat * (1.5 if meter == "6/8" else 1))
    end_tick = max(sum(m.time for m in t) for t in midi.tracks)
    daw = np.array([seconds(k * per_beat) for k in range(end_tick // per_beat + 1)])
    daw = daw[daw > beats[0] - BEAT_TOLERANCE_S][:len(beats)]
    assert len(daw) == len(beats)
    assert np.max(np.abs(daw - beats)) < BEAT_TOLERANCE_S
    assert abs(seconds(end_tick) - finished.plan.beats_s[-1]) < CLIP_S  # the file ends with the music
    programs = {m.channel: m.program for t in midi.tracks for m in t if m.type == "program_change"}
    assert 9 not in programs and len(programs) >= 3  # General MIDI: the kit needs no program


@pytest.mark.parametrize("style,stem", [("acoustic_pop", "bass"), ("corporate", "bass")])
def test_every_note_is_heard_in_its_stem(clip, style, stem):
    finished = compose(clip, style=style)
    midi = read_midi(base64.b64decode(finished.extra["score_mid_base64"]))
    seconds, _ = tick_seconds(midi)
    notes = note_onsets(midi, stem, seconds)
    heard = detected_onsets(finished.stems[stem], finished.sample_rate)
    assert len(notes) >= 8, "a sparse part with enough notes to judge"
    distinct = notes[np.concatenate([[True], np.diff(notes) > 0.08])]  # one onset per attack the ear can split
    misses = unheard(distinct, heard)
    assert not misses, f"notes in score.mid not heard within 20 ms: {misses}; heard {np.round(heard, 3)}"
    assert len(unheard(distinct + 0.05, heard)) > len(distinct) // 2  # the judge tells 50 ms apart


def test_cli_writes_score_mid(server, media_root, tmp_path):
    from scorecut.v1 import sha256_file
    from tests.helpers.videos import VideoSpec, make_video
    from tests.test_cli_score import run_cli

    video = make_video(media_root / "midi_take.mp4", VideoSpec(duration_s=5.0, cuts_s=(2.1,), fps=25, seed=4))
    out = tmp_path / "out"
    run = run_cli("score", str(video), "--server", server.address, "--out-dir", str(out), "--seed", "3",
                  "--style", "lofi", home=tmp_path / "home")
    assert run.returncode == 0, run.stderr
    folder = out / "midi_take"
    document = json.loads((folder / "score.json").read_text())
    assert "score_mid_base64" not in document
    assert document["midi"] == {"file": "score.mid", "sha256": sha256_file(folder / "score.mid")}
    midi = read_midi((folder / "score.mid").read_bytes())
    seconds, _ = tick_seconds(midi)
    per_beat = midi.ticks_per_beat
    daw = np.array([seconds(k * per_beat) for k in range(200)])
    beats = np.asarray(document["beats_s"])
    daw = daw[daw > beats[0] - BEAT_TOLERANCE_S][:len(beats)]
    assert np.max(np.abs(daw - beats)) < BEAT_TOLERANCE_S
