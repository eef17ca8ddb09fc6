"""The `scorecut` command: one subcommand per module in this package.

Subcommands are imported only when used, so `scorecut score` (a client) never pays for torch.
Each module has `add_arguments(parser)` and `run(args) -> int`.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from scorecut import __version__

SUBCOMMANDS = {
    "serve": "run the model server",
    "score": "score videos: stems and score.json out",
    "analyze": "analyse a video: cuts, visual beats, motion",
    "watch": "score whatever lands in a folder",
    "batch": "score a whole folder on a Ray cluster, once each",
    "models": "list, add and verify models",
    "doctor": "check this machine: device, codecs, models, server",
    "train": "train the VMAS model on a folder of music videos",
    "stop": "stop the background server that `scorecut score` started",
}


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: what is wrong and where the help is (no usage block)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: {message}; see `{self.prog} --help`\n")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; only `command`'s module is imported (all of them when None)."""
    parser = _Parser(prog="scorecut", description="Music that follows the picture.")
    parser.add_argument("--version", action="version", version=f"scorecut {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if command in (None, name):
            module = importlib.import_module(f"scorecut.cli.{name}_cmd")
            module.add_arguments(p)
            p.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command if command in SUBCOMMANDS else None)
    args = parser.parse_args(argv)
    if not getattr(args, "_module", None):
        parser.print_help()
        return 2
    try:
        return int(args._module.run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
