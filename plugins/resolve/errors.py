"""The Resolve plugin's own error: what went wrong on the timeline and what to do about it."""

from __future__ import annotations

from scorecut.plugins.client import ScorecutClientError


class ResolveScoreError(ScorecutClientError):
    """Scoring could not start or finish on the Resolve side; str(error) says what to do."""
