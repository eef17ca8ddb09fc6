"""The panel's behaviour, apart from its layout: Score, Cancel, server status, progress, errors.

Resolve calls stay on the UI thread: reading the timeline (fast) happens when Score is clicked
and placing the stems happens on a timer tick. Only the server job runs on a worker thread, and
it talks to the UI through a queue that the timer drains (Fusion's UI is not thread-safe).
"""

from __future__ import annotations

import queue
import threading

from scorecut.plugins.client import STEMS, JobCancelled, ScorecutClient, ScorecutClientError

from .reroll import prepare_reroll
from .score import ResolveJob, current_timeline, prepare, server_address
from .stems_folder import stems_folder

SCOPE_CHOICES = (("In/Out range", "inout"), ("Clip under the playhead", "current"), ("Whole timeline", "timeline"))
STEM_BOXES = tuple((name.title(), name) for name in STEMS)
AUTO_STYLE = "(automatic)"
AUTO_MOOD = "(from the picture)"
NAMES_ONLY = "(by name only)"
# Resolve's marker colours (Timeline.AddMarker): markers of the chosen one are hits whatever their name.
MARKER_COLORS = ("Blue", "Cyan", "Green", "Yellow", "Red", "Pink", "Purple", "Fuchsia", "Rose", "Lavender",
                 "Sky", "Mint", "Lemon", "Sand", "Cocoa", "Cream")
STATUS_TIMEOUT_S = 15.0  # a server just started may take seconds to list its models; the check runs on a thread


