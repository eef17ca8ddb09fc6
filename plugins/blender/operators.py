"""Operators: score (selected strips or a range), cancel, refresh the server status, report."""

from __future__ import annotations

import bpy

from . import jobs
from .compat import sequencer_scene
from .job_runner import FINISHED
from .preferences import server_address
from .strips_to_request import NothingToScore


class SEQUENCER_OT_scorecut_score(bpy.types.Operator):
    """Write music for the picture and place it as sound strips above it"""

    bl_idname = "sequencer.scorecut_score"
    bl_label = "Score with Scorecut"
    bl_options = {"REGISTER"}

    scope: bpy.props.EnumProperty(
        name="Scope",
        items=[("SELECTED", "Selected Strips", "The selected movie strips"),
               ("RANGE", "Range", "The picture in the preview range, or the scene range when none is set")],
        default="SELECTED",
    )

    @classmethod
    def poll(cls, context):
        return sequencer_scene(context) is not None

    def execute(self, context):
        scene = sequencer_scene(context)
        address, token = server_address(context)
        try:
            job = jobs.prepare(scene, self.scope, scene.scorecut, address, token)
        except (NothingToScore, ValueError) as e:
            self.report({"ERROR"}, f"Scorecut: {e}")
            return {"CANCELLED"}
        if bpy.app.background:
            # Batch use (render nodes, scripts): the caller expects the music placed on return.
            state = jobs.run_to_completion(job)
            for level, message in job.reports:
                self.report({level}, message)
            return {"FINISHED"} if state.state == FINISHED and job.placed else {"CANCELLED"}
        jobs.start_interactive(job)
        for level, message in job.reports:
            self.report({level}, message)
        self.report({"INFO"}, f"Scorecut: scoring {len(job.segment.clips)} clip(s), "
                              f"{job.segment.duration_s:.1f} s, at {address}")
        return {"FINISHED"}


class SEQUENCER_OT_scorecut_reroll(bpy.types.Operator):
    """New music for the section of the last take under the playhead; the rest of the take stays"""

    bl_idname = "sequencer.scorecut_reroll"
    bl_label = "Re-roll Section"
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context):
        scene = sequencer_scene(context)
        return scene is not None and jobs.last_job(scene.name) is not None

    def execute(self, context):
        scene = sequencer_scene(context)
        address, token = server_address(context)
        try:
            job = jobs.prepare_reroll(scene, scene.frame_current, address, token)
        except ValueError as e:
            self.report({"ERROR"}, f"Scorecut: {e}")
            return {"CANCELLED"}
        if bpy.app.background:
            state = jobs.run_to_completion(job)
            for level, message in job.reports:
                self.report({level}, message)
            return {"FINISHED"} if state.state == FINISHED and job.placed else {"CANCELLED"}
        jobs.start_interactive(job)
        start, end = job.runner.request.options.reroll
        self.report({"INFO"}, f"Scorecut: re-rolling {start:.1f}-{end:.1f} s of the take, at {address}")
        return {"FINISHED"}


class SEQUENCER_OT_scorecut_cancel(bpy.types.Operator):
    """Stop writing music for this scene"""

    bl_idname = "sequencer.scorecut_cancel"
    bl_label = "Cancel Scoring"

    @classmethod
    def poll(cls, context):
        scene = sequencer_scene(context)
        return scene is not None and jobs.active_job(scene.name) is not None

    def execute(self, context):
        jobs.cancel(sequencer_scene(context).name)
        return {"FINISHED"}


class SEQUENCER_OT_scorecut_refresh(bpy.types.Operator):
    """Ask the Scorecut server whether it is there, and what it offers"""

    bl_idname = "sequencer.scorecut_refresh"
    bl_label = "Refresh Server Status"

    def execute(self, context):
        address, token = server_address(context)
        probe = jobs.refresh_status(address, token)
        if bpy.app.background:
            probe.wait(10)
        return {"FINISHED"}


class SEQUENCER_OT_scorecut_open_take_folder(bpy.types.Operator):
    """Open the last take's folder: its WAVs and score.mid, the music as MIDI for your own instruments"""

    bl_idname = "sequencer.scorecut_open_take_folder"
    bl_label = "Open Take Folder"

    @classmethod
    def poll(cls, context):
        scene = sequencer_scene(context)
        return scene is not None and jobs.last_take_folder(scene.name) is not None

    def execute(self, context):
        folder = jobs.last_take_folder(sequencer_scene(context).name)
        if folder is None or not folder.is_dir():
            self.report({"ERROR"}, f"Scorecut: the take's folder {folder} is gone; score again")
            return {"CANCELLED"}
        if bpy.app.background:  # no desktop to open it on: say where it is
            self.report({"INFO"}, f"Scorecut: the take's folder is {folder}")
            return {"FINISHED"}
        return bpy.ops.wm.path_open(filepath=str(folder))


class SEQUENCER_OT_scorecut_report(bpy.types.Operator):
    """Show a Scorecut message in the status bar (used by the background job's timer)"""

    bl_idname = "sequencer.scorecut_report"
    bl_label = "Scorecut Report"
    bl_options = {"INTERNAL"}

    level: bpy.props.StringProperty(default="INFO")
    message: bpy.props.StringProperty()

    def execute(self, context):
        self.report({self.level if self.level in {"INFO", "WARNING", "ERROR"} else "INFO"}, self.message)
        return {"FINISHED"}


CLASSES = (SEQUENCER_OT_scorecut_score, SEQUENCER_OT_scorecut_reroll, SEQUENCER_OT_scorecut_cancel,
           SEQUENCER_OT_scorecut_refresh, SEQUENCER_OT_scorecut_open_take_folder, SEQUENCER_OT_scorecut_report)
