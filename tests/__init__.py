"""Scorecut's tests; shared helpers live in tests.helpers, fixtures in conftest.py."""
