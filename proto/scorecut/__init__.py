"""Scorecut: a local model server that scores video, and the clients that use it."""

__version__ = "0.2.0"
