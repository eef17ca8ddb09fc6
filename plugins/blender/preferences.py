"""Add-on preferences: where the Scorecut server is."""

from __future__ import annotations

import os

import bpy

from .client_api import DEFAULT_ADDRESS, ENV_SERVER
from .server_status import resolve_address


class ScorecutPreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    server_address: bpy.props.StringProperty(
        name="Server Address", default=DEFAULT_ADDRESS,
        description=f"host:port of the Scorecut server (the {ENV_SERVER} environment variable overrides it)")
    token: bpy.props.StringProperty(
        name="Token", subtype="PASSWORD",
        description="Access token, needed only for a server on another machine")

    def draw(self, context):
        layout = self.layout
        row = layout.row()
        row.enabled = not os.environ.get(ENV_SERVER)
        row.prop(self, "server_address")
        if os.environ.get(ENV_SERVER):
            layout.label(text=f"{ENV_SERVER} is set: using {os.environ[ENV_SERVER]}", icon="INFO")
        layout.prop(self, "token")
        layout.label(text="Start a server on this computer with: scorecut serve")


def preferences(context=None):
    context = context or bpy.context
    addon = context.preferences.addons.get(__package__)
    return addon.preferences if addon is not None else None


def server_address(context=None) -> tuple[str, str]:
    """(address, token) to use now: $SCORECUT_SERVER, else the preferences, else the default."""
    prefs = preferences(context)
    return resolve_address(prefs.server_address if prefs else ""), (prefs.token if prefs else "")
