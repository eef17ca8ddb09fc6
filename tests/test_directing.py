"""Directing the music (hit points, ring-out tails, loops, re-rolls), judged on the finished audio.

A real PyAV clip with cuts at irregular times goes through the real pipeline (analysis ->
composer -> post). What was promised is checked by tools that know nothing of the plan:
librosa's onset detector for hits, levels and spectral flux measured on the samples.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from scorecut.models.interface import Hit, RequestError, ScoreOptions
from tests.helpers.composing import analysed_edit, compose

CLIP_S = 8.0
SR = 48_000
CUTS_S = (1.93, 4.41, 6.27)  # an editor's irregular cuts
HITS = (Hit(3.3), Hit(5.0, "stop"), Hit(6.9, "section"))
ONSET_WINDOW_S = 0.05  # onset evaluation's usual tolerance (MIREX): the detector's peak may lag the attack


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """(segment, analysis) of a made clip, analysed once for every test here."""
    return analysed_edit(tmp_path_factory.mktemp("directing"), CLIP_S, CUTS_S)


def mono(x: np.ndarray) -> np.ndarray:
    return x.mean(axis=0).astype(np.float64)


def rms_db(x: np.ndarray) -> float:
    return 10.0 * np.log10(float(np.mean(x ** 2)) + 1e-20)


def onsets_s(mix: np.ndarray) -> np.ndarray:
    """Onset times librosa hears in the mix (its own detector, at 22.05 kHz)."""
    import librosa
    from scipy.signal import resample_poly

    y = resample_poly(mono(mix), 147, 320).astype(np.float32)
    return np.asarray(librosa.onset.onset_detect(y=y, sr=22050, hop_length=256, units="time", backtrack=False))


@pytest.mark.parametrize("style", ["cinematic", "electronic"])
def test_hits_land_on_downbeats_are_heard_stop_and_section(clip, style):
    finished = compose(clip, style=style, seed=2, hits=HITS)
    plan = finished.plan
    downbeats = np.asarray(plan.downbeats_s)
    heard = onsets_s(finished.mix)
    body = rms_db(mono(finished.mix))
    for h in HITS:
        if h.kind in ("hit", "stop"):
            assert np.min(np.abs(downbeats - h.time_s)) <= 0.010, (h, downbeats)
        if h.kind == "hit":
            # The detector, knowing nothing of the plan, hears an attack on the frame.
            near = heard[np.abs(heard - h.time_s) <= ONSET_WINDOW_S]
            assert len(near), (h, heard)
        if h.kind == "stop":
            beats = np.asarray(plan.beats_s)
            beat = float(np.min(np.diff(beats)))
            a = int(round((h.time_s + 0.01) * SR))
            b = int(round((h.time_s + beat) * SR))
            assert rms_db(mono(finished.mix[:, a:b])) < body - 40.0
            # ... and the music comes back on the next downbeat.
            back = float(downbeats[downbeats > h.time_s + 0.01][0])
            assert rms_db(mono(finished.mix[:, int(back * SR):int((back + 0.25) * SR)])) > body - 20.0
        if h.kind == "section":
            assert any(abs(s.start_s - h.time_s) <= 0.010 for s in plan.sections), plan.sections
    rows = {r["time_s"]: r for r in finished.extra["hits"]}
    assert all(rows[h.time_s]["met"] and rows[h.time_s]["kind"] == h.kind for h in HITS)


def test_a_hit_outranks_a_cut_beside_it(clip):
    """A hit 0.2 s after a cut: the hit gets the downbeat (the cut does not pull it off)."""
    finished = compose(clip, seed=5, hits=(Hit(CUTS_S[1] + 0.2),))
    assert np.min(np.abs(np.asarray(finished.plan.downbeats_s) - (CUTS_S[1] + 0.2))) <= 0.010


def test_bad_hits_are_request_errors(clip):
    with pytest.raises(RequestError, match="outside the segment"):
        compose(clip, hits=(Hit(CLIP_S + 1),))
    with pytest.raises(RequestError, match="apart"):
        compose(clip, hits=(Hit(2.0), Hit(2.2)))
    from scorecut.plugins.client.hits import DirectionError, parse_hit

    assert parse_hit(" 3.5:STOP") == (3.5, "stop") and parse_hit("2") == (2.0, "hit")
    with pytest.raises(DirectionError, match="unknown kind"):
        parse_hit("3:boom")


def test_tail_rings_out_to_an_exact_length(clip):
    tail = 2.0
    finished = compose(clip, seed=3, tail_s=tail, stems=("drums", "harmony"))
    frames = int(round((CLIP_S + tail) * SR))
    assert finished.mix.shape == (2, frames)
    assert all(x.shape == (2, frames) for x in finished.stems.values())
    body = rms_db(mono(finished.mix[:, : int(CLIP_S * SR)]))
    last = rms_db(mono(finished.mix[:, -int(0.25 * SR):]))
    assert last <= body - 30.0, (last, body)
    # A natural ending: it still sounds past the picture's last frame (not padding), then decays.
    ring = rms_db(mono(finished.mix[:, int(CLIP_S * SR): int((CLIP_S + 0.5) * SR)]))
    assert ring > body - 30.0, (ring, body)
    assert finished.extra["tail_s"] == tail


def _flux(x: np.ndarray, n_fft: int = 2048, hop: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """(frame centres in samples, spectral flux per frame): the summed rise of STFT magnitudes."""
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop] * np.hanning(n_fft)
    mag = np.abs(np.fft.rfft(frames, axis=1))
    flux = np.maximum(mag[1:] - mag[:-1], 0.0).sum(axis=1)
    return np.arange(1, len(mag)) * hop + n_fft // 2, flux


@pytest.mark.parametrize("style", ["electronic", "cinematic"])
def test_loop_is_whole_bars_and_joins_without_a_click(clip, style):
    finished = compose(clip, style=style, seed=4, loop=True)
    plan = finished.plan
    frames = int(round(CLIP_S * SR))
    assert finished.mix.shape == (2, frames)
    beats = np.asarray(plan.beats_s)
    bpb = 3 if plan.meter in ("3/4", "6/8") else 4
    period = CLIP_S / len(beats)
    assert len(beats) % bpb == 0 and np.allclose(np.diff(beats), period, atol=1e-5)
    assert plan.downbeats_s[0] == beats[0] < period / 4  # bar one starts at the top (a hair after the join)
    assert not any(s.label in ("intro", "outro") for s in plan.sections)
    x = mono(finished.mix)
    twice = np.concatenate([x, x])
    steps = np.abs(np.diff(x))
    assert abs(twice[frames] - twice[frames - 1]) <= np.percentile(steps, 95)
    centres, flux = _flux(twice)
    join = np.abs(centres - frames) < 1024  # the frames whose window holds the join
    rest = (centres > 2048) & (centres < frames - 2048)
    assert flux[join].max() <= np.percentile(flux[rest], 95), (flux[join].max(), np.percentile(flux[rest], 95))
    # No fade at either end: the first and last 50 ms play at the level of their neighbourhood.
    edge = int(0.05 * SR)
    for a, b in ((0, edge), (frames - edge, frames)):
        near = rms_db(x[max(a - 4 * edge, 0): a] if a else x[b: b + 4 * edge])
        assert rms_db(x[a:b]) > near - 12.0


def test_reroll_changes_only_the_range(clip):
    base = compose(clip, seed=1, stems=("drums", "melody"))
    again = compose(clip, seed=1, stems=("drums", "melody"), reroll=(3.0, 5.0), reroll_seed=9)
    assert again.plan == base.plan  # the same plan: tempo, beats, key, sections
    outside = np.r_[0: int(2.5 * SR), int(5.5 * SR): base.mix.shape[1]]
    for name in ("mix", "drums", "melody"):
        a = base.mix if name == "mix" else base.stems[name]
        b = again.mix if name == "mix" else again.stems[name]
        assert np.array_equal(a[:, outside], b[:, outside]), name
    inside = slice(int(3.0 * SR), int(5.0 * SR))
    diff = rms_db(mono(again.mix[:, inside] - base.mix[:, inside]))
    assert diff > rms_db(mono(base.mix[:, inside])) - 10.0  # new music, not a nuance
    into, back = again.extra["reroll"]["seams_s"]
    beats = np.asarray(base.plan.beats_s)
    assert np.min(np.abs(beats - into)) < 1e-6 and np.min(np.abs(beats - back)) < 1e-6


def test_cli_directs_through_the_server(server, media_root, tmp_path):
    """scorecut score --hit ... --tail ... against a real server: score.json says what was asked
    and done, and the WAVs are the segment plus the tail long."""
    import json

    from tests.helpers.videos import VideoSpec, make_video
    from tests.helpers.wavcheck import read_wav
    from tests.test_cli_score import run_cli

    video = make_video(media_root / "directed.mp4", VideoSpec(duration_s=6.0, cuts_s=(2.2,), fps=25, seed=3))
    out = tmp_path / "out"
    run = run_cli("score", str(video), "--server", server.address, "--out-dir", str(out), "--seed", "2",
                  "--hit", "3.1", "--hit", "4.4:stop", "--tail", "1.5", "--stems", "drums", home=tmp_path / "home")
    assert run.returncode == 0, run.stderr
    folder = out / "directed"
    score = json.loads((folder / "score.json").read_text())
    assert [(h["time_s"], h["kind"], h["met"]) for h in score["hits"]] == [(3.1, "hit", True), (4.4, "stop", True)]
    assert score["tail_s"] == 1.5
    for name in ("mix.wav", "drums.wav"):
        audio, rate = read_wav(folder / name)[:2]
        assert audio.shape[0] == int(round(7.5 * rate)), name  # (frames, channels)
    # The same take with 2-3.5 s re-rolled: a take of its own, sample-identical outside the handles.
    again = run_cli("score", str(video), "--server", server.address, "--out-dir", str(out), "--seed", "2",
                    "--hit", "3.1", "--hit", "4.4:stop", "--tail", "1.5", "--stems", "drums",
                    "--reroll", "2,3.5", "--reroll-seed", "7", home=tmp_path / "home")
    assert again.returncode == 0, again.stderr
    first, rate = read_wav(folder / "mix.wav")[:2]
    second = read_wav(out / "directed-2" / "mix.wav")[0]
    outside = np.r_[0: int(1.5 * rate), int(4.0 * rate): len(first)]
    assert np.array_equal(first[outside], second[outside]) and not np.array_equal(first, second)
    assert json.loads((out / "directed-2" / "score.json").read_text())["reroll"]["seed"] == 7
    no_seed = run_cli("score", str(video), "--server", server.address, "--reroll", "2,3", home=tmp_path / "home")
    assert no_seed.returncode != 0 and "--reroll-seed" in no_seed.stderr
    bad = run_cli("score", str(video), "--server", server.address, "--out-dir", str(out), "--hit", "3:boom",
                  home=tmp_path / "home")
    assert bad.returncode != 0 and "unknown kind 'boom'" in bad.stderr and "Traceback" not in bad.stderr
    far = run_cli("score", str(video), "--server", server.address, "--out-dir", str(out), "--hit", "9",
                  home=tmp_path / "home")
    assert far.returncode != 0 and "outside the segment" in far.stderr and "Traceback" not in far.stderr


def test_generated_candidates_are_ranked_by_hits_met_first():
    """MusicGen's ranking on audio whose beats are known: the take whose beats fall on the
    editor's hits wins over one that meets the cuts better; score.json's rerank says so."""
    from scorecut.models.vmas.zero_shot import rank_audio

    rate, duration = 16_000, 6.0
    t = np.arange(int(rate * duration)) / rate

    def pulse(phase_s: float) -> np.ndarray:
        since = (t - phase_s) % 0.5  # a 120 BPM pulse
        return (np.sin(2 * np.pi * 110 * t) * np.exp(-since / 0.04) * (t >= phase_s)).astype(np.float32)

    cuts = np.array([1.0, 2.5, 4.0, 5.0])  # on the beats of pulse(0)
    hits = (Hit(1.25), Hit(3.75, "stop"))  # on the beats of pulse(0.25) only
    on_cuts, on_hits = pulse(0.0), pulse(0.25)
    _, plain = rank_audio([on_hits, on_cuts], rate, duration, cuts, 0.1)
    assert plain.chosen == 1  # without hits the cuts decide
    _, directed = rank_audio([on_hits, on_cuts], rate, duration, cuts, 0.1, hits)
    assert directed.chosen == 0 and directed.hits_met == (2, 0), directed
    assert [c["hits_met"] for c in directed.to_json()["candidates"]] == [2, 0]


def test_watch_folder_toml_takes_hits_loop_and_tail(tmp_path):
    from scorecut.plugins.watchfolder.folder import job_options
    from scorecut.plugins.watchfolder.options import OptionsError, options_for

    video = tmp_path / "cut.mp4"
    (tmp_path / "scorecut.toml").write_text('hits = [3.5, "5:stop", "7.25:section"]\ntail = 2\n')
    (tmp_path / "cut.mp4.scorecut.toml").write_text("loop = false\n")
    options = job_options(options_for(video, tmp_path))
    assert options.hits == ((3.5, "hit"), (5.0, "stop"), (7.25, "section")) and options.tail_s == 2.0
    (tmp_path / "cut.mp4.scorecut.toml").write_text('hits = ["4:boom"]\n')
    with pytest.raises(OptionsError, match="unknown kind 'boom'"):
        options_for(video, tmp_path)
    (tmp_path / "cut.mp4.scorecut.toml").write_text('hits = "4"\n')
    with pytest.raises(OptionsError, match="hits must be a list"):
        options_for(video, tmp_path)


def test_models_that_cannot_shape_their_audio_refuse_loops_and_tails():
    from scorecut.models.composer.model import ComposerModel
    from scorecut.models.vmas.zero_shot import info as musicgen_info

    ComposerModel().info().check(ScoreOptions(loop=True))
    ComposerModel().info().check(ScoreOptions(tail_s=2.0))
    generated = musicgen_info()
    mix_only = ScoreOptions(stems=())
    generated.check(replace(mix_only, hits=(Hit(1.0),), reroll=(1.0, 2.0), reroll_seed=3))  # re-ranked, spliced
    with pytest.raises(RequestError, match="cannot make a seamless loop; use the composer"):
        generated.check(replace(mix_only, loop=True))
    with pytest.raises(RequestError, match="cannot make a ring-out tail"):
        generated.check(replace(mix_only, tail_s=1.0))


def test_get_info_says_which_directions_each_model_follows(server):
    from scorecut.plugins.client import ScorecutClient

    with ScorecutClient(server.address) as client:
        models = client.models()
    assert list(models["composer"].directions) == ["hits", "reroll", "loop", "tail"]
    assert list(models["musicgen"].directions) == ["hits", "reroll"]
