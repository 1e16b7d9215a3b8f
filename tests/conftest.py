"""Shared fixtures for the test suite."""

from tests.stores import make_store

__all__ = ["make_store"]
