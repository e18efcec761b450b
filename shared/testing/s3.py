"""pytest fixtures for a real S3 server: moto's, started in-process once per test session.

``s3_server`` describes the server; ``s3_store`` is an :class:`S3ObjectStore` whose ``default_bucket`` is a
fresh bucket of its own, emptied after the test.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest
from moto.server import ThreadedMotoServer

from shared.storage.s3 import S3ObjectStore

__all__ = ["S3Server", "s3_server", "s3_store"]


@dataclass(frozen=True)
class S3Server:
    """Where the test S3 server listens and the credentials it accepts."""

    endpoint: str
    access_key: str = "testing"
    secret_key: str = "testing"
    region: str = "us-east-1"


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """An in-process moto S3 server on a free port of 127.0.0.1 (port 0: the OS picks, so no race)."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield S3Server(endpoint=f"{host}:{port}")
    finally:
        server.stop()


@pytest.fixture
async def s3_store(s3_server: S3Server) -> AsyncIterator[S3ObjectStore]:
    """An S3 store on the test server with a new, empty bucket as its ``default_bucket``."""
    bucket = f"test-{uuid.uuid4().hex[:20]}"
    store = S3ObjectStore(
        s3_server.endpoint,
        s3_server.access_key,
        s3_server.secret_key,
        region=s3_server.region,
        default_bucket=bucket,
    )
    await store.ensure_bucket(bucket)
    yield store
    # moto keeps objects in memory for the whole session: drop this test's (large ones included).
    for info in await store.list(bucket):
        await store.delete(info.uri)
