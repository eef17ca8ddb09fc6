"""tests/test_server_errors.py against Scorecut on Ray (the fixtures: conftest.py here)."""

from tests.test_server_errors import *  # noqa: F403
