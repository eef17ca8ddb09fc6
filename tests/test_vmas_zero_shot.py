"""`musicgen`, zero-shot: the prompt written from the picture, installing and verifying a local
MusicGen folder (a tiny random one the tests save), re-ranking candidates by beats, and scoring
through a real server on loopback with the shared length, loudness and peak finishing."""

from __future__ import annotations

import json
import subprocess
import sys
import wave

import numpy as np
import pytest
from vmas_musicgen import save_tiny_musicgen

from scorecut.models.analysis import analyze_segment
from scorecut.models.interface import Clip, RequestError, ScoreOptions, Segment
from scorecut.models.vmas.prompt import ENERGY_WORDS, MusicPrompt, SectionPrompt, write_prompt
from scorecut.models.vmas.zero_shot import rank_candidates
from tests.helpers.servers import ServerProcess, free_port, isolated_env
from tests.helpers.videos import VideoSpec, make_video
from tests.helpers.wavcheck import read_wav

# The tiny model's steps are microseconds of work: one thread each, or a busy CPU spends them
# waiting on each other (10x slower on the shared 2-core test machine).
ONE_THREAD = {"OMP_NUM_THREADS": "1"}


def cli(*args: str, home, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "scorecut.cli.main", *args], capture_output=True, text=True,
                          env={**isolated_env(home), **ONE_THREAD}, timeout=timeout)


def models_folder(home):
    return home / ".local/share/scorecut/models"  # the platformdirs model folder under isolated_env


@pytest.fixture(scope="module")
def tiny_musicgen(tmp_path_factory):
    return save_tiny_musicgen(tmp_path_factory.mktemp("tiny-musicgen") / "musicgen-tiny")


def _analysis(tmp_path, name: str, spec: VideoSpec):
    path = make_video(tmp_path / f"{name}.mp4", spec)
    return analyze_segment(Segment((Clip(str(path), 0.0, spec.duration_s, 0.0, spec.duration_s),), spec.duration_s))


# ---------------------------------------------------------------- the prompt


@pytest.fixture(scope="module")
def calm_and_busy(tmp_path_factory):
    d = tmp_path_factory.mktemp("prompt-videos")
    calm = _analysis(d, "calm", VideoSpec(8.0, size=(96, 64), motion=0.2, seed=1))
    busy = _analysis(d, "busy", VideoSpec(8.0, cuts_s=(0.9, 1.7, 2.4, 3.3, 4.1, 4.8, 5.6, 6.3, 7.1), size=(96, 64),
                                          motion=6.0, pan=4.0, seed=2))
    return calm, busy


def test_the_prompt_names_the_style_its_instruments_and_the_mood(calm_and_busy):
    _, busy = calm_and_busy
    cinematic = write_prompt(busy, ScoreOptions(style="cinematic", mood="dark"))
    assert cinematic.description.startswith("cinematic film score, dark, brooding mood, orchestral strings")
    assert cinematic.key.endswith(" minor") and cinematic.key in cinematic.description
    electronic = write_prompt(busy, ScoreOptions(style="electronic", mood="bright"))
    assert electronic.description.startswith(
        "electronic dance track, bright, uplifting mood, four-on-the-floor drum machine")
    assert electronic.key.endswith(" major")
    lofi = write_prompt(busy, ScoreOptions(style="lofi", mood="sad"))
    assert "lo-fi hip hop beat" in lofi.text and "sad, melancholic mood" in lofi.text and "electric piano" in lofi.text
    assert "cinematic" not in lofi.text and "drum machine" not in lofi.text
    # No mood asked: the picture's (the composer's derivation) is named, never left blank.
    derived = write_prompt(busy, ScoreOptions(style="ambient"))
    assert derived.mood in ("bright", "warm", "calm", "dark", "serious") and f"{derived.mood}" in derived.text


def test_the_prompt_carries_the_tempo_asked_for_and_the_meter(calm_and_busy):
    calm, _ = calm_and_busy
    fixed = write_prompt(calm, ScoreOptions(style="acoustic_pop", tempo_min_bpm=100, tempo_max_bpm=100))
    assert ", 100 bpm," in fixed.description and fixed.tempo_bpm == 100
    fast = write_prompt(calm, ScoreOptions(style="acoustic_pop", tempo_min_bpm=150, tempo_max_bpm=160))
    assert 150 <= fast.tempo_bpm <= 160 and f"{fast.tempo_bpm:.0f} bpm" in fast.description
    waltz = write_prompt(calm, ScoreOptions(style="cinematic", meter="3/4"))
    assert waltz.description.endswith("in 3/4 waltz time")
    assert "waltz" not in write_prompt(calm, ScoreOptions(style="cinematic")).description
    with pytest.raises(RequestError, match="unknown style 'polka'"):
        write_prompt(calm, ScoreOptions(style="polka"))


