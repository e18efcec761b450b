"""The pytest plugin the root conftest loads: every shared fixture module, listed once."""

pytest_plugins = [
    "shared.testing.s3",
]
