"""`musicgen`: MusicGen's published weights scoring a segment zero-shot, prompted by the picture.

No training: the text prompt is written from the analysis and the options (prompt.py), MusicGen
generates N candidates window by window (each next window continues the music across the seam,
past MusicGen's 30 s), and the candidate whose beats best meet the picture's cuts and visual
beats is kept. Beats are tracked on the decoded audio with the project's beat tracker
(beats.track_music_beats) and scored with the same F-measure (100 ms) the vmas model ranks by.
Its native output is the mix; it gives no stems. Length, loudness and fades are the shared
post-processing's, as for every model.

The weights are installed with `scorecut models add musicgen DIR` at `<model dir>/musicgen`.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .. import directing
from ..interface import (
    ModelInfo,
    ModelOutput,
    ModelUnavailable,
    ProgressFn,
    ScoreOptions,
    Section,
    Segment,
    check_cancelled,
    no_progress,
)
from .musicgen_install import ADD_FIX, MusicGenFolderError, check_folder, installed_folder, licence_line, read_licence

NAME = "musicgen"
DESCRIPTION = "MusicGen zero-shot: music prompted by the picture (style, mood, tempo, energy), no training; mix only."
ENV_CANDIDATES = "SCORECUT_MUSICGEN_CANDIDATES"  # overrides the number of candidates the server makes


@dataclass(frozen=True)
class ZeroShotOptions:
    """How candidates are generated; the request's seed picks the draw."""

    candidates: int = 2  # generated side by side in one batch; the best by beat score is kept
    cfg_scale: float = 3.0  # MusicGen's default classifier-free guidance on the text
    top_k: int = 250  # MusicGen's default sampling
    temperature: float = 1.0
    window_s: float = 30.0  # MusicGen's trained length; capped by the model's positional table
    overlap: float = 0.4  # share of a window each next one continues from (audiocraft: 30 s windows, 18 s apart)
    beat_tolerance_s: float = 0.1  # a music beat within this of a cut or visual beat meets it


@dataclass(frozen=True)
class Ranking:
    """How the candidates' beats met the picture: what score.json records under `musicgen.rerank`."""

    scores: tuple[float, ...]  # per candidate, in generation order: F-measure 0..1 against the targets
    beats: tuple[int, ...]  # per candidate: beats tracked in its audio
    targets: int  # cuts and visual beats the beats were scored against
    chosen: int  # index of the kept candidate (most hits met, then the best score; the first on ties)
    hits_met: tuple[int, ...] = ()  # per candidate: the editor's hits a beat meets (within the tolerance)

    def to_json(self) -> dict:
        met = self.hits_met or (0,) * len(self.scores)
        return {"candidates": [{"index": i, "beat_score": round(s, 4), "beats": b, "hits_met": m}
                               for i, (s, b, m) in enumerate(zip(self.scores, self.beats, met, strict=True))],
                "chosen": self.chosen, "targets": self.targets}


def rank_candidates(candidate_beats: list[np.ndarray], targets_s: np.ndarray, tolerance_s: float,
                    hits=()) -> Ranking:
    """Score each candidate's beats (seconds) against the cuts and visual beats; the one meeting
    most of the editor's `hits` (models.interface.Hit) is chosen, the best score among those."""
    from ..directing import hits_met
    from .beats import beat_agreement

    scores = tuple(float(beat_agreement(b, targets_s, tolerance_s)) for b in candidate_beats)
    met = tuple(hits_met(b, hits, tolerance_s) for b in candidate_beats)
    chosen = max(range(len(scores)), key=lambda i: (met[i], scores[i], -i))  # the first on ties
    return Ranking(scores, tuple(len(b) for b in candidate_beats), len(targets_s), chosen, met)