def test_the_energy_words_follow_the_picture(calm_and_busy):
    calm, busy = calm_and_busy
    quiet = write_prompt(calm, ScoreOptions(style="ambient", mood="calm"))
    loud = write_prompt(busy, ScoreOptions(style="electronic", mood="epic"))
    assert max(s.intensity for s in quiet.sections) <= 1 and max(s.intensity for s in loud.sections) >= 3
    assert "very soft and sparse" in quiet.text or "soft and gentle" in quiet.text
    assert "driving, full groove" in loud.text or "intense, powerful climax" in loud.text
    assert "intense" not in quiet.text and "sparse" not in loud.text
    for prompt in (quiet, loud):
        assert prompt.sections[0].start_s == 0 and prompt.sections[-1].end_s == pytest.approx(8.0)
        assert all(s.energy == ENERGY_WORDS[s.intensity] for s in prompt.sections)


def test_each_window_hears_the_energy_of_its_own_sections():
    sections = (SectionPrompt(0.0, 10.0, 1, "intro", ENERGY_WORDS[1]),
                SectionPrompt(10.0, 25.0, 3, "A", ENERGY_WORDS[3]),
                SectionPrompt(25.0, 40.0, 3, "B", ENERGY_WORDS[3]),
                SectionPrompt(40.0, 50.0, 0, "outro", ENERGY_WORDS[0]))
    prompt = MusicPrompt("ambient soundscape", 80.0, "C major", "calm", sections)
    assert prompt.for_window(0.0, 30.0) == "ambient soundscape, soft and gentle, then driving, full groove"
    assert prompt.for_window(20.0, 50.0) == "ambient soundscape, driving, full groove, then very soft and sparse"
    assert prompt.for_window(12.0, 24.0) == "ambient soundscape, driving, full groove"
    assert prompt.text == ("ambient soundscape, soft and gentle, then driving, full groove, then very soft and sparse")


# ---------------------------------------------------------------- re-ranking


def test_rank_candidates_keeps_the_one_whose_beats_meet_the_cuts():
    cuts = np.array([1.0, 2.0, 3.0, 4.0])
    off = np.arange(0.25, 5.0, 0.5)  # a steady pulse a quarter second from every cut
    on = np.arange(0.5, 5.0, 0.5)  # every other beat on a cut
    ranking = rank_candidates([off, on, np.zeros(0)], cuts, 0.1)
    assert ranking.chosen == 1 and ranking.scores[1] == pytest.approx(2 * 1.0 * (4 / 9) / (1 + 4 / 9))
    assert ranking.scores[0] == 0.0 and ranking.scores[2] == 0.0 and ranking.beats == (len(off), len(on), 0)
    doc = ranking.to_json()
    assert doc["chosen"] == 1 and doc["targets"] == 4 and [c["index"] for c in doc["candidates"]] == [0, 1, 2]


# ---------------------------------------------------------------- install, verify, list


def test_models_add_names_what_is_wrong_with_a_folder(tiny_musicgen, tmp_path):
    import shutil

    missing = cli("models", "add", "musicgen", str(tmp_path / "nowhere"), home=tmp_path)
    assert missing.returncode == 1 and "nowhere is not there" in missing.stderr, missing.stderr
    (tmp_path / "empty").mkdir()
    empty = cli("models", "add", "musicgen", str(tmp_path / "empty"), home=tmp_path)
    assert empty.returncode == 1 and "has no config.json" in empty.stderr

    gutted = tmp_path / "gutted"
    shutil.copytree(tiny_musicgen, gutted)
    (gutted / "model.safetensors").unlink()
    (gutted / "tokenizer.json").unlink()
    run = cli("models", "add", "musicgen", str(gutted), home=tmp_path)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert "the weights are missing" in run.stderr and "the T5 tokenizer is missing" in run.stderr, run.stderr

    # Weights without the text encoder's tensors: named from the safetensors header alone.
    from safetensors.torch import load_file, save_file

    partial = tmp_path / "partial"
    shutil.copytree(tiny_musicgen, partial)
    tensors = load_file(partial / "model.safetensors")
    save_file({k: v for k, v in tensors.items() if not k.startswith("text_encoder.")}, partial / "model.safetensors")
    run = cli("models", "add", "musicgen", str(partial), home=tmp_path)
    assert run.returncode == 1 and "no tensors for the T5 text encoder (text_encoder.*)" in run.stderr, run.stderr

    other = tmp_path / "other"
    shutil.copytree(tiny_musicgen, other)
    config = json.loads((other / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**config, "model_type": "bert"}))
    run = cli("models", "add", "musicgen", str(other), home=tmp_path)
    assert run.returncode == 1 and "holds a 'bert' model, not MusicGen" in run.stderr
    assert not (models_folder(tmp_path) / "musicgen").exists()  # nothing half-installed


