"""tests/test_server_policy.py against Scorecut on Ray (the fixtures: conftest.py here)."""

from tests.test_server_policy import *  # noqa: F403