def rank_audio(wavs: list[np.ndarray], sample_rate: int, duration_s: float, targets_s: np.ndarray,
               tolerance_s: float, hits=()) -> tuple[list[np.ndarray], Ranking]:
    """Candidates' mono audio (N,) each -> the beats tracked in each (seconds) and their ranking
    against the cuts and visual beats, the editor's hits first. Only the segment's length is heard
    (the codec pads)."""
    from .beats import track_music_beats

    n = int(round(duration_s * sample_rate))
    beats = [track_music_beats(w[:n], sample_rate) for w in wavs]
    return beats, rank_candidates(beats, targets_s, tolerance_s, hits)


def default_options(device: str) -> ZeroShotOptions:
    """Fewer candidates on a CPU, where each costs real time; $SCORECUT_MUSICGEN_CANDIDATES overrides."""
    n = 2 if device.startswith("cpu") else 4
    value = os.environ.get(ENV_CANDIDATES, "").strip()
    if value:
        if not value.isdigit() or not 1 <= int(value) <= 16:
            raise ModelUnavailable(f"{ENV_CANDIDATES}={value!r} is not a number of candidates: give 1 to 16")
        n = int(value)
    return ZeroShotOptions(candidates=n)


def _description(licence: str) -> str:
    return f"{DESCRIPTION} MusicGen {licence_line(licence)}."


def _catalog(available: bool, reason: str, licence: str) -> ModelInfo:
    from ..composer.styles import MOODS, STYLES  # the prompt speaks the composer's styles and moods

    return ModelInfo(name=NAME, available=available, unavailable_reason=reason, stems=(), native_output="mix",
                     description=_description(licence), styles=tuple(STYLES), moods=tuple(MOODS))


def info(device: str = "cpu", model_dir: Path | None = None) -> ModelInfo:
    """Availability from the installed folder's small files alone (no weights are read)."""
    from .musicgen_install import DEFAULT_LICENCE

    folder = installed_folder(model_dir)
    if folder is None or not folder.is_dir():
        return _catalog(False, f"MusicGen is not installed in {model_dir or 'the model folder'}: {ADD_FIX}",
                        DEFAULT_LICENCE)
    try:
        checked = check_folder(folder)
    except MusicGenFolderError as exc:
        return _catalog(False, f"{exc}; install it again: {ADD_FIX}", read_licence(folder))
    return _catalog(True, "", checked.licence)


def load(device: str = "cpu", model_dir: Path | None = None, options: ZeroShotOptions | None = None) -> MusicGenModel:
    """The installed MusicGen, ready to compose; ModelUnavailable says what to do when it is not."""
    import torch

    folder = installed_folder(model_dir)
    if folder is None or not folder.is_dir():
        raise ModelUnavailable(f"the musicgen model is not installed in {model_dir or 'the model folder'}: {ADD_FIX}")
    try:
        checked = check_folder(folder)
    except MusicGenFolderError as exc:
        raise ModelUnavailable(f"{exc}; install it again: {ADD_FIX}") from None
    if device in ("auto", ""):
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelUnavailable("musicgen was asked to run on CUDA but no CUDA device is available: use --device cpu")
    from .pretrained import load_musicgen

    cuda = device.startswith("cuda")
    dtype = (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16) if cuda else torch.float32
    try:
        base = load_musicgen(folder, device, dtype)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ModelUnavailable(f"the MusicGen folder at {folder} cannot be loaded ({exc}); install it again: "
                               f"{ADD_FIX}") from None
    return MusicGenModel(base, checked.licence, options or default_options(device), compile_step=cuda)


