"""Placing a finished take on Blender's timeline, and cutting the earlier take it replaces.

Main thread only (bpy). The decisions (pieces, channels, fade length) are plain functions in
placement.py; this module only carries them out on strips:
- an earlier take's sound strip under the new range is trimmed to the part outside it; a strip
  that reaches past both edges is split in two (a copy of it, trimmed, holds the right part), so
  the music outside plays the same samples as before;
- the part under the new range is removed (replace) or kept muted (Keep Takes);
- each seam gets a short volume fade on both sides;
- the new take goes on the earlier take's channels when replacing, optionally grouped as one meta
  strip, and channels are named after stems only when none of the user's strips is on them.
"""

from __future__ import annotations

from pathlib import Path

import bpy

from .compat import editor_of, name_channel, top_strips
from .placement import (
    MAX_CHANNEL,
    Occupant,
    choose_channels,
    cut,
    fade_frames,
    nameable,
    overlaps,
    reuse_channels,
    stems_to_place,
    takes_over,
)

TAKE_KEY = "scorecut_take"  # ID property on placed strips: which take they belong to
STEM_KEY = "scorecut_stem"
MIDI_KEY = "scorecut_midi"  # the take's score.mid: shown in the strip's Custom Properties (sidebar, Strip tab)
META_CHANNEL = "(meta)"  # cut_earlier's key for the channel of a take meta strip that gave way


def _children(strip):
    return strip.strips if hasattr(strip, "strips") else strip.sequences


def take_sounds(strips):
    """(sound strip, its collection) of every take, top level and inside take meta strips."""
    for strip in list(strips):
        if strip.type == "META" and strip.get(TAKE_KEY, ""):
            yield from take_sounds(_children(strip))
        elif strip.type == "SOUND" and strip.get(TAKE_KEY, ""):
            yield strip, strips


def _free_channel(strips, start: int, end: int) -> int:
    """A channel with nothing over [start, end) in `strips`, from the top down."""
    busy = {s.channel for s in strips if overlaps(s.frame_final_start, s.frame_final_end, start, end)}
    for channel in range(MAX_CHANNEL, 0, -1):
        if channel not in busy:
            return channel
    raise ValueError("no free channel to split the earlier take on; free a channel and score again")


def _fade(strip, at_start: bool, frames: int) -> None:
    """A volume ramp over `frames` at the strip's start (in) or end (out)."""
    level = strip.volume
    edge = strip.frame_final_start if at_start else strip.frame_final_end
    inner = edge + frames if at_start else edge - frames
    for frame, value in ((edge, 0.0), (inner, level)):
        strip.volume = value
        strip.keyframe_insert("volume", frame=frame)
    strip.volume = level


def _copy(strip, strips, span: tuple[int, int], home: int, mute: bool):
    """A second sound strip of the same file and timing, showing only `span`, on channel `home`.

    It is made on a free channel and trimmed there first: Blender moves a strip that lands on
    another, and the whole sound would overlap the piece still on `home`.
    """
    channel = _free_channel(strips, int(strip.frame_start), int(strip.frame_start) + strip.frame_duration)
    twin = strips.new_sound(name=strip.name, filepath=strip.sound.filepath, channel=channel,
                            frame_start=int(strip.frame_start))
    for key in (TAKE_KEY, STEM_KEY, MIDI_KEY):
        if strip.get(key, ""):  # a piece of the take names what the whole strip named
            twin[key] = strip.get(key, "")
    twin.volume = strip.volume
    twin.frame_final_start, twin.frame_final_end = span
    twin.mute = mute
    twin.channel = home
    return twin


def cut_earlier(strips_top, takes: set[str], first: int, end: int, keep: bool, fade: int) -> dict[str, int]:
    """Cut the earlier `takes` at [first, end); returns {stem: channel} of what gave way there."""
    channels: dict[str, int] = {}
    for strip, strips in list(take_sounds(strips_top)):
        if strip.get(TAKE_KEY, "") not in takes or strip.mute:  # takes kept earlier (muted) stay as they are
            continue
        pieces = cut(strip.frame_final_start, strip.frame_final_end, first, end)
        if pieces is None:
            continue
        home = strip.channel
        if strips == strips_top:  # channels inside a meta strip mean nothing outside it
            channels.setdefault(str(strip.get(STEM_KEY, "")), home)
        # The original keeps the left part (or the middle, muted); copies take the rest. The
        # original is trimmed or removed first, so no copy lands on it.
        twins = [(pieces.right, False)] if pieces.right is not None else []
        if pieces.left is not None:
            strip.frame_final_end = pieces.left[1]
            _fade(strip, False, fade)
            if keep:
                twins.append((pieces.middle, True))
            original = strip
        elif keep:
            strip.frame_final_start, strip.frame_final_end = pieces.middle
            strip.mute = True
            original = strip
        else:
            original = _Detached(strip)
            strips.remove(strip)
        for span, mute in twins:
            twin = _copy(original, strips, span, home, mute)
            if span == pieces.right:
                _fade(twin, True, fade)
    for meta in [s for s in strips_top if s.type == "META" and s.get(TAKE_KEY, "") in takes]:
        if not len(_children(meta)):
            channels.setdefault(META_CHANNEL, meta.channel)
            strips_top.remove(meta)
    return channels