def test_models_add_then_list_and_verify_musicgen(tiny_musicgen, tmp_path):
    before = cli("models", "list", "--local", home=tmp_path)
    line = next(x for x in before.stdout.splitlines() if x.strip().startswith("musicgen"))
    assert "unavailable" in line and "scorecut models add musicgen DIR" in before.stdout
    not_yet = cli("models", "verify", "musicgen", home=tmp_path)
    assert not_yet.returncode == 1 and "scorecut models add musicgen DIR" in not_yet.stderr

    (tiny_musicgen / "README.md").unlink(missing_ok=True)
    added = cli("models", "add", "musicgen", str(tiny_musicgen), home=tmp_path)
    assert added.returncode == 0, added.stderr
    installed = models_folder(tmp_path) / "musicgen"
    assert installed.is_dir() and (installed / "model.safetensors").read_bytes() == (
        tiny_musicgen / "model.safetensors").read_bytes()
    assert "CC BY-NC 4.0: non-commercial use only" in added.stdout  # the published weights' licence (default)

    after = cli("models", "list", "--local", home=tmp_path)
    block = after.stdout.split("musicgen", 1)[1]
    assert block.split("\n", 1)[0].split()[0] == "available" and "stems: mix only" in block
    assert "non-commercial use only" in block

    out = tmp_path / "check.wav"
    verified = cli("models", "verify", "musicgen", "--out", str(out), home=tmp_path)
    assert verified.returncode == 0, verified.stderr
    assert f"1 s of music written to {out}" in verified.stdout
    with wave.open(str(out)) as w:
        assert w.getframerate() == 8000 and w.getnframes() == 8000 and w.getnchannels() == 1  # the tiny codec's rate
    audio, _ = read_wav(out)
    assert np.isfinite(audio).all() and np.abs(audio).max() > 0

    # Re-adding replaces the install atomically; a licence in the folder's README is read.
    (tiny_musicgen / "README.md").write_text("---\nlicense: mit\ntags: [music]\n---\n# tiny\n")
    again = cli("models", "add", "musicgen", str(tiny_musicgen), home=tmp_path)
    assert again.returncode == 0 and "weights licensed MIT" in again.stdout, again.stdout
    assert sorted(p.name for p in models_folder(tmp_path).iterdir()) == ["musicgen"]  # no staging left
    (tiny_musicgen / "README.md").unlink()


# ---------------------------------------------------------------- through a real server


def test_getinfo_lists_musicgen_unavailable_with_the_fix_and_refuses_requests(server, media_root):
    import grpc

    from scorecut.v1 import scorecut_pb2 as pb
    from tests.helpers.server_calls import assert_actionable, clip, request, status_of, stub, video

    s, _ = stub(server.address)
    models = {m.name: m for m in s.GetInfo(pb.GetInfoRequest(), timeout=30).models}
    musicgen = models["musicgen"]
    assert not musicgen.available and "scorecut models add musicgen DIR" in musicgen.unavailable_reason
    assert list(musicgen.stems) == [] and musicgen.native_output == "mix"
    assert "CC BY-NC 4.0: non-commercial use only" in musicgen.description
    path = video(media_root, "musicgen-missing.mp4", 2.0, cuts_s=(1.0,))
    error = status_of(lambda: s.Score(request(clip(path), model="musicgen"), timeout=60))
    assert_actionable(error, grpc.StatusCode.FAILED_PRECONDITION, "scorecut models add musicgen")


@pytest.fixture(scope="module")
def musicgen_server(tiny_musicgen, tmp_path_factory, media_root):
    """A server whose model folder has the tiny MusicGen installed by `scorecut models add`, making
    3 candidates (the environment's override of the CPU default)."""
    home = tmp_path_factory.mktemp("musicgen-server-home")
    added = cli("models", "add", "musicgen", str(tiny_musicgen), home=home)
    assert added.returncode == 0, added.stderr
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SCORECUT_MUSICGEN_CANDIDATES", "3")
        env.setenv("OMP_NUM_THREADS", ONE_THREAD["OMP_NUM_THREADS"])
        srv = ServerProcess(free_port(), home, media_root, ["--device", "cpu"]).start()
    yield srv
    srv.stop()