class MusicGenModel:
    """Implements models.interface.MusicModel with MusicGen's own weights, zero-shot."""

    name = NAME

    def __init__(self, base, licence: str, options: ZeroShotOptions, compile_step: bool = False):
        import torch

        self.base, self.licence, self.options = base, licence, options
        # Only the one-token step is compiled (gpt-fast): the static cache keeps its shapes.
        self._step = torch.compile(base.lm.forward, mode="reduce-overhead") if compile_step else None

    def info(self) -> ModelInfo:
        return _catalog(True, "", self.licence)

    def compose(self, segment: Segment | None, analysis, options: ScoreOptions, progress: ProgressFn = no_progress,
                cancel: threading.Event | None = None) -> ModelOutput:
        """Music for the analysed segment: exactly round(duration_s * options.sample_rate) frames, mix only.

        `segment` is not read: the prompt and the re-ranking need only the analysis.
        """
        from .prompt import write_prompt
        from .serving import at_output_rate, plan_from_beats

        progress("prompt", 0.0)
        prompt = write_prompt(analysis, options)
        duration = float(analysis.duration_s)
        codec = self.base.codec
        n_frames = int(np.ceil(duration * codec.frame_rate - 1e-9))
        codes, windows = self.generate(prompt, n_frames, options.seed, self.options.candidates, progress, cancel)
        check_cancelled(cancel)
        progress("rerank", 0.95)
        # One candidate at a time: EnCodec decodes a whole segment at once, and C of them is C times the memory.
        # (T * hop,) each
        wavs = [codec.decode(codes[i : i + 1])[0, 0].float().cpu().numpy() for i in range(codes.shape[0])]
        visual = np.union1d(np.asarray(analysis.visual_beats_s, float), np.asarray(analysis.cuts_s, float))
        beats, ranking = rank_audio(wavs, codec.sample_rate, duration, visual, self.options.beat_tolerance_s,
                                    options.hits)
        best = ranking.chosen
        sr = int(options.sample_rate)
        audio = at_output_rate(wavs[best], codec.sample_rate, sr, round(duration * sr))
        sections = tuple(Section(s.start_s, s.end_s, s.intensity, s.label) for s in prompt.sections)
        # score.json names the mood the prompt used (the picture's, when none was asked for).
        plan = plan_from_beats(beats[best], audio, sr, duration, replace(options, mood=prompt.mood), sections)
        extra = {NAME: {"prompt": prompt.text, "window_prompts": windows,
                        "base_sha256": self.base.base_sha256, "licence": self.licence,
                        "rerank": ranking.to_json()}, **directing.report(options, plan)}
        return ModelOutput(sample_rate=sr, stems={}, plan=plan, native_mix=np.stack([audio, audio]), extra=extra)

    def generate(self, prompt, n_frames: int, seed: int, candidates: int = 1, progress: ProgressFn = no_progress,
                 cancel: threading.Event | None = None):
        """Codes (candidates, K, n_frames) for `prompt`, window by window, and the windows' prompts.

        Each window hears the description and the energies of its own sections; each next window
        continues the music of the last (generate.py). Returns (codes, [{start_s, end_s, prompt}]).
        """
        import torch

        from .generate import GenerateOptions, WindowCondition, generate

        lm, fr = self.base.lm, self.base.codec.frame_rate
        o = self.options
        # The positional table bounds a window: its steps are the frames plus the K-1 of the delay.
        window = max(1, min(int(round(o.window_s * fr)), lm.cfg.max_steps - (lm.n_q - 1)))
        null = self.base.null_memory()
        encoded: dict[str, object] = {}  # prompt text -> its memory (windows often share one)
        windows: list[dict] = []

        def condition(start: int, stop: int) -> WindowCondition:
            text = prompt.for_window(start / fr, stop / fr)
            if text not in encoded:
                encoded[text] = self.base.text_memory([text])
            windows.append({"start_s": round(start / fr, 6), "end_s": round(stop / fr, 6), "prompt": text})
            return WindowCondition(encoded[text], null)

        opts = GenerateOptions(temperature=o.temperature, top_k=o.top_k, cfg_scale=o.cfg_scale,
                               candidates=int(candidates), overlap=o.overlap, seed=int(seed))
        with torch.inference_mode():
            codes = generate(lm, condition, n_frames, window_frames=window, opts=opts, cancel=cancel,
                             progress=lambda stage, f: progress("compose", 0.9 * f), step_fn=self._step)
        return codes, windows
