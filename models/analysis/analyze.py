"""Analyse a timeline segment: decode each clip's range, find its cuts and curves, map them to
record time (linear per clip, so a speed change stretches them) and put them on one grid."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..interface import (
    Cancelled,
    Clip,
    MediaError,
    ProgressFn,
    RequestError,
    Segment,
    check_cancelled,
    no_progress,
)
from .coarse import dense_windows, frames_between, refine_cut, scan_packets
from .curves import motion_from_mad, pace, visual_beats
from .cuts import MIN_CONFIDENCE, Cut, detect_cuts
from .decode import (
    DEVICES,
    DecodeOptions,
    DecoderInUse,
    Thumbnailer,
    iter_decoded,
    iter_video,
    read_ahead,
    spare_cores,
)
from .features import ClipAccumulator, ClipArrays
from .probe import probe_media
from .rhythm import Accent, clip_accents, motion_period
from .speech import SILENT_LUFS, BackgroundSpeech
from .types import VideoAnalysis

# The analysis keeps two threads of its own busy beside the picture decoder (frame features, speech):
# the decoder gets the cores they leave. On two cores that is one decoder thread, which also
# spares the CPU that FFmpeg's frame threads spend handing frames between them (about a fifth).
ANALYSIS_DECODE = DecodeOptions(threads=spare_cores(2))
MAX_REFINES = 12  # cuts per clip placed by decoding their stretch again; beyond, one full decode


@dataclass
class _ClipResult:
    sample_rec: np.ndarray  # (s,) record seconds of the analysis samples
    motion: np.ndarray  # (s,) 0..1
    brightness: np.ndarray
    saturation: np.ndarray
    warmth: np.ndarray
    cuts: list[tuple[float, str, float, float]]  # (record seconds, kind, strength, confidence)
    accents: list[Accent]  # in record seconds
    frame_rec: np.ndarray  # (f,) record seconds of every decoded frame
    frame_energy: np.ndarray  # (f,) luma change per frame step (motion at the source's own rate)
    speech_rec: np.ndarray  # (m,) record seconds
    speech: np.ndarray  # (m,)
    speech_lufs: np.ndarray  # (m,) loudness of the clip's sound there, LUFS
    decoder: DecoderInUse  # what decoded the clip's pictures


def _to_record(clip: Clip, src: np.ndarray | float):
    scale = (clip.record_end_s - clip.record_start_s) / (clip.source_out_s - clip.source_in_s)
    return clip.record_start_s + (np.asarray(src, np.float64) - clip.source_in_s) * scale


def _check_clip(clip: Clip, index: int) -> None:
    name = clip.name or Path(clip.path).name
    if not (clip.source_out_s > clip.source_in_s):
        raise MediaError(f"clip {index + 1} ({name}): its out point must come after its in point")
    if not (clip.record_end_s > clip.record_start_s):
        raise MediaError(f"clip {index + 1} ({name}): its record end must come after its record start")


def _decode_clip(clip: Clip, period_src: float, cancel, report, table=None, device: str = "cpu",
                 used: list | None = None) -> ClipArrays:
    """The clip's frame signatures; `used` receives the DecoderInUse that `device` came to."""
    acc = ClipAccumulator(period_src)
    span = clip.source_out_s - clip.source_in_s
    dense = dense_windows(table) if table is not None else None
    thumbnail = Thumbnailer(ANALYSIS_DECODE)
    # Decoding on its own thread, scaling and features on this one: the two overlap, and the
    # decoder's thread, the longest, carries nothing else.
    # On the GPU, NVDEC does the work: CPU frame threads would only add copies.
    options = replace(ANALYSIS_DECODE, device=device, threads=1 if device != "cpu" else ANALYSIS_DECODE.threads)
    for t, frame in read_ahead(iter_decoded(clip.path, clip.source_in_s, clip.source_out_s, cancel=cancel,
                                            options=options, dense=dense,
                                            on_open=used.append if used is not None else None)):
        acc.add(t, thumbnail(frame))
        if acc.n_frames % 16 == 0:
            report((t - clip.source_in_s) / span)
    if not acc.n_frames:
        # The range is shorter than one frame: use the frame showing at the in point.
        last = None
        for t, rgb in iter_video(clip.path, max(0.0, clip.source_in_s - 1.0), clip.source_out_s, cancel=cancel):
            last = (t, rgb)
        if last is None:
            name = clip.name or Path(clip.path).name
            raise MediaError(f"{name}: no picture between {clip.source_in_s:.3f} s and {clip.source_out_s:.3f} s; "
                             "check the clip's in and out points against the media's length")
        acc.add(clip.source_in_s, last[1])
    return acc.finish()


