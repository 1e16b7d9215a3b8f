"""Shared fixtures for the test suite."""

from tests.slack_server import slack_server
from tests.stores import make_store

__all__ = ["make_store", "slack_server"]
