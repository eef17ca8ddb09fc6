"""A take's score.mid in Resolve: offered to the take's bin, kept beside the stems either way.

score.mid is the music as MIDI (one track per stem, the tempo map of score.json), for the
editor's own instruments. Resolve's media pool holds media it can play: its manual's compatible
audio formats are WAVE, Broadcast WAVE, AIFF, MP3, AAC, CAF and AC-3/E-AC-3, and the scripting
README's `MediaPool.ImportMedia` returns "the MediaPoolItems created", so a file it cannot read
gets no item and is left out of the list. MIDI is not among those formats: expect Resolve to
refuse it. Then the file stays in the take's folder beside the stems and the user is told where;
a Resolve that does take it gets it in the take's bin beside the stems. Either way placing the
stems never depends on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .media_import import import_into, path_key


@dataclass(frozen=True)
class TakeMidi:
    """What became of a take's score.mid."""

    path: Path  # score.mid in the take's folder, beside the stems' WAVs
    clip: object | None  # its media pool item in the take's bin; None where Resolve made none

    def words(self) -> str:
        """For the user, after the stems are placed."""
        if self.clip is not None:
            return "score.mid (the music as MIDI) is in the take's bin"
        return (f"Resolve does not import MIDI files: score.mid (the music as MIDI, for your own instruments) "
                f"is beside the stems in {self.path.parent}")


def offer_midi(media_pool, take_bin, path: Path) -> TakeMidi:
    """Import `path` into `take_bin`; a refusal (no item made, or the call failing) is kept as such."""
    try:
        clips = import_into(media_pool, take_bin, [path])
    except Exception:  # the stems are placed already: a failed extra must not undo them
        clips = {}
    return TakeMidi(Path(path), clips.get(path_key(path)))