def test_score_with_musicgen_through_a_server(musicgen_server, media_root, tmp_path):
    import pyloudnorm
    from test_composer_audio import _true_peak_dbtp

    spec = VideoSpec(2.6, cuts_s=(0.9, 1.7), size=(96, 64), motion=3.0, seed=4)
    path = make_video(media_root / "musicgen-clip.mp4", spec)
    out = tmp_path / "scored"
    run = cli("score", f"{path}#t=0.2,1.8", "--model", "musicgen", "--style", "electronic", "--mood", "tense",
              "--seed", "7", "--server", musicgen_server.address, "--out-dir", str(out), "--name", "take",
              home=tmp_path, timeout=600)
    assert run.returncode == 0, run.stderr + musicgen_server.log()[-3000:]
    score = json.loads((out / "take" / "score.json").read_text())
    assert score["model"] == "musicgen" and score["seed"] == 7 and score["stems"] == []
    mix, rate = read_wav(out / "take" / "mix.wav")
    assert rate == 48_000 and mix.shape == (round(1.6 * 48_000), 2)  # exact length, in samples
    # Loudness and peak as the composer's results are held to (test_composer_audio).
    assert abs(pyloudnorm.Meter(rate).integrated_loudness(mix) - (-16.0)) <= 1.0, score.get("loudness_note")
    assert _true_peak_dbtp(mix.T) <= -1.0

    notes = score["musicgen"]
    assert notes["prompt"].startswith("electronic dance track, tense, suspenseful mood, four-on-the-floor drum machine")
    assert notes["licence"] == "cc-by-nc-4.0" and len(notes["base_sha256"]) == 64
    rerank = notes["rerank"]
    assert [c["index"] for c in rerank["candidates"]] == [0, 1, 2]  # SCORECUT_MUSICGEN_CANDIDATES=3
    scores = [c["beat_score"] for c in rerank["candidates"]]
    assert all(0.0 <= x <= 1.0 for x in scores) and rerank["chosen"] == int(np.argmax(scores))
    assert rerank["targets"] >= len(score["cuts_s"]) >= 2  # the cuts (and visual beats) scored against
    # The plan's beats are the chosen candidate's.
    assert len(score["beats_s"]) <= rerank["candidates"][rerank["chosen"]]["beats"]
    # Past the window: the tiny model's positional table holds 256 steps (0.5 s at 500 frames/s),
    # so 1.6 s took several windows, each continuing the last.
    assert len(notes["window_prompts"]) >= 4
    assert all(w["prompt"].startswith("electronic dance track, tense") for w in notes["window_prompts"])
    assert notes["window_prompts"][0]["start_s"] == 0
    assert notes["window_prompts"][-1]["end_s"] == pytest.approx(1.6, abs=0.01)


def test_rank_audio_tracks_beats_in_the_audio_and_keeps_the_take_on_the_cuts():
    """The same tracking and ranking compose() runs, on audio whose beats are known: a 120 BPM
    pulse whose beats fall on the cuts wins over the same pulse a quarter second late."""
    from scorecut.models.vmas.zero_shot import rank_audio

    rate, duration = 16_000, 6.0
    t = np.arange(int(rate * duration)) / rate

    def pulse(phase_s: float) -> np.ndarray:
        since = (t - phase_s) % 0.5  # seconds since the last beat
        return (np.sin(2 * np.pi * 110 * t) * np.exp(-since / 0.04) * (t >= phase_s)).astype(np.float32)

    cuts = np.array([1.0, 2.5, 4.0, 5.0])
    late, on = pulse(0.25), pulse(0.0)
    beats, ranking = rank_audio([late, on], rate, duration, cuts, 0.1)
    # Every cut met (recall 1) by 4 of 12 beats (precision 1/3): F = 0.5; the late take meets none.
    assert ranking.chosen == 1 and ranking.scores == (0.0, pytest.approx(0.5)), ranking
    assert len(beats[1]) == 12 and np.allclose(np.diff(beats[1][1:]), 0.5, atol=0.01)  # it heard the 120 BPM pulse
    assert all(np.min(np.abs(beats[1] - c)) < 0.03 for c in cuts)
