"""The pytest plugin the root conftest loads: infrastructure fixtures for every test package."""

pytest_plugins = ["shared.testing.s3", "shared.testing.bus", "shared.testing.db", "shared.testing.platform"]
