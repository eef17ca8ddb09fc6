"""The README is true: every option its command synopses name exists on that command.

(.ci/run also runs the README's first command, word for word, in a fresh clone with a fresh HOME.)
"""

from __future__ import annotations

import re
from pathlib import Path

from scorecut.cli.main import SUBCOMMANDS, build_parser

README = Path(__file__).resolve().parents[1] / "README.md"


def _code_blocks(text: str) -> list[str]:
    return re.findall(r"^```(?:sh|bash)?\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


def synopses(text: str) -> list[tuple[str, str]]:
    """(subcommand, the synopsis with its continuation lines) for each `scorecut SUB ...` in code."""
    found = []
    for block in _code_blocks(text):
        current = None
        for line in block.splitlines():
            m = re.match(r"(?:\.venv/bin/)?scorecut (\w+)", line)
            if m:
                current = [m.group(1), line.split("#")[0]]
                found.append(current)
            elif current and line.startswith(" "):
                current[1] += " " + line.split("#")[0].strip()
            else:
                current = None
    return [(sub, text) for sub, text in found]


def _options(sub: str) -> set[str]:
    parser = build_parser(sub)
    action = next(a for a in parser._actions if getattr(a, "choices", None) and sub in a.choices)
    return {opt for a in action.choices[sub]._actions for opt in a.option_strings}


def test_every_option_in_the_readme_exists():
    found = synopses(README.read_text())
    assert {sub for sub, _ in found} >= {"serve", "score", "analyze", "watch", "models", "doctor"}
    wrong = []
    for sub, synopsis in found:
        assert sub in SUBCOMMANDS, f"the README names `scorecut {sub}`, which does not exist"
        for flag in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", synopsis):
            if flag not in _options(sub):
                wrong.append(f"scorecut {sub} {flag}")
    assert not wrong, "the README names options the commands do not have: " + ", ".join(wrong)


def test_the_check_sees_a_made_up_option():
    text = "```sh\nscorecut score VIDEO [--seed N]\n                [--no-such-flag]\n```\n"
    (sub, synopsis), = synopses(text)
    assert sub == "score" and "--no-such-flag" in synopsis and "--no-such-flag" not in _options("score")
