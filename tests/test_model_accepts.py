"""Models declare what they accept (ModelInfo); the server checks requests against that and GetInfo
carries it, so front ends offer what the model takes instead of lists of their own."""

from __future__ import annotations

from dataclasses import replace

import grpc
import pytest

from scorecut.models.composer.model import ComposerModel
from scorecut.models.interface import STEMS, ModelInfo, RequestError, ScoreOptions
from scorecut.plugins.client import ScorecutClient
from scorecut.v1 import scorecut_pb2 as pb
from tests.helpers.server_calls import assert_actionable, clip, request, status_of, stub, video

NARROW = ModelInfo("narrow", True, stems=("drums",), styles=("lofi",), moods=("calm",), meters=("4/4",),
                   tempo_range_bpm=(60.0, 120.0), sample_rates=(44_100, 48_000), max_duration_s=30.0)


@pytest.mark.parametrize("change, words", [
    (dict(stems=("bass",)), "no stem 'bass'"),
    (dict(style="cinematic"), "choose one of: lofi"),
    (dict(mood="tense"), "choose one of: calm"),
    (dict(meter="3/4"), "use one of: 4/4"),
    (dict(sample_rate=22_050), "use one of 44100, 48000"),
    (dict(tempo_min_bpm=50.0), "use 60 to 120 BPM"),
    (dict(tempo_min_bpm=110.0, tempo_max_bpm=90.0), "reversed"),
])
def test_a_model_refuses_what_it_does_not_declare(change, words):
    ok = ScoreOptions(style="lofi", mood="calm", stems=("drums",), sample_rate=48_000)
    NARROW.check(ok, duration_s=30.0)  # what it declares passes
    with pytest.raises(RequestError, match=words):
        NARROW.check(replace(ok, **change))


def test_a_model_refuses_a_segment_longer_than_it_writes():
    with pytest.raises(RequestError, match="at most 30 s"):
        NARROW.check(ScoreOptions(style="lofi", stems=("drums",)), duration_s=31.0)


def test_get_info_carries_what_each_model_accepts(server):
    with ScorecutClient(server.address) as client:
        models = client.models(timeout=60)  # the first GetInfo looks at every model (slow while musicgen imports torch)
    composer, declared = models["composer"], ComposerModel().info()
    assert tuple(composer.stems) == declared.stems == STEMS
    assert tuple(composer.styles) == declared.styles and tuple(composer.moods) == declared.moods
    assert tuple(composer.meters) == declared.meters
    assert (composer.tempo_min_bpm, composer.tempo_max_bpm) == declared.tempo_range_bpm
    assert tuple(composer.sample_rates) == declared.sample_rates
    assert {"composer", "vmas"} <= set(models)


def test_the_server_refuses_by_the_model_s_declaration(server, media_root):
    path = video(media_root, "accepts.mp4", 2.0)
    s, _ = stub(server.address)
    info = {m.name: m for m in s.GetInfo(pb.GetInfoRequest(), timeout=60).models}["composer"]
    rates = ", ".join(str(r) for r in info.sample_rates)
    error = status_of(lambda: s.Score(request(clip(path), sample_rate=12_345), timeout=60))
    assert_actionable(error, grpc.StatusCode.INVALID_ARGUMENT, "12345 Hz", rates)
    error = status_of(lambda: s.Score(request(clip(path), meter="5/4"), timeout=60))
    assert_actionable(error, grpc.StatusCode.INVALID_ARGUMENT, "5/4", ", ".join(info.meters))
