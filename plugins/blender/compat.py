"""Blender 4.2-4.5 call the sequencer's strips `sequences`; 5.x calls them `strips`. Blender 5.0
also lets the Sequencer show another scene than the window's (the workspace's sequencer scene).

Everything else in the add-on goes through these few functions, so the differences live here alone.
"""

from __future__ import annotations


def sequencer_scene(context):
    """The scene the Sequencer shows: `context.sequencer_scene` in 5.0+ (the workspace's, which
    may differ from the window's `context.scene`), else `context.scene`."""
    return getattr(context, "sequencer_scene", None) or context.scene


def top_strips(editor):
    """The editor's top-level strips collection (with new_movie / new_sound / remove)."""
    return editor.strips if hasattr(editor, "strips") else editor.sequences


def editor_of(scene, create: bool = False):
    """The scene's sequence editor (created when asked), or None."""
    if scene.sequence_editor is None and create:
        scene.sequence_editor_create()
    return scene.sequence_editor


def channel_muted(editor, channel: int) -> bool:
    """Whether a whole channel is muted (channel muting exists since Blender 3.3)."""
    channels = getattr(editor, "channels", None)
    return bool(channels is not None and 0 <= channel < len(channels) and channels[channel].mute)


def name_channel(editor, channel: int, name: str) -> None:
    channels = getattr(editor, "channels", None)
    if channels is not None and 0 <= channel < len(channels):
        channels[channel].name = name
