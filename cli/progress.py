"""Job progress on the terminal: a redrawn bar on a TTY, plain lines otherwise (logs, CI)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

BAR_WIDTH = 30  # characters
REDRAW_S = 0.1  # at most ten redraws a second
LINE_STEP = 0.1  # plain output: a line per stage change or per 10% of the job


class ProgressDisplay:
    """Callable with a client JobEvent; `close()` ends the bar's line."""

    def __init__(self, stream: TextIO | None = None, label: str = "scoring"):
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.label = label
        self._stage = ""
        self._last_draw = 0.0
        self._last_line_fraction = -1.0
        self._drawn = False
        self._drawn_fraction = -1.0

    def __call__(self, event) -> None:
        if event.kind not in ("accepted", "progress", "chunk", "manifest"):
            return
        stage = "done" if event.kind == "manifest" else (event.stage or self._stage)
        self.update(stage, event.fraction, event.message)

    def update(self, stage: str, fraction: float, message: str = "") -> None:
        fraction = min(max(fraction, 0.0), 1.0)
        changed = stage != self._stage
        self._stage = stage
        if self.tty:
            now = time.monotonic()
            finished = fraction >= 1.0 and self._drawn_fraction < 1.0  # always show the end
            if not changed and not finished and now - self._last_draw < REDRAW_S:
                return
            self._last_draw = now
            self._drawn_fraction = fraction
            filled = int(round(fraction * BAR_WIDTH))
            bar = "#" * filled + "-" * (BAR_WIDTH - filled)
            text = f"\r{self.label} [{bar}] {fraction * 100:5.1f}%  {stage:<10.10}"
            self.stream.write(text)
            self.stream.flush()
            self._drawn = True
        elif changed or fraction - self._last_line_fraction >= LINE_STEP:
            self._last_line_fraction = fraction
            detail = f" ({message})" if message else ""
            self.stream.write(f"{self.label}: {fraction * 100:3.0f}% {stage}{detail}\n")
            self.stream.flush()

    def close(self) -> None:
        if self.tty and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False
