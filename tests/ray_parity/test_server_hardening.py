"""tests/test_server_hardening.py against Scorecut on Ray (the fixtures: conftest.py here)."""

from tests.test_server_hardening import *  # noqa: F403

del in_process  # noqa: F821 — the module's single-node fixture; conftest.py's runs the jobs on Ray
