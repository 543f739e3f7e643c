"""Reuse the tiny real-data fixtures of the model tests."""

from tests.model.conftest import tiny_data, tiny_run  # noqa: F401
