"""ComposerModel as the server uses it: info, options checked, cancel honoured, stems and mix."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from test_composer_plan import analysis

from scorecut.models.composer.model import ComposerModel
from scorecut.models.interface import STEMS, Cancelled, RequestError, ScoreOptions
from scorecut.models.post import finish
from scorecut.models.registry import load_model, model_infos


def test_info_lists_styles_and_moods_and_is_the_default():
    info = ComposerModel().info()
    assert info.name == "composer" and info.available and info.stems == STEMS
    for style in ("cinematic", "ambient", "electronic", "lofi", "acoustic_pop", "corporate"):
        assert style in info.styles
    assert {"bright", "dark", "calm", "tense", "epic"} <= set(info.moods)
    assert isinstance(load_model(""), ComposerModel)
    assert any(i.name == "composer" for i in model_infos())


def test_bad_options_are_request_errors():
    a = analysis(duration=4.0, cuts=(1.3,))
    with pytest.raises(RequestError, match="drums, bass, harmony, melody"):
        ComposerModel().compose(None, a, ScoreOptions(stems=("drums", "vocals")))
    with pytest.raises(RequestError, match="4/4"):
        ComposerModel().compose(None, a, ScoreOptions(meter="5/4"))
    with pytest.raises(RequestError, match="48000"):
        ComposerModel().compose(None, a, ScoreOptions(sample_rate=8000))
    with pytest.raises(RequestError, match="tempo"):
        ComposerModel().compose(None, a, ScoreOptions(tempo_min_bpm=200, tempo_max_bpm=100))


def test_cancel_stops_the_job():
    cancel = threading.Event()
    stages = []

    def progress(stage, fraction):
        stages.append(stage)
        if stage == "arrange":
            cancel.set()  # the user cancels while the composer works

    with pytest.raises(Cancelled):
        ComposerModel().compose(None, analysis(duration=6.0), ScoreOptions(), progress=progress, cancel=cancel)
    assert "synthesize" not in stages  # it stopped before the expensive stage


def test_tempo_range_option_is_kept():
    a = analysis(duration=8.0, cuts=(2.1, 5.3))
    options = ScoreOptions(style="corporate", tempo_min_bpm=90, tempo_max_bpm=95, sample_rate=22_050)
    out = ComposerModel().compose(None, a, options)
    assert 90 * 0.94 <= out.plan.tempo_bpm <= 95 * 1.06
    assert all(x.shape == (2, 8 * 22_050) for x in out.stems.values())


def test_all_stems_rendered_and_the_mix_is_the_whole_piece_when_fewer_are_asked():
    a = analysis(duration=6.0, cuts=(1.9, 4.1))
    options = ScoreOptions(style="acoustic_pop", seed=4, stems=("drums", "bass"), sample_rate=24_000)
    out = ComposerModel().compose(None, a, options)
    assert set(out.stems) == set(STEMS)  # the mix is the whole piece
    done = finish(out, a, options)
    assert set(done.stems) == {"drums", "bass"}
    full = finish(out, a, ScoreOptions(style="acoustic_pop", seed=4, sample_rate=24_000))
    assert np.array_equal(done.mix, full.mix)
    rest = done.mix - done.stems["drums"] - done.stems["bass"]
    assert np.sqrt(np.mean(rest**2)) > 1e-3  # harmony and melody are in the mix


@pytest.mark.parametrize("duration,cuts", [(0.2, ()), (1.0, ()), (2.0, (0.0, 1.0)), (5.0, (0.5, 0.7, 0.9, 4.5))])
@pytest.mark.parametrize("meter", ["4/4", "3/4", "6/8"])
def test_tiny_and_crowded_segments_still_give_exact_lengths(duration, cuts, meter):
    options = ScoreOptions(style="acoustic_pop", meter=meter, sample_rate=22_050)
    out = ComposerModel().compose(None, analysis(duration=duration, cuts=cuts), options)
    n = int(round(duration * 22_050))
    assert all(x.shape == (2, n) and np.isfinite(x).all() for x in out.stems.values())
