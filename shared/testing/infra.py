"""Reachability checks for the real servers the tests use."""

from __future__ import annotations

import os
import socket

import pytest

__all__ = ["AMQP_URL", "POSTGRES_URL", "InfraMissing", "require_tcp"]

POSTGRES_URL = os.environ.get("EXEML_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
AMQP_URL = os.environ.get("EXEML_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")

START_HINTS = {
    "PostgreSQL": "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    "RabbitMQ": "rabbitmq-server -detached",
}


class InfraMissing(RuntimeError):
    """A server a test needs is not reachable."""


def tcp_reachable(host: str, port: int, timeout: float = 2.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_tcp(name: str, host: str, port: int) -> None:
    """Fail the test (never skip) when ``name`` does not answer on ``host:port``.

    The message says which server is missing and how to start it, so a red CI run explains itself.
    """
    if tcp_reachable(host, port):
        return
    hint = START_HINTS.get(name, "start it")
    ci = " (CI=true: infrastructure tests never skip)" if os.environ.get("CI") == "true" else ""
    pytest.fail(f"{name} is not reachable on {host}:{port}{ci}; start it with: {hint}", pytrace=False)
