"""Registers the shared fixtures (tests/fixtures.py) for every folder of tests below the root:
tests/ and each adapter's own (adapters/discord/tests, adapters/slack/tests)."""

pytest_plugins = ["tests.fixtures"]
