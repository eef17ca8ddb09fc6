"""Driver: install the built zip, enable it, and report what Blender loaded."""

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

import bpy  # noqa: E402
from bl_common import EXTENSION, draw_panel, install, run, submodule  # noqa: E402


def main(args: dict) -> dict:
    ext = install(args["zip"])
    import grpc  # the extension's wheel, put on sys.path by Blender when it was enabled
    from google import protobuf

    site = os.path.dirname(os.path.dirname(grpc.__file__))
    wheel_tags = []
    for entry in os.listdir(site):
        if entry.startswith("grpcio-") and entry.endswith(".dist-info"):
            with open(os.path.join(site, entry, "WHEEL")) as f:
                wheel_tags += [line.split(":", 1)[1].strip() for line in f if line.startswith("Tag:")]
    client_api = submodule("client_api")
    status = submodule("server_status")
    prefs = bpy.context.preferences.addons[EXTENSION].preferences
    prefs.server_address = "127.0.0.1:1"
    os.environ.pop("SCORECUT_SERVER", None)
    from_prefs = status.resolve_address(prefs.server_address)
    os.environ["SCORECUT_SERVER"] = args["server"]
    from_env = status.resolve_address(prefs.server_address)
    bpy.ops.sequencer.scorecut_refresh()
    cli = os.path.join(bpy.utils.system_resource("SCRIPTS"), "addons_core", "bl_pkg", "cli", "blender_ext.py")
    import subprocess
    validate = subprocess.run([sys.executable, cli, "validate", args["zip"]], capture_output=True, text=True)
    probe = submodule("jobs").current_status().result
    panel_idle = draw_panel(bpy.types.SEQUENCER_PT_scorecut, bpy.context)
    # A job in flight: the panel shows its progress and Cancel; the status bar shows it too.
    jobs = submodule("jobs")
    scene = bpy.context.scene
    editor = scene.sequence_editor_create()
    strips = editor.strips if hasattr(editor, "strips") else editor.sequences  # Blender 5 / 4.2-4.5
    strips.new_movie(name="shot", filepath=args["video"], channel=1, frame_start=1)
    strips["shot"].select = True
    job = jobs.start(jobs.prepare(scene, "SELECTED", scene.scorecut, "127.0.0.1:1", ""))
    panel_busy = draw_panel(bpy.types.SEQUENCER_PT_scorecut, bpy.context)
    status_bar = draw_panel(type("StatusBar", (), {"draw": submodule("panels").draw_status_bar}), bpy.context)
    bpy.ops.sequencer.scorecut_cancel()
    job.runner.wait(10)
    jobs.tick(job)
    panel_after = draw_panel(bpy.types.SEQUENCER_PT_scorecut, bpy.context)
    return {
        "enabled": EXTENSION in bpy.context.preferences.addons,
        "ext_file": ext.__file__,
        "grpc_file": grpc.__file__,
        "grpc_version": grpc.__version__,
        "cygrpc_files": sorted(os.listdir(os.path.join(os.path.dirname(grpc.__file__), "_cython"))),
        "grpc_wheel_tags": wheel_tags,
        "protobuf_file": protobuf.__file__,
        "client_module": client_api._client.__name__,
        "client_file": client_api._client.__file__,
        "python": list(sys.version_info[:2]),
        "operator": hasattr(bpy.types, "SEQUENCER_OT_scorecut_score"),
        "panel": hasattr(bpy.types, "SEQUENCER_PT_scorecut"),
        "settings": hasattr(bpy.context.scene, "scorecut"),
        "prefs_idname": type(prefs).bl_idname,
        "address_from_prefs": from_prefs,
        "address_from_env": from_env,
        "panel_idle": panel_idle,
        "panel_busy": panel_busy,
        "status_bar": status_bar,
        "panel_after": panel_after,
        "validate": {"rc": validate.returncode, "out": validate.stdout + validate.stderr},
        "status": {"reachable": probe.reachable, "device": probe.device,
                   "models": [m.name for m in probe.models], "error": probe.error},
    }


run(main)
