"""The Sequencer sidebar panel "Scorecut", and the progress shown in the status bar."""

from __future__ import annotations

import bpy

from . import jobs
from .compat import sequencer_scene
from .preferences import server_address


def _draw_status(layout, address: str) -> None:
    box = layout.box()
    row = box.row()
    row.label(text=address, icon="URL")
    row.operator("sequencer.scorecut_refresh", text="", icon="FILE_REFRESH")
    probe = jobs.current_status()
    status = probe.result if probe is not None and probe.address == address else None
    if probe is not None and probe.address == address and status is None:
        box.label(text="Asking the server...")
    elif status is None:
        box.label(text="Status unknown: press refresh")
    elif not status.reachable and status.error.startswith("Blender's online access is off"):
        box.label(text="Blocked: Blender's online access is off", icon="ERROR")
        box.label(text="Allow it in Preferences > System > Network, or use a server on this computer")
    elif not status.reachable:
        box.label(text="Not reachable", icon="ERROR")
        box.label(text="Start it with: scorecut serve")
    else:
        box.label(text=f"Reachable: Scorecut {status.version} on {status.device}", icon="CHECKMARK")
        for model in status.models:
            text = model.name if model.available else f"{model.name}: unavailable"
            box.label(text=text, icon="CHECKBOX_HLT" if model.available else "CHECKBOX_DEHLT")
            if not model.available and model.reason:
                box.label(text=model.reason)


def _draw_progress(layout, job) -> None:
    state = job.runner.snapshot()
    stage = "cancelling" if job.runner.cancel_requested else (state.stage or "working")
    layout.progress(factor=state.fraction, type="BAR", text=f"Scoring: {stage} {state.fraction:.0%}")


def _draw_midi(layout, midi) -> None:
    """The last take's score.mid: the sequencer cannot play MIDI, so say where it is kept."""
    box = layout.box()
    box.label(text=f"MIDI: {midi.parent.name}/{midi.name}", icon="FILE_SOUND")
    box.label(text="The music as notes, for your own instruments in a DAW")
    box.operator("sequencer.scorecut_open_take_folder", text="Open Take Folder", icon="FILE_FOLDER")


class SEQUENCER_PT_scorecut(bpy.types.Panel):
    bl_space_type = "SEQUENCE_EDITOR"
    bl_region_type = "UI"
    bl_category = "Scorecut"
    bl_label = "Scorecut"

    def draw(self, context):
        layout = self.layout
        scene = sequencer_scene(context)
        settings = scene.scorecut
        address, _ = server_address(context)
        _draw_status(layout, address)

        col = layout.column()
        col.use_property_split = True
        col.use_property_decorate = False
        col.prop(settings, "model")
        col.prop(settings, "style")
        col.prop(settings, "mood")
        col.prop(settings, "seed")
        col.prop(settings, "place_stems")
        sub = col.column()
        sub.enabled = settings.place_stems
        sub.prop(settings, "stems")
        col.prop(settings, "duck_dialogue")
        col.prop(settings, "loop")
        col.prop(settings, "tail_s")
        col.prop(settings, "keep_takes")
        col.prop(settings, "take_as_meta")
        col.prop(settings, "music_markers")

        job = jobs.active_job(scene.name)
        last = jobs.last_job(scene.name)
        if job is None and last is not None and last.reports:
            level, message = last.reports[-1]
            layout.label(text=message.removeprefix("Scorecut: "),
                         icon={"ERROR": "ERROR", "WARNING": "ERROR"}.get(level, "INFO"))
        if job is None and last is not None and last.midi is not None:
            _draw_midi(layout, last.midi)
        if job is None:
            col = layout.column(align=True)
            col.operator("sequencer.scorecut_score", text="Score Selected Strips", icon="SOUND").scope = "SELECTED"
            col.operator("sequencer.scorecut_score", text="Score Range", icon="PREVIEW_RANGE").scope = "RANGE"
            col.operator("sequencer.scorecut_reroll", text="Re-roll Section", icon="FILE_REFRESH")
        else:
            _draw_progress(layout, job)
            layout.operator("sequencer.scorecut_cancel", text="Cancel", icon="CANCEL")


def draw_status_bar(self, context):
    """Appended to the status bar: one progress bar per running take."""
    for job in jobs.running_jobs():
        _draw_progress(self.layout, job)


CLASSES = (SEQUENCER_PT_scorecut,)


def register_status_bar() -> None:
    bpy.types.STATUSBAR_HT_header.append(draw_status_bar)


def unregister_status_bar() -> None:
    bpy.types.STATUSBAR_HT_header.remove(draw_status_bar)