def _analyse_clip(clip: Clip, fps: float, cancel, report, device: str = "cpu") -> _ClipResult:
    speed = clip.speed
    period_src = speed / fps  # source seconds per analysis step, so steps are 1/fps of record time
    # The packet table first, alone: it is a short Python loop the picture decode waits for, and
    # the speech thread would contend with it for the interpreter.
    table = scan_packets(clip.path, clip.source_in_s, clip.source_out_s) if DecodeOptions().coarse else None
    speech = BackgroundSpeech(clip.path, clip.source_in_s, clip.source_out_s, cancel)
    try:
        used: list[DecoderInUse] = []
        try:
            a = _decode_clip(clip, period_src, cancel, report, table, device, used)
        except (Cancelled, MediaError):
            raise
        except Exception as exc:
            if device == "cpu":
                raise
            # The GPU decode failed after it opened (it has never run on a GPU in our tests): the
            # clip is decoded again on the CPU rather than the job failing.
            device = "cpu"
            note = f"the GPU decode failed ({type(exc).__name__}: {exc}); the CPU decoded the pictures"
            used = [DecoderInUse("cpu", note)]
            a = _decode_clip(clip, period_src, cancel, report, table, device, [])
    except BaseException:
        speech.stop()
        raise
    check_cancelled(cancel)
    changes = detect_cuts(a, cancel=cancel)
    if sum(_needs_refining(c, a, table) for c in changes) > MAX_REFINES:
        # The packet sizes missed many cuts (each would be decoded again from its keyframe):
        # one full decode of the clip costs less.
        table = None
        a = _decode_clip(clip, period_src, cancel, lambda f: None, None, device)
        changes = detect_cuts(a, cancel=cancel)
    changes = [_exact(c, a, table, clip.path, cancel) if _needs_refining(c, a, table) else c for c in changes]
    cuts = [c for c in changes if c.confidence >= MIN_CONFIDENCE]
    rec = _to_record(clip, a.sample_t)
    # Steps across a hard cut or a fade measure the shot change, not motion: bridge them with
    # the motion on either side. (A dissolve's gradual change is left in: it is visual change.)
    mad = a.motion_mad.copy()
    if len(mad) > 1:
        mad[0] = mad[1]
        for c in cuts:
            if c.kind == "dissolve":
                continue
            j0 = int(np.searchsorted(a.sample_t, c.start_s, side="left"))  # first step touching it
            j1 = int(np.searchsorted(a.sample_t, c.end_s, side="right"))  # the step after it ends
            lo, hi = max(1, j0), min(len(mad) - 1, j1)
            if hi < lo:
                continue
            left = mad[lo - 1]
            right = mad[hi + 1] if hi + 1 < len(mad) else left
            mad[lo : hi + 1] = np.linspace(left, right, hi - lo + 3)[1:-1]
    # Change per analysis step: a sample gap longer than 1/fps in record time (low-fps sources)
    # spreads the change, a shorter one (samples on the reference frames a coarse decode keeps)
    # holds less of it.
    gaps = np.diff(rec, prepend=rec[0] - 1.0 / fps) * fps if len(rec) else rec
    mad = mad / np.clip(gaps, 0.5, None)
    rec_cuts = [(float(_to_record(clip, c.time_s)), c.kind, c.strength, c.confidence) for c in cuts]
    unsure = [c for c in changes if c.confidence < MIN_CONFIDENCE]
    accents = [Accent(float(_to_record(clip, x.time_s)), x.strength, x.kind) for x in clip_accents(a, cuts, unsure)]

    st, sp = speech.result()
    sl = speech.loudness_lufs()
    check_cancelled(cancel)
    return _ClipResult(rec, motion_from_mad(mad), a.brightness, a.saturation, a.warmth, rec_cuts, accents,
                       _to_record(clip, a.frame_t), np.sqrt(a.step_energy),
                       _to_record(clip, clip.source_in_s + st) if len(st) else st, sp, sl,
                       used[0] if used else DecoderInUse("cpu"))