class _Detached:
    """What _copy needs of a strip that has been removed."""

    def __init__(self, strip):
        self.name, self.frame_start, self.frame_duration = strip.name, strip.frame_start, strip.frame_duration
        self.volume = strip.volume
        self.sound = type("Sound", (), {"filepath": strip.sound.filepath})()
        self._keys = {key: strip.get(key, "") for key in (TAKE_KEY, STEM_KEY, MIDI_KEY)}

    def get(self, key, default=None):
        return self._keys.get(key, default)


def _occupants(strips) -> list[Occupant]:
    return [Occupant(s.channel, s.frame_final_start, s.frame_final_end, str(s.get(TAKE_KEY, "")), s.mute)
            for s in strips]


def _blend_path(path: Path) -> str:
    """Relative to the .blend (//scorecut/...) when it is saved, so the project can move."""
    return bpy.path.relpath(str(path)) if bpy.data.filepath else str(path)


def place_take(scene, segment, take: str, stems: dict[str, Path], mix: Path, place_stems: bool,
               keep_takes: bool, as_meta: bool = False, midi: Path | None = None) -> list[str]:
    """Put a finished take over [segment.first_frame, segment.end_frame); returns the strip names.

    The take playing there is cut at the range's edges; under the range it gives way (or is
    muted when `keep_takes`); takes kept earlier (muted) stay as they are. `midi`: the take's
    score.mid, named on each placed strip (MIDI_KEY) since the sequencer cannot play it.
    """
    editor = editor_of(scene, create=True)
    strips = top_strips(editor)
    first, end = segment.first_frame, segment.end_frame
    earlier = takes_over(_occupants(strips), first, end)
    files = stems_to_place(stems, mix, place_stems)
    fade = fade_frames(segment.scene_fps)
    freed = cut_earlier(strips, earlier, first, end, keep_takes, fade) if earlier else {}
    occupants = _occupants(strips)
    names = [META_CHANNEL] if as_meta else [stem for stem, _ in files]
    if keep_takes or not freed:
        channels = choose_channels(occupants, first, end, len(names))
    else:
        channels = reuse_channels(names, freed, occupants, first, end)
    if as_meta:
        meta = strips.new_meta(name=f"Scorecut take {take}", channel=channels[0], frame_start=first)
        meta[TAKE_KEY] = take
        if midi is not None:
            meta[MIDI_KEY] = _blend_path(midi)
        inside, inner = _children(meta), list(range(1, len(files) + 1))
    else:
        inside, inner = strips, channels
    placed = []
    for (stem, wav), channel in zip(files, inner, strict=False):
        strip = inside.new_sound(name=f"Scorecut {stem}", filepath=_blend_path(wav), channel=channel,
                                 frame_start=first)
        if strip.frame_final_duration > segment.frames:
            strip.frame_final_duration = segment.frames  # sample rounding must not run past the segment
        strip[TAKE_KEY] = take
        strip[STEM_KEY] = stem
        if midi is not None:
            strip[MIDI_KEY] = _blend_path(midi)
        if first in {o.end for o in occupants if o.take in earlier}:
            _fade(strip, True, fade)  # a seam with the earlier take's left part
        if end in {o.start for o in occupants if o.take in earlier}:
            _fade(strip, False, fade)
        placed.append(strip)
    if as_meta:
        # A meta strip's range does not follow what is put in it through the API: set it.
        meta.frame_final_start, meta.frame_final_end = first, end
        meta.channel = channels[0]
    occupants = _occupants(strips)
    for (stem, _), channel in zip(files, [channels[0]] if as_meta else channels, strict=False):
        if nameable(channel, occupants):
            name_channel(editor, channel, "Scorecut take" if as_meta else stem)
    return [s.name for s in placed]
