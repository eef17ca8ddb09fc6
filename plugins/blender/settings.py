"""The scene's Scorecut options: one PropertyGroup, registered as `Scene.scorecut`."""

from __future__ import annotations

import bpy

from . import jobs
from .client_api import STEMS

STEM_HINTS = {"drums": "Kit and percussion", "bass": "Bass line", "harmony": "Chords and pads", "melody": "Lead line"}
STEM_ITEMS = [(name, name.title(), STEM_HINTS.get(name, "")) for name in STEMS]


def _names_from_server(kind: str):
    def search(self, context, edit_text):
        probe = jobs.current_status()
        status = probe.result if probe is not None else None
        names = getattr(status, kind, ()) if status is not None and status.reachable else ()
        names = [getattr(n, "name", n) for n in names if getattr(n, "available", True)]  # models: usable ones
        return [n for n in names if edit_text.lower() in n.lower()]
    return search


class ScorecutSettings(bpy.types.PropertyGroup):
    # The models are the server's (GetInfo lists them with their availability), not the add-on's.
    model: bpy.props.StringProperty(name="Model", description="Model; empty = the server's default (the composer)",
                                    search=_names_from_server("models"))
    style: bpy.props.StringProperty(name="Style", description="Style preset; empty = the server's default",
                                    search=_names_from_server("styles"))
    mood: bpy.props.StringProperty(name="Mood", description="Mood; empty = read from the picture",
                                   search=_names_from_server("moods"))
    seed: bpy.props.IntProperty(name="Seed", description="Same seed, same music; change it for another take",
                                default=0, min=0)
    stems: bpy.props.EnumProperty(name="Stems", items=STEM_ITEMS, options={"ENUM_FLAG"},
                                  default=set(STEMS))
    place_stems: bpy.props.BoolProperty(
        name="Place Stems", default=True,
        description="One sound strip per stem on its own channel; off places only the mix")
    duck_dialogue: bpy.props.BoolProperty(
        name="Duck Under Dialogue", default=False,
        description="Lower the music where the movies' own sound has speech")
    take_as_meta: bpy.props.BoolProperty(
        name="Take as Meta Strip", default=False,
        description="Group the take's strips into one meta strip: mute, swap and move it as one")
    music_markers: bpy.props.BoolProperty(
        name="Mark Music", default=False,
        description="Add timeline markers at the take's sections and downbeats, to cut to the music")
    loop: bpy.props.BoolProperty(
        name="Loop", default=False,
        description="Music that loops: no intro or ending, whole bars as long as the range, a seamless join")
    tail_s: bpy.props.FloatProperty(
        name="Tail", default=0.0, min=0.0, soft_max=10.0, unit="TIME_ABSOLUTE",
        description="Seconds the music rings out past the range's last frame, to trim or fade by hand")
    keep_takes: bpy.props.BoolProperty(
        name="Keep Takes", default=False,
        description="Keep earlier takes of the same frames (muted); off replaces the last take")
