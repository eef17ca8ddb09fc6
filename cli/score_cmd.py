"""`scorecut score VIDEO...`: score videos through a server; stems and score.json out.

Several VIDEOs make one timeline segment in order; each may carry a media-fragment range
(`clip.mp4#t=1.5,4`). Talks to the server at --server (default 127.0.0.1 on the default port, or
$SCORECUT_SERVER); when nothing answers at a loopback address it starts a detached local server
and reuses it later. Exit codes: 0 ok, 1 job failed, 2 usage or bad input, 3 server unavailable.

Results land in <out-dir>/<name>/ by the client library's one naming policy (plugins.client.landing):
without --name an earlier take is never replaced by a different request: that one goes to <name>-2,
<name>-3, ... (score.json's "request" tells them apart); the same request replaces its own take.
With --name the folder is replaced, and the command says so.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from scorecut.v1 import DEFAULT_PORT, SAMPLE_FORMATS

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNAVAILABLE = 0, 1, 2, 3


def _seconds(text: str) -> float:
    from scorecut.plugins.client.fragments import parse_clock

    try:
        return parse_clock(text)
    except ValueError:
        pass
    if text.strip().startswith("-"):
        raise argparse.ArgumentTypeError(f"{text!r} is negative: times are seconds from the start of the video, "
                                         "0 or more (12.5 or mm:ss.fff)")
    raise argparse.ArgumentTypeError(f"{text!r} is not a time: give seconds from the start of the video, "
                                     "0 or more (12.5 or mm:ss.fff)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("videos", nargs="+", metavar="VIDEO",
                   help="video files in timeline order; each may end in #t=IN,OUT (seconds)")
    p.add_argument("--in", dest="in_s", type=_seconds, metavar="S", help="in point of a single video (seconds)")
    p.add_argument("--out", dest="out_s", type=_seconds, metavar="S", help="out point of a single video (seconds)")
    p.add_argument("--model", default="", help="music model (default composer; `scorecut models list` shows "
                   "what the server offers)")
    p.add_argument("--checkpoint", default="", metavar="PATH", help="vmas checkpoint (a path on this machine)")
    p.add_argument("--style", default="", help="style preset, e.g. cinematic, lofi, electronic")
    p.add_argument("--mood", default="", help="mood; default: from the picture")
    p.add_argument("--seed", type=int, default=None, help="seed, 0 to 2**64-1: the same seed gives the same music")
    p.add_argument("--stems", default="", metavar="LIST", help="stems besides the mix, e.g. drums,bass,harmony,melody")
    p.add_argument("--out-dir", default="scored", metavar="DIR", help="where results go (default ./scored)")
    p.add_argument("--name", default="",
                   help="result folder name (default: the first video's name). Without --name an earlier "
                        "result is never lost: when <out-dir>/<name>/ holds a different request (other "
                        "clips, ranges or options), this one goes to <name>-2, <name>-3, ... (the first "
                        "free; the command says where); one holding the same request is replaced (the "
                        "music is the same). With --name, that folder is replaced (the command says so)")
    p.add_argument("--preview", action="store_true",
                   help="also write preview.mp4: the video with the mix, its picture copied, not re-encoded "
                        "(a single video; a trimmed one starts at the keyframe before the in point)")
    p.add_argument("--plot", action="store_true", help="also write alignment.png: cuts, motion, beats, sections")
    p.add_argument("--otio", action="store_true",
                   help="also write NAME.otio: the take as an OpenTimelineIO timeline (stems as audio tracks, "
                        "sections and downbeats as markers) for any editor with an OTIO adapter")
    p.add_argument("--server", default="", metavar="ADDR",
                   help=f"server address (default $SCORECUT_SERVER or 127.0.0.1:{DEFAULT_PORT})")
    p.add_argument("--token", default=os.environ.get("SCORECUT_TOKEN", ""), metavar="T",
                   help="token for a server that requires one (default $SCORECUT_TOKEN)")
    p.add_argument("--tls-ca", default="", metavar="PEM",
                   help="root certificates of a server that serves TLS (its --tls-cert, when self-signed)")
    p.add_argument("--sample-rate", type=int, default=0, metavar="N", help="Hz (default 48000)")
    p.add_argument("--sample-format", choices=tuple(SAMPLE_FORMATS), default="",
                   help="WAV sample format (default s24le: 24-bit PCM)")
    p.add_argument("--loudness", type=float, default=None, metavar="LUFS", help="mix loudness (default -16)")
    p.add_argument("--duck-dialogue", action="store_true", help="duck the music under speech in the clips")
    p.add_argument("--duck-amount", type=float, default=0, metavar="LU",
                   help="with --duck-dialogue: the music's loudest moment under a line this many LU below "
                        "that line's loudness (default 10)")
    p.add_argument("--duck-fade", type=float, default=0, metavar="S",
                   help="with --duck-dialogue: seconds the music takes to come back after a line (default 0.4)")
    p.add_argument("--meter", default="", metavar="M", help="4/4 (default), 3/4 or 6/8")
    p.add_argument("--hit", action="append", default=[], metavar="T[:KIND]",
                   help="a moment the music must hit, seconds from the segment start; KIND hit (a downbeat with "
                        "an accent, the default), stop (a break to the next downbeat) or section; repeatable")
    p.add_argument("--reroll", default="", metavar="START,END",
                   help="new music between START and END seconds, the same take outside (give --reroll-seed)")
    p.add_argument("--reroll-seed", type=int, default=None, metavar="N", help="the seed of the re-rolled music")
    p.add_argument("--loop", action="store_true", help="a seamless loop: whole bars, no intro or ending")
    p.add_argument("--tail", type=float, default=0.0, metavar="S",
                   help="the music rings S seconds past the segment's end (the stems are longer by S)")
    p.add_argument("--duration", type=float, default=None, metavar="S",
                   help="output length in seconds (default: the end of the last clip)")


def _fail(code: int, message: str) -> int:
    print(f"scorecut score: {message}", file=sys.stderr)
    return code


def _clips(args) -> list:
    """ClipSpecs from the VIDEO arguments; ValueError says what is wrong with them."""
    from dataclasses import replace

    from scorecut.plugins.client import parse_media_fragment

    clips = [parse_media_fragment(v) for v in args.videos]
    if args.in_s is not None or args.out_s is not None:
        if len(clips) != 1:
            raise ValueError("--in/--out apply to a single video; with several, give each a range: "
                             "clip.mp4#t=IN,OUT")
        clip = clips[0]
        if clip.source_in_s or clip.source_out_s is not None:
            raise ValueError("give the range either as #t=IN,OUT or as --in/--out, not both")
        if args.in_s is not None and args.out_s is not None and args.out_s <= args.in_s:
            raise ValueError(f"--out {args.out_s:g} must be after --in {args.in_s:g}")
        clips = [replace(clip, source_in_s=args.in_s or 0.0, source_out_s=args.out_s)]
    for clip in clips:
        if os.path.isdir(clip.path):
            raise ValueError(f"{clip.path} is a folder; give the video files in it (e.g. {clip.path.rstrip('/')}"
                             f"{os.sep}*.mp4), or use `scorecut watch` for a folder")
        if not os.path.isfile(clip.path):
            raise ValueError(f"no such video file: {clip.path}")
    return [replace(c, path=os.path.abspath(c.path)) for c in clips]


def _check_out_dir(out_dir: str) -> None:
    """The output folder, or the nearest part of its path that exists, must be a folder."""
    path = Path(out_dir).expanduser()
    if path.exists() and not path.is_dir():
        raise ValueError(f"the output folder {out_dir} is a file; give a folder with --out-dir")
    for parent in path.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(f"cannot make the output folder {out_dir}: {parent} is a file; "
                                 "give a folder with --out-dir")
            return


def _options(args):
    from scorecut.plugins.client import JobOptions
    from scorecut.plugins.client.request import check_seed

    check_seed(args.seed)  # raises a ValueError that says the range
    stems = tuple(s.strip() for s in args.stems.split(",") if s.strip())
    checkpoint = ""
    if args.checkpoint:
        if args.model != "vmas":
            raise ValueError("--checkpoint applies to --model vmas; add --model vmas, or leave out --checkpoint")
        checkpoint = os.path.abspath(os.path.expanduser(args.checkpoint))
        if os.path.isdir(checkpoint):
            raise ValueError(f"the checkpoint {checkpoint} is a folder; give the checkpoint file in it "
                             "(e.g. RUN/checkpoint.pt)")
        if not os.path.isfile(checkpoint):
            raise ValueError(f"no such checkpoint file: {checkpoint}; check the path (a checkpoint is "
                             "RUN/checkpoint.pt from `scorecut train`)")
    from scorecut.plugins.client.hits import parse_hit, parse_reroll

    if (args.duck_amount or args.duck_fade) and not args.duck_dialogue:
        raise ValueError("--duck-amount and --duck-fade shape the duck under dialogue; add --duck-dialogue")
    if args.reroll and args.reroll_seed is None:
        raise ValueError("--reroll needs --reroll-seed N: the seed of the new music inside the range")
    return JobOptions(model=args.model, style=args.style, mood=args.mood, seed=args.seed, stems=stems,
                      sample_rate=args.sample_rate, sample_format=args.sample_format,
                      loudness_lufs=args.loudness, duck_dialogue=args.duck_dialogue, meter=args.meter,
                      duck_amount_lu=args.duck_amount, duck_fade_s=args.duck_fade,
                      checkpoint=checkpoint, hits=tuple(parse_hit(h) for h in args.hit),
                      reroll=parse_reroll(args.reroll) if args.reroll else None,
                      reroll_seed=int(args.reroll_seed or 0), loop=args.loop, tail_s=args.tail)


def _extras(args, clips, name: str = ""):
    """The before_land hook: preview.mp4, alignment.png and NAME.otio made inside the take's
    temporary folder from the streamed analysis and plan (no second decode)."""
    if not (args.preview or args.plot or args.otio):
        return None
    from scorecut.plugins.client.extras import write_extras

    def make(draft) -> None:
        write_extras(draft, clips, preview=args.preview, plot=args.plot, otio=args.otio, name=name,
                     warn=lambda message: print(f"scorecut score: {message}", file=sys.stderr))

    return make


def _landing_note(result, out_dir: Path, name: str, explicit: bool) -> str:
    """What to tell the user about where the take went (landing's naming policy)."""
    final = result.folder
    if explicit and result.replaced:
        return f"replaced {final}"
    if final.name != name:
        went = f"replaced the take of the same request in {final}" if result.replaced else f"went to {final}"
        return (f"{out_dir / name} holds another take (other clips, ranges or options), kept; this one "
                f"{went} (give --name to choose the folder)")
    return ""


def _stopped_during_job(address: str, server_log) -> str:
    """What to say when the server went away after it had accepted the job."""
    from scorecut.plugins.client import is_loopback

    said = f"the Scorecut server at {address} stopped during the job; run the command again"
    if server_log is not None:
        return f"{said} (it starts a new local server); if it stops again, its log says why: {server_log}"
    if is_loopback(address):
        return f"{said} (it starts a local server if none runs); if it stops again, the server's log says why"
    return f"{said} once the server runs there again; its log there says why it stopped"


def run(args) -> int:
    from scorecut.plugins.client import (
        JobCancelled,
        JobFailed,
        ScorecutClient,
        ServerUnavailable,
        is_loopback,
        server_address,
    )
    from scorecut.plugins.client.landing import check_name

    from .local_server import ensure_local_server, started_server_log
    from .progress import ProgressDisplay

    try:
        clips = _clips(args)
        name = check_name(args.name or Path(clips[0].path).stem)
        options = _options(args)
        _check_out_dir(args.out_dir)
    except ValueError as e:
        return _fail(EXIT_USAGE, str(e))
    address = server_address(args.server)
    token = args.token or None
    try:
        roots = Path(args.tls_ca).read_bytes() if args.tls_ca else None
    except OSError as e:
        return _fail(EXIT_USAGE, f"cannot read --tls-ca {args.tls_ca}: {e.strerror}")
    progress = ProgressDisplay(label=name)
    server_log = None  # the log of a local server this command (or an earlier one) started
    try:
        with ScorecutClient(address, token=token, root_certificates=roots) as probe:
            answering = probe.ping()
        if not answering:
            if not is_loopback(address) or roots is not None:
                return _fail(EXIT_UNAVAILABLE, f"no Scorecut server answers at {address}; start it there "
                             "with `scorecut serve`, or check --server")
            local = ensure_local_server(address, token=token,
                                        notify=lambda m: print(f"scorecut score: {m}", file=sys.stderr))
            server_log = local.log_path
        if server_log is None and is_loopback(address):
            server_log = started_server_log(address)
        # A fresh channel: no reconnect backoff. The take lands by the one naming policy, under a lock,
        # so parallel commands never take one folder for different requests.
        with ScorecutClient(address, token=token, root_certificates=roots) as client:
            result = client.score(clips, options, duration_s=args.duration, out_dir=args.out_dir, name=name,
                                  on_event=progress, before_land=_extras(args, clips, name),
                                  replace=bool(args.name))
        folder, note = result.folder, _landing_note(result, Path(args.out_dir), name, bool(args.name))
    except ServerUnavailable as e:
        progress.close()
        if e.during_job:
            return _fail(EXIT_UNAVAILABLE, _stopped_during_job(address, server_log))
        return _fail(EXIT_UNAVAILABLE, str(e))
    except JobCancelled as e:
        progress.close()
        return _fail(EXIT_FAILED, f"cancelled: {e}")
    except JobFailed as e:
        progress.close()
        return _fail(EXIT_FAILED, e.message)
    except OSError as e:
        progress.close()
        return _fail(EXIT_FAILED, f"cannot write the result in {args.out_dir}: {e}")
    progress.close()
    score = result.score
    if note:
        print(f"scorecut score: {note}", file=sys.stderr)
    print(f"{folder}")
    if score.get("duck_note"):
        print(f"scorecut score: {score['duck_note']}", file=sys.stderr)
    summary = [f"{score.get('duration_s', 0):.2f} s", f"{score.get('tempo_bpm', 0):.1f} BPM",
               str(score.get("key", "")), f"model {score.get('model', '')}", f"seed {score.get('seed', '')}"]
    if score.get("mood"):
        summary.insert(3, f"mood {score['mood']}" + (" (from the picture)" if score.get("mood_source") == "picture"
                                                     else ""))
    if result.cached:
        summary.append("from cache")
    print("  " + ", ".join(s for s in summary if s), file=sys.stderr)
    return EXIT_OK
