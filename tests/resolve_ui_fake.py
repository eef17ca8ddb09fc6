"""A fake of Fusion's UIManager and bmd.UIDispatcher, enough to drive the Scorecut panel.

Widgets carry the properties Fusion documents for them (Text, Checked, Enabled, CurrentText,
CurrentIndex, ...); an unknown property or method is an AttributeError. Handlers are registered
the Fusion way (`win.On.<ID>.<Event> = fn`, `disp.On.<TimerID>.Timeout = fn`) and tests fire
them with click()/tick()/close().
"""

from __future__ import annotations

PROPS = {
    "Label": {"ID", "Text", "WordWrap", "Weight", "StyleSheet", "Alignment"},
    "Button": {"ID", "Text", "Enabled", "Weight"},
    "LineEdit": {"ID", "Text", "PlaceholderText", "Weight", "Enabled"},
    "CheckBox": {"ID", "Text", "Checked", "Weight", "Enabled"},
    "ComboBox": {"ID", "CurrentIndex", "CurrentText", "Weight", "Enabled"},
    "VGroup": {"ID", "Spacing", "Weight"},
    "HGroup": {"ID", "Spacing", "Weight"},
    "Timer": {"ID", "Interval", "SingleShot"},
}
METHODS = {"ComboBox": {"AddItem", "AddItems", "Clear"}, "Timer": {"Start", "Stop"}}


class Widget:
    def __init__(self, kind: str, props: dict | None = None, children=None):
        object.__setattr__(self, "_kind", kind)
        object.__setattr__(self, "_props", {"Enabled": True, "Text": "", "Checked": False})
        object.__setattr__(self, "_children", list(children or []))
        object.__setattr__(self, "_entries", [])
        object.__setattr__(self, "_index", -1)
        object.__setattr__(self, "running", False)
        for key, value in (props or {}).items():
            setattr(self, key, value)

    def __getattr__(self, name):
        kind = object.__getattribute__(self, "_kind")
        if name in METHODS.get(kind, ()):
            return object.__getattribute__(self, "_" + name)
        if name not in PROPS[kind]:
            raise AttributeError(f"{kind} has no property {name!r}")
        if name == "CurrentText":
            entries, index = self._entries, self._index
            return entries[index] if 0 <= index < len(entries) else ""
        if name == "CurrentIndex":
            return self._index
        return self._props.get(name)

    def __setattr__(self, name, value):
        kind = object.__getattribute__(self, "_kind")
        if name not in PROPS[kind] or name == "CurrentText":
            raise AttributeError(f"{kind} has no settable property {name!r}")
        if name == "CurrentIndex":
            object.__setattr__(self, "_index", int(value))
        else:
            self._props[name] = value

    # ComboBox
    def _AddItem(self, text):
        self._entries.append(str(text))
        if self._index < 0:
            object.__setattr__(self, "_index", 0)

    def _AddItems(self, texts):
        for text in texts:
            self._AddItem(text)

    def _Clear(self):
        self._entries.clear()
        object.__setattr__(self, "_index", -1)

    # Timer
    def _Start(self):
        object.__setattr__(self, "running", True)

    def _Stop(self):
        object.__setattr__(self, "running", False)

    def walk(self):
        yield self
        for child in self._children:
            yield from child.walk()

    def choose(self, text: str) -> None:
        """Test helper: pick a ComboBox entry as a user would."""
        object.__setattr__(self, "_index", self._entries.index(text))


class _On:
    """`On.<ID>.<Event> = handler` records handler under (ID, Event)."""

    def __init__(self, handlers: dict):
        object.__setattr__(self, "_handlers", handlers)

    def __getattr__(self, widget_id):
        handlers = self._handlers

        class Slot:
            def __setattr__(self, event, fn):
                handlers[(widget_id, event)] = fn

        return Slot()


class UIManager:
    def __init__(self):
        self.timers: list[Widget] = []

    def __getattr__(self, kind):
        if kind not in PROPS:
            raise AttributeError(f"UIManager has no element {kind!r}")

        def make(props=None, children=None):
            if isinstance(props, list):  # ui.VGroup([children]) without properties
                props, children = None, props
            widget = Widget(kind, props, children)
            if kind == "Timer":
                self.timers.append(widget)
            return widget

        return make


class Window:
    def __init__(self, props: dict, root: Widget, handlers: dict):
        self.props, self.root, self.handlers = props, root, handlers
        self.On = _On(handlers)
        self.shown = False

    def GetItems(self) -> dict:
        return {w.ID: w for w in self.root.walk() if w.ID}

    def Show(self):
        self.shown = True

    def Hide(self):
        self.shown = False

    # -- test helpers ------------------------------------------------------------------------------
    def click(self, widget_id: str) -> None:
        widget = self.GetItems()[widget_id]
        assert widget.Enabled, f"{widget_id} is disabled"
        self.handlers[(widget_id, "Clicked")]({"who": widget_id})

    def close(self) -> None:
        self.handlers[(self.props["ID"], "Close")]({"who": self.props["ID"]})


class UIDispatcher:
    def __init__(self, ui: UIManager):
        self.ui = ui
        self.handlers: dict = {}
        self.On = _On(self.handlers)
        self.windows: list[Window] = []
        self.looping = False
        self.script = None  # test helper: called with the dispatcher when RunLoop starts

    def AddWindow(self, props: dict, root: Widget) -> Window:
        window = Window(props, root, self.handlers)
        self.windows.append(window)
        return window

    def RunLoop(self):
        self.looping = True
        if self.script is not None:
            self.script(self)

    def ExitLoop(self):
        self.looping = False

    def tick(self) -> None:
        """Fire every running timer once, as the event loop would."""
        for timer in self.ui.timers:
            if timer.running:
                self.handlers[(timer.ID, "Timeout")]({"who": timer.ID})


class Fusion:
    def __init__(self):
        self.UIManager = UIManager()


class Bmd:
    @staticmethod
    def UIDispatcher(ui):
        return UIDispatcher(ui)