def _needs_refining(cut: Cut, a: ClipArrays, table) -> bool:
    """A sure hard cut with frames the coarse decode skipped between it and the frame before."""
    if table is None or cut.kind != "hard" or cut.confidence < MIN_CONFIDENCE:
        return False
    i = int(np.searchsorted(a.frame_t, cut.time_s))
    return i > 0 and frames_between(table, float(a.frame_t[i - 1]), cut.time_s) > 0


def _exact(cut: Cut, a: ClipArrays, table, path: str, cancel) -> Cut:
    """A hard cut found between two decoded frames with skipped frames between them, placed on
    its exact frame by decoding that stretch in full (rare: the packet table marks most cuts)."""
    i = int(np.searchsorted(a.frame_t, cut.time_s))
    t = refine_cut(path, float(a.frame_t[i - 1]), cut.time_s, cancel)
    return Cut(t, cut.kind, cut.strength, t, t, cut.confidence)


def analyze_segment(segment: Segment, *, progress: ProgressFn = no_progress,
                    cancel: threading.Event | None = None, fps: float = 10.0,
                    decoder: str = "cpu") -> VideoAnalysis:
    """Analyse every clip of `segment`; all times in the result are record seconds from its start.

    Clip boundaries are cuts of kind "boundary" with strength 1. Raises MediaError for media that
    cannot be used and Cancelled when `cancel` is set (checked every few frames). `decoder`
    "cuda" decodes the pictures on the GPU where it can (the result's `decoder` and
    `decoder_note` say what did), "cpu" on the CPU.
    """
    if decoder not in DEVICES:
        raise RequestError(f"the picture decoder must be one of {', '.join(DEVICES)}, not {decoder!r}")
    if not (0.5 <= fps <= 60.0):
        raise RequestError(f"the analysis rate must be 0.5 to 60 per second, not {fps:g}")
    if not segment.clips:
        raise MediaError("the segment has no clips; add at least one clip")
    if not (segment.duration_s > 0):
        raise MediaError("the segment has zero length; give it a duration above 0 seconds")
    for i, clip in enumerate(segment.clips):
        _check_clip(clip, i)
    total = sum(c.source_out_s - c.source_in_s for c in segment.clips)
    done = 0.0
    results = []
    progress("analysis", 0.0)
    for clip in segment.clips:
        span = clip.source_out_s - clip.source_in_s
        base = done

        def report(frac, base=base, span=span):
            progress("analysis", min(1.0, (base + span * min(max(frac, 0.0), 1.0)) / total))

        check_cancelled(cancel)
        results.append(_analyse_clip(clip, fps, cancel, report, decoder))
        done += span
        report(1.0)
    return _assemble(segment, results, fps)


