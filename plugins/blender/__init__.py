"""Scorecut for Blender's Video Sequence Editor: select strips, press Score, get stems above them.

Registration only. bpy is imported inside register() so the plain modules of this package
(strips_to_request, placement, job_runner, server_status) import without Blender.
"""


def _classes():
    from . import operators, panels, preferences, settings
    return (preferences.ScorecutPreferences, settings.ScorecutSettings, *operators.CLASSES, *panels.CLASSES)


def register():
    import bpy

    from . import jobs, panels, preferences

    for cls in _classes():
        bpy.utils.register_class(cls)
    from .settings import ScorecutSettings
    bpy.types.Scene.scorecut = bpy.props.PointerProperty(type=ScorecutSettings)
    panels.register_status_bar()
    bpy.app.handlers.load_pre.append(jobs.on_load_pre)
    if not bpy.app.background:
        def first_status():  # the panel shows the server's status without a click
            jobs.refresh_status(*preferences.server_address())
            return None
        bpy.app.timers.register(first_status, first_interval=1.0)


def unregister():
    import bpy

    from . import jobs, panels

    jobs.cancel_all()
    if jobs.on_load_pre in bpy.app.handlers.load_pre:
        bpy.app.handlers.load_pre.remove(jobs.on_load_pre)
    panels.unregister_status_bar()
    del bpy.types.Scene.scorecut
    for cls in reversed(_classes()):
        bpy.utils.unregister_class(cls)
