"""Registers the shared fixtures (tests/fixtures.py) for every folder of tests below the root."""

pytest_plugins = ["tests.fixtures"]
