"""Root pytest configuration: every test session gets the shared infrastructure fixtures."""

pytest_plugins = [
    "shared.testing.plugin",
]
