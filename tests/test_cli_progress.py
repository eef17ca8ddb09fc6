"""The terminal progress display: a redrawn bar on a terminal, plain lines otherwise."""

from __future__ import annotations

import io

from scorecut.cli.progress import ProgressDisplay
from scorecut.plugins.client import JobEvent


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _events():
    yield JobEvent("j", "accepted", "queued", 0.0)
    for i in range(1, 11):
        yield JobEvent("j", "progress", "analysis" if i < 5 else "synthesize", i / 10)
    for _ in range(50):
        yield JobEvent("j", "chunk", "stream", 1.0)
    yield JobEvent("j", "manifest", "", 1.0)


def test_bar_on_a_terminal_redraws_one_line():
    term = FakeTerminal()
    display = ProgressDisplay(term, label="take")
    for event in _events():
        display(event)
    display.close()
    text = term.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n")  # one line, ended once
    frames = text.strip("\n").split("\r")[1:]
    assert frames[0].startswith("take [" + "-" * 30 + "]")
    assert "100.0%" in frames[-1] and "done" in frames[-1] and "#" * 30 in frames[-1]
    assert len(frames) < 30  # chunk events are not each a redraw


def test_plain_lines_when_not_a_terminal():
    log = io.StringIO()
    display = ProgressDisplay(log, label="take")
    for event in _events():
        display(event)
    display.close()
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue()
    assert lines[0] == "take:   0% queued" and lines[-1] == "take: 100% done"
    assert 4 <= len(lines) <= 15