class PanelController:
    """Handlers for the panel's events; `items` is the window's GetItems() mapping."""

    def __init__(self, resolve, items, server: str | None = None):
        self.resolve = resolve
        self.items = items
        self.server = server_address(server)
        self.events: queue.Queue = queue.Queue()  # (kind, payload) from worker threads
        self.cancel: threading.Event | None = None
        self.job: ResolveJob | None = None
        self.worker: threading.Thread | None = None
        self.placed: list = []
        self.last_error = ""
        self.checks = 0  # status checks started; only the latest one's answer is shown
        self.take: tuple[str, dict] | None = None  # (scope, options) of the last take placed: what Re-roll asks again
        self.reroll_seed = 0  # the last re-roll's seed; each press uses a new one

    # -- reading the options ---------------------------------------------------------------------
    def options(self) -> tuple[str, dict]:
        """(scope, keyword options for score_timeline) from the widgets."""
        items = self.items
        scope = dict(SCOPE_CHOICES).get(items["Scope"].CurrentText, "inout")
        options: dict = {"model": items["Model"].CurrentText or ""}
        style, mood = items["Style"].CurrentText, items["Mood"].CurrentText
        options["style"] = "" if style in ("", AUTO_STYLE) else style
        options["mood"] = "" if mood in ("", AUTO_MOOD) else mood
        seed = str(items["Seed"].Text).strip()
        if seed:
            if not seed.lstrip("-").isdigit():
                raise ValueError(f"the seed {seed!r} is not a whole number; type a number or leave it empty")
            options["seed"] = int(seed)
        stems = tuple(stem for box, stem in STEM_BOXES if items[box].Checked)
        if not stems:
            raise ValueError(f"no stems are ticked; tick at least one of {', '.join(STEMS)}")
        options["stems"] = stems
        folder = str(items["StemsFolder"].Text).strip()
        if folder:
            options["out_dir"] = folder
        options["replace_last"] = bool(items["ReplaceLast"].Checked)
        if items["Loop"].Checked:
            options["loop"] = True
        color = items["HitColor"].CurrentText
        if color and color != NAMES_ONLY:
            options["hit_marker_color"] = color
        tail = str(items["Tail"].Text).strip()
        if tail:
            try:
                tail_s = float(tail)
            except ValueError:
                tail_s = -1.0
            if not 0 <= tail_s < float("inf"):
                raise ValueError(f"the tail {tail!r} is not a number of seconds; type e.g. 2.5 or leave it empty")
            options["tail_s"] = tail_s
        return scope, options

    def default_folder(self) -> str:
        """The stems folder the panel proposes: beside the project's renders (see stems_folder)."""
        try:
            project, _ = current_timeline(self.resolve)
            return str(stems_folder(project))
        except ScorecutClientError:
            return ""

    # -- UI updates (UI thread only) -------------------------------------------------------------
    def _running(self, running: bool) -> None:
        self.items["Score"].Enabled = not running
        self.items["Reroll"].Enabled = not running
        self.items["Cancel"].Enabled = running

    def _error(self, message: str) -> None:
        self.last_error = message
        self.items["Error"].Text = message
        self.items["Progress"].Text = "Stopped."
        self._running(False)

    # -- handlers --------------------------------------------------------------------------------
    def on_score(self, ev=None) -> None:
        if self.worker is not None and self.worker.is_alive():
            return
        self.items["Error"].Text = ""
        self.last_error = ""
        try:
            scope, options = self.options()
            self.server = server_address(str(self.items["Server"].Text).strip() or None)
            self.job = prepare(self.resolve, scope, self.server, **options)
        except (ValueError, ScorecutClientError) as e:
            self._error(str(e))
            return
        self.take = (scope, options)
        self._start(self.job)

    def on_reroll(self, ev=None) -> None:
        """New music for the section of the last take under the playhead (reroll.prepare_reroll): the
        take's request again, placed over the take's tracks. Before any take: the widgets' options."""
        if self.worker is not None and self.worker.is_alive():
            return
        self.items["Error"].Text = ""
        self.last_error = ""
        try:
            scope, options = self.take if self.take is not None else self.options()
            self.server = server_address(str(self.items["Server"].Text).strip() or None)
            seed = max(int(options.get("seed") or 0), self.reroll_seed) + 1
            self.items["Progress"].Text = "Finding the section under the playhead..."
            self.job = prepare_reroll(self.resolve, seed, scope, self.server,
                                      **{k: v for k, v in options.items() if k != "replace_last"})
        except (ValueError, ScorecutClientError) as e:
            self._error(str(e))
            return
        self.reroll_seed = seed
        self._start(self.job)

    def _start(self, job: ResolveJob) -> None:
        self.cancel = threading.Event()
        self._running(True)
        reroll = job.options.reroll
        what = f"Re-rolling {reroll[0]:.2f}-{reroll[1]:.2f} s of" if reroll else "Scoring"
        self.items["Progress"].Text = f"{what} {job.segment.describe()}..."
        self.worker = threading.Thread(target=self._work, args=(job, self.cancel), name="scorecut-resolve",
                                       daemon=True)
        self.worker.start()

    def _work(self, job: ResolveJob, cancel: threading.Event) -> None:
        try:
            job.run(lambda message, fraction: self.events.put(("progress", (message, fraction))), cancel)
        except JobCancelled:
            self.events.put(("cancelled", "Cancelled; nothing was placed."))
        except ScorecutClientError as e:
            self.events.put(("error", str(e)))
        except Exception as e:  # the panel must show every failure in words
            self.events.put(("error", f"scoring failed: {e}"))
        else:
            self.events.put(("scored", job))

    def on_cancel(self, ev=None) -> None:
        if self.cancel is not None and self.worker is not None and self.worker.is_alive():
            self.cancel.set()
            self.items["Progress"].Text = "Cancelling..."

    def on_check(self, ev=None) -> None:
        """Ask the server for its status on a thread; the answer arrives through the queue."""
        address = server_address(str(self.items["Server"].Text).strip() or None)
        self.items["ServerStatus"].Text = f"Checking {address}..."
        self.checks += 1
        threading.Thread(target=self._check, args=(address, self.checks), name="scorecut-status",
                         daemon=True).start()

    def _check(self, address: str, number: int) -> None:
        try:
            with ScorecutClient(address) as client:
                info = client.info(timeout=STATUS_TIMEOUT_S)
        except ScorecutClientError as e:
            self.events.put(("status", (f"Server not running: {e}", None, number)))
            return
        models = ", ".join(m.name + ("" if m.available else " (unavailable)") for m in info.models)
        self.events.put(("status", (f"Server ready at {address}: version {info.version}, {info.device}; "
                                    f"models {models}", info, number)))

    def on_tick(self, ev=None) -> None:
        """Timer tick on the UI thread: apply what the workers reported."""
        while True:
            try:
                kind, payload = self.events.get_nowait()
            except queue.Empty:
                return
            if kind == "progress":
                message, fraction = payload
                self.items["Progress"].Text = f"{round(100 * fraction)}%  {message}"
            elif kind == "status":
                self._show_status(*payload)
            elif kind == "cancelled":
                self._error(payload)
            elif kind == "error":
                self._error(payload)
            elif kind == "scored":
                self._place(payload)

    def _place(self, job: ResolveJob) -> None:
        def show(message: str, fraction: float) -> None:
            self.items["Progress"].Text = f"{round(100 * fraction)}%  {message}"

        try:
            self.placed = job.place(show, self.cancel)
        except JobCancelled:
            self._error("Cancelled; nothing was placed.")
            return
        except ScorecutClientError as e:
            self._error(str(e))
            return
        midi = f" {job.midi.words()}." if job.midi is not None else ""
        self.items["Progress"].Text = (f"Done: {len(self.placed)} stems at {job.segment.timecode(job.segment.start)}, "
                                       f"linked; the WAVs are in {job.result.folder}.{midi}")
        self._running(False)

    def _show_status(self, text: str, info, number: int) -> None:
        if number != self.checks:  # an earlier check (another address) answered late: not the news
            return
        self.items["ServerStatus"].Text = text
        if info is None:
            return
        for box, names, auto in (("Model", [m.name for m in info.models], None),
                                 ("Style", list(info.styles), AUTO_STYLE), ("Mood", list(info.moods), AUTO_MOOD)):
            if not names:
                continue
            current = self.items[box].CurrentText
            self.items[box].Clear()
            choices = ([auto] if auto else []) + names
            self.items[box].AddItems(choices)
            if current in choices:
                self.items[box].CurrentIndex = choices.index(current)

    def on_close(self, ev=None) -> None:
        if self.cancel is not None:
            self.cancel.set()
