"""The Scorecut client library, from wherever this add-on runs.

The built extension carries its own copy (vendor/scorecut_client, with the contract in
vendor/scorecut_v1) so it never depends on, or clashes with, anything installed in Blender's
Python. Run from the source tree (`scorecut.plugins.blender`, as the tests do) it uses the
project's own `scorecut.plugins.client`.
"""

if __package__.startswith("scorecut.plugins."):
    from scorecut.plugins import client as _client
else:
    from .vendor import scorecut_client as _client

ClipSpec = _client.ClipSpec
JobOptions = _client.JobOptions
JobEvent = _client.JobEvent
JobResult = _client.JobResult
ScorecutClient = _client.ScorecutClient
ScorecutClientError = _client.ScorecutClientError
JobFailed = _client.JobFailed
JobCancelled = _client.JobCancelled
ServerUnavailable = _client.ServerUnavailable
STEMS = _client.STEMS  # the contract's stem names, in stacking order
DEFAULT_ADDRESS = _client.DEFAULT_ADDRESS
ENV_SERVER = _client.ENV_SERVER
build_request = _client.build_request
is_loopback = _client.is_loopback
marker_hits = _client.marker_hits
section_at = _client.section_at
take_midi = _client.take_midi  # a landed take's score.mid
