"""The Scorecut panel: a Fusion UIManager window run by a bmd.UIDispatcher loop.

Layout only; behaviour lives in controller.PanelController. A UI Timer drives the controller's
tick so worker-thread results reach the widgets on the UI thread.
"""

from __future__ import annotations

from .connect import Host
from .controller import AUTO_MOOD, AUTO_STYLE, MARKER_COLORS, NAMES_ONLY, SCOPE_CHOICES, STEM_BOXES, PanelController
from .errors import ResolveScoreError

WINDOW_ID = "ScorecutWindow"
TIMER_ID = "ScorecutTick"
TICK_MS = 100


def build_window(ui, dispatcher, server: str, stems_folder: str = ""):
    """The window and its widgets; IDs are the names the controller uses."""
    def row(label: str, widget):
        return ui.HGroup({"Weight": 0}, [ui.Label({"Text": label, "Weight": 0.3}), widget])

    return dispatcher.AddWindow(
        {"ID": WINDOW_ID, "WindowTitle": "Scorecut", "Geometry": [200, 200, 520, 500]},
        ui.VGroup({"Spacing": 6}, [
            ui.Label({"ID": "ServerStatus", "Text": "Server: not checked yet", "WordWrap": True}),
            row("Server", ui.HGroup([ui.LineEdit({"ID": "Server", "Text": server}),
                                     ui.Button({"ID": "Check", "Text": "Check", "Weight": 0})])),
            row("Score", ui.ComboBox({"ID": "Scope"})),
            row("Model", ui.ComboBox({"ID": "Model"})),
            row("Style", ui.ComboBox({"ID": "Style"})),
            row("Mood", ui.ComboBox({"ID": "Mood"})),
            row("Seed", ui.LineEdit({"ID": "Seed", "Text": "", "PlaceholderText": "random"})),
            row("Stems", ui.HGroup([ui.CheckBox({"ID": box, "Text": box, "Checked": True}) for box, _ in STEM_BOXES])),
            row("Stems folder", ui.LineEdit({"ID": "StemsFolder", "Text": stems_folder,
                                             "PlaceholderText": "beside the project's renders"})),
            row("Takes", ui.CheckBox({"ID": "ReplaceLast", "Text": "Replace the last take's tracks",
                                      "Checked": True})),
            row("Loop", ui.CheckBox({"ID": "Loop", "Text": "Loop: no intro or ending, a seamless join",
                                     "Checked": False})),
            row("Hit markers", ui.ComboBox({"ID": "HitColor"})),  # named hit/stop/section, or of this colour
            row("Tail (s)", ui.LineEdit({"ID": "Tail", "Text": "", "PlaceholderText": "none: ends on the Out point"})),
            ui.HGroup({"Weight": 0}, [ui.Button({"ID": "Score", "Text": "Score"}),
                                      ui.Button({"ID": "Reroll", "Text": "Re-roll section"}),
                                      ui.Button({"ID": "Cancel", "Text": "Cancel", "Enabled": False})]),
            ui.Label({"ID": "Progress", "Text": "Ready.", "WordWrap": True}),
            ui.Label({"ID": "Error", "Text": "", "WordWrap": True, "StyleSheet": "color: #e06c5a;"}),
        ]),
    )


FREE_EDITION = ("this Resolve builds no panels for scripts (free DaVinci Resolve 19.1 and later has no "
                "UIManager): use Workspace > Scripts > Scorecut Free instead (installed beside this script by "
                "packaging/install_resolve.py); it scores the In/Out range and shows progress in Workspace > Console")


def open_panel(host: Host, server: str | None = None):
    """Build the window and wire its handlers; returns (window, controller, dispatcher, timer)."""
    ui = getattr(host.fusion, "UIManager", None) if host.fusion is not None else None
    if ui is None or host.bmd is None:
        raise ResolveScoreError(FREE_EDITION)
    dispatcher = host.bmd.UIDispatcher(ui)
    controller = PanelController(host.resolve, None, server)
    window = build_window(ui, dispatcher, controller.server, controller.default_folder())
    items = window.GetItems()
    controller.items = items
    items["Scope"].AddItems([label for label, _ in SCOPE_CHOICES])
    items["Model"].AddItems(["composer", "vmas"])
    items["Style"].AddItems([AUTO_STYLE])
    items["Mood"].AddItems([AUTO_MOOD])
    items["HitColor"].AddItems([NAMES_ONLY, *MARKER_COLORS])

    def close(ev):
        controller.on_close(ev)
        dispatcher.ExitLoop()

    window.On.Score.Clicked = controller.on_score
    window.On.Reroll.Clicked = controller.on_reroll
    window.On.Cancel.Clicked = controller.on_cancel
    window.On.Check.Clicked = controller.on_check
    window.On.ScorecutWindow.Close = close  # WINDOW_ID
    timer = ui.Timer({"ID": TIMER_ID, "Interval": TICK_MS})
    dispatcher.On.ScorecutTick.Timeout = controller.on_tick  # TIMER_ID
    timer.Start()
    controller.on_check()
    return window, controller, dispatcher, timer


def run_panel(host: Host, server: str | None = None) -> PanelController:
    """Show the panel until it is closed."""
    window, controller, dispatcher, timer = open_panel(host, server)
    window.Show()
    try:
        dispatcher.RunLoop()
    finally:
        timer.Stop()
        window.Hide()
    return controller
