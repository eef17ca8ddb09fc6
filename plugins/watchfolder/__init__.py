"""Watch-folder mode: score whatever video lands in a folder, unattended and safely.

FolderScorer is what happens to one file (journal, naming, landing, failures), shared by the
watcher and `scorecut batch`; Watcher is the loop that finds complete files and sends them.
"""

from .folder import FolderLock, FolderScorer, Take, content_hash
from .watcher import Watcher, WatchSettings

__all__ = ["FolderLock", "FolderScorer", "Take", "WatchSettings", "Watcher", "content_hash"]