def _assemble(segment: Segment, results: list[_ClipResult], fps: float) -> VideoAnalysis:
    duration = float(segment.duration_s)
    n = max(1, int(math.ceil(duration * fps - 1e-9)))
    times = np.arange(n, dtype=np.float64) / fps

    def curve(attr: str) -> np.ndarray:
        x = np.concatenate([r.sample_rec for r in results])
        y = np.concatenate([getattr(r, attr) for r in results]).astype(np.float64)
        order = np.argsort(x, kind="stable")
        return np.interp(times, x[order], y[order]).astype(np.float32)

    motion = curve("motion")
    cut_list = [c for r in results for c in r.cuts if 1e-3 < c[0] < duration - 1e-3]
    cut_list += [(b, "boundary", 1.0, 1.0) for b in segment.boundaries_s]
    cut_list.sort()
    merged: list[tuple[float, str, float, float]] = []
    for c in cut_list:  # a detected cut on a clip boundary is the boundary
        if merged and c[0] - merged[-1][0] < 0.5 / fps:
            if c[1] == "boundary" or (merged[-1][1] != "boundary" and c[2] > merged[-1][2]):
                merged[-1] = c
            continue
        merged.append(c)
    cuts_s = np.array([c[0] for c in merged], np.float64)
    cut_strength = np.array([c[2] for c in merged], np.float32)
    beats_s, beat_strength = visual_beats(times, motion, cuts_s, cut_strength)
    accents = sorted((x for r in results for x in r.accents if 0.0 <= x.time_s < duration
                      and not (len(cuts_s) and np.min(np.abs(cuts_s - x.time_s)) < 0.1)), key=lambda x: x.time_s)
    period, period_conf = motion_period([r.frame_rec for r in results], [r.frame_energy for r in results], cuts_s)

    sx = np.concatenate([r.speech_rec for r in results])
    if len(sx):
        dt = 1.0 / 25.0
        speech_times = np.arange(int(math.ceil(duration / dt))) * dt
        speech = np.zeros(len(speech_times), np.float32)
        speech_lufs = np.full(len(speech_times), SILENT_LUFS, np.float32)
        for r in results:  # each clip's curve only inside its own record range
            if len(r.speech_rec):
                inside = (speech_times >= r.speech_rec[0] - dt) & (speech_times <= r.speech_rec[-1] + dt)
                speech[inside] = np.interp(speech_times[inside], r.speech_rec, r.speech)
                speech_lufs[inside] = np.interp(speech_times[inside], r.speech_rec, r.speech_lufs)
    else:
        speech_times, speech = np.zeros(0), np.zeros(0, np.float32)
        speech_lufs = np.zeros(0, np.float32)

    return VideoAnalysis(
        duration_s=duration, analysis_fps=float(fps), times_s=times, motion=motion,
        brightness=curve("brightness"), saturation=curve("saturation"),
        warmth=np.clip(curve("warmth"), -1, 1),
        cuts_s=cuts_s, cut_strength=cut_strength, cut_kinds=tuple(c[1] for c in merged),
        visual_beats_s=beats_s, visual_beat_strength=beat_strength,
        pace=pace(times, motion, cuts_s, fps), speech_times_s=speech_times, speech=speech, speech_lufs=speech_lufs,
        cut_confidence=np.array([c[3] for c in merged], np.float32),
        accents_s=np.array([x.time_s for x in accents], np.float64),
        accent_strength=np.array([x.strength for x in accents], np.float32),
        accent_kinds=tuple(x.kind for x in accents),
        motion_period_s=period, motion_period_confidence=period_conf,
        decoder=" and ".join(dict.fromkeys(r.decoder.name for r in results)),
        decoder_note="; ".join(dict.fromkeys(r.decoder.note for r in results if r.decoder.note)),
    )


def analyze_file(path, *, in_s: float = 0.0, out_s: float | None = None, **kw) -> VideoAnalysis:
    """Analyse one video's range [in_s, out_s) (to its end when out_s is None)."""
    info = probe_media(path)
    end = info.duration_s if out_s is None else float(out_s)
    if in_s < 0 or end <= in_s:
        raise MediaError(f"{Path(path).name}: the range {in_s:.3f}-{end:.3f} s is empty; "
                         f"the video is {info.duration_s:.3f} s long")
    clip = Clip(str(path), float(in_s), end, 0.0, end - float(in_s), name=Path(path).name)
    return analyze_segment(Segment((clip,), end - float(in_s)), **kw)
