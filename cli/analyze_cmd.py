"""`scorecut analyze VIDEO [--json] [--plot FILE]`: what the analysis sees in a video.

VIDEO may carry a media-fragment range, `clip.mp4#t=1.5,4`. Runs in-process (no server).
"""

from __future__ import annotations

import argparse
import json
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("video", metavar="VIDEO", help="a video file; may end in #t=IN,OUT (seconds)")
    p.add_argument("--json", action="store_true",
                   help="print the analysis as JSON (duration_s, cuts_s with cut_kinds and cut_confidence, "
                        "visual_beats_s, visual_accents (impacts, flashes, unsure changes), motion_period_s, "
                        "analysis_fps, motion, ..., speech_times_s and speech: the probability of speech, 0..1)")
    p.add_argument("--plot", metavar="FILE", default=None,
                   help="write a picture of the analysis (motion, cuts, visual beats) to FILE (.png)")
    p.add_argument("--fps", type=float, default=10.0, help="analysis rate of the curves (default 10)")
    p.add_argument("--decoder", default="auto", choices=("auto", "cpu", "cuda"),
                   help="what decodes the pictures: cuda (the GPU's NVDEC; the CPU where the machine or the "
                        "file's codec cannot, and the output says why), cpu, or auto (default): cuda where this "
                        "machine has NVDEC, else cpu")


def run(args: argparse.Namespace) -> int:
    from scorecut.models.interface import ScorecutError
    from scorecut.plugins.client.fragments import parse_media_fragment

    try:
        clip = parse_media_fragment(args.video)
        if not (0.5 <= args.fps <= 60):
            raise ValueError("--fps must be between 0.5 and 60")
        from scorecut.models.analysis import analyze_file

        analysis = analyze_file(clip.path, in_s=clip.source_in_s, out_s=clip.source_out_s, fps=args.fps,
                                decoder=_decoder(args.decoder))
        plot_path = None
        if args.plot:
            from scorecut.models.analysis.plot import plot_alignment

            plot_path = plot_alignment(analysis, args.plot)
    except (ScorecutError, ValueError, OSError) as exc:
        print(f"scorecut analyze: {exc}", file=sys.stderr)
        return 2

    try:
        if args.json:
            sys.stdout.write(json.dumps(analysis.to_json()) + "\n")
        else:
            _summary(analysis, clip.path)
            if plot_path is not None:
                print(f"plot: {plot_path}")
        sys.stdout.flush()
    except BrokenPipeError:  # the reader (e.g. `| head`) stopped early: not an error of ours
        sys.stdout = None
    return 0


def _decoder(choice: str) -> str:
    """"cpu" or "cuda" for the analysis; auto is the server's rule for a CUDA device (no torch needed)."""
    if choice != "auto":
        return choice  # an explicit cuda falls back per file in the analysis, which says why
    from scorecut.server.picture_decoder import picture_decoder

    return picture_decoder("auto", "cuda").name


def _summary(a, path: str) -> None:
    print(f"{path}: {a.duration_s:.3f} s, curves at {a.analysis_fps:g} per second")
    print(f"pictures decoded on: {a.decoder}" + (f" ({a.decoder_note})" if a.decoder_note else ""))
    print(f"cuts: {len(a.cuts_s)}")
    sure = a.cut_confidence if len(a.cut_confidence) == len(a.cuts_s) else [1.0] * len(a.cuts_s)
    for t, kind, s, c in zip(a.cuts_s, a.cut_kinds, a.cut_strength, sure, strict=True):
        print(f"  {t:9.3f} s  {kind:<9} strength {s:.2f}  confidence {c:.2f}")
    print(f"visual beats: {len(a.visual_beats_s)}")
    kinds = {k: a.accent_kinds.count(k) for k in dict.fromkeys(a.accent_kinds)}
    print(f"visual accents: {len(a.accents_s)}" + (f" ({', '.join(f'{n} {k}' for k, n in kinds.items())})"
                                                   if kinds else ""))
    if a.motion_period_s > 0:
        print(f"motion period: {a.motion_period_s:.3f} s (regularity {a.motion_period_confidence:.2f})")
    else:
        print("motion period: none (no regular motion)")
    if len(a.motion):
        print(f"motion: mean {float(a.motion.mean()):.2f}, peak {float(a.motion.max()):.2f}")
    if len(a.speech):
        share = float((a.speech > 0.5).mean())
        print(f"speech: {100 * share:.0f}% of the time")
    elif _has_sound(path):
        print("speech: none measured: the sound could not be decoded (a damaged audio stream, or a codec "
              "this build cannot read); re-export the clip to hear it here")
    else:
        print("speech: no audio track")


def _has_sound(path: str) -> bool:
    """Whether the file carries an audio stream (whose decode then gave nothing)."""
    import av

    try:
        with av.open(str(path)) as container:
            return bool(container.streams.audio)
    except (av.FFmpegError, OSError):
        return False
