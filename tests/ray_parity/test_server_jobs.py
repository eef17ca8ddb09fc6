"""tests/test_server_jobs.py against Scorecut on Ray (the fixtures: conftest.py here)."""

from tests.test_server_jobs import *  # noqa: F403
