"""Watch-folder mode: score whatever video lands in a folder, unattended and safely."""

from .watcher import Watcher, WatchSettings

__all__ = ["WatchSettings", "Watcher"]
