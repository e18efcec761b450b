"""The object store contract, run against both backends: the local filesystem and a real S3 server (moto)."""

from __future__ import annotations

import hashlib
import io
import os
import re
import socket
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from shared.errors import Conflict, ExeMLError, InvalidInput, NotFound, ServiceUnavailable
from shared.settings import ServiceSettings
from shared.storage import (
    LocalObjectStore,
    ObjectStore,
    S3ObjectStore,
    S3Uri,
    local_object_router,
    object_store_from_settings,
    sign_presigned,
    verify_presigned,
)

SECRET = "test-signing-secret"
BIG = 20 * 1000 * 1000  # 20 MB: two 10 MiB parts on S3
UNICODE_KEY = "数据/my file (1).jpg"


@pytest.fixture
async def local_store(tmp_path: Path) -> LocalObjectStore:
    store = LocalObjectStore(
        tmp_path / "objects", "http://testserver", SECRET, default_bucket=f"test-{uuid.uuid4().hex[:12]}"
    )
    await store.ensure_bucket(store.default_bucket)
    return store


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.infra)])
def store(request: pytest.FixtureRequest) -> ObjectStore:
    return request.getfixturevalue("s3_store" if request.param == "s3" else "local_store")


def _files_under(path: Path) -> set[Path]:
    return {p for p in path.rglob("*") if p.is_file()}


class _OneWayStream(io.RawIOBase):
    """A stream that cannot seek, like a request body read straight off the socket."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        return self._data.read(size)


class _BrokenStream(_OneWayStream):
    """A client upload that dies half-way."""

    def read(self, size: int = -1) -> bytes:
        chunk = super().read(size)
        if not chunk:
            raise ConnectionResetError("client went away")
        return chunk


# Both backends --------------------------------------------------------------------------------------------


async def test_put_get_stat_round_trip(store: ObjectStore) -> None:
    uri = store.uri(store.default_bucket, "samples/cat.txt")
    put = await store.put(uri, b"meow", content_type="text/plain")
    info = await store.stat(str(uri))  # the URI as the database stores it works too
    assert await store.get(uri) == b"meow"
    assert (put.size, put.etag, put.content_type) == (4, hashlib.md5(b"meow").hexdigest(), "text/plain")
    assert info == put
    assert info.last_modified.tzinfo is not None
    assert info.uri == uri


async def test_put_overwrites_and_accepts_streams(store: ObjectStore) -> None:
    uri = store.uri(store.default_bucket, "a.bin")
    await store.put(uri, b"old")
    await store.put(uri, io.BytesIO(b"new bytes"))  # unknown length
    assert await store.get(uri) == b"new bytes"
    await store.put(uri, io.BytesIO(b"abcdef"), length=3)
    assert await store.get(uri) == b"abc"
    info = await store.put(uri, _OneWayStream(b"one way"))  # type: ignore[arg-type]  # a stream that is not bytes: the case under test
    assert (info.size, await store.get(uri)) == (7, b"one way")


async def test_list_filters_by_prefix_and_sorts(store: ObjectStore) -> None:
    bucket = store.default_bucket
    for key in ["b/2.txt", "a/1.txt", "b/1.txt", "b/deep/3.txt", "bz.txt"]:
        await store.put(store.uri(bucket, key), key.encode())
    everything = await store.list(bucket)
    assert [i.key for i in everything] == ["a/1.txt", "b/1.txt", "b/2.txt", "b/deep/3.txt", "bz.txt"]
    assert [i.key for i in await store.list(bucket, "b/")] == ["b/1.txt", "b/2.txt", "b/deep/3.txt"]
    assert [i.key for i in await store.list(bucket, "b")] == ["b/1.txt", "b/2.txt", "b/deep/3.txt", "bz.txt"]
    assert [i.key for i in await store.list(bucket, "b/", recursive=False)] == ["b/1.txt", "b/2.txt"]
    assert await store.list(bucket, "nothing/") == []
    assert all(i.size == len(i.key) and i.content_type is None for i in everything)


async def test_exists_and_delete_is_idempotent(store: ObjectStore) -> None:
    uri = store.uri(store.default_bucket, "x/y.json")
    await store.put(uri, b"{}")
    assert await store.exists(uri)
    await store.delete(uri)
    await store.delete(uri)
    assert not await store.exists(uri)
    await store.delete(store.uri("no-such-bucket-here", "k"))


async def test_missing_objects_raise_not_found(store: ObjectStore) -> None:
    uri = store.uri(store.default_bucket, "missing.bin")
    for call in (store.get, store.stat, store.open_stream):
        with pytest.raises(NotFound):
            await call(uri)
    with pytest.raises(NotFound):
        await store.copy(uri, store.uri(store.default_bucket, "copy.bin"))
    with pytest.raises(NotFound):
        await store.list("no-such-bucket-here")
    with pytest.raises(NotFound):
        await store.put(store.uri("no-such-bucket-here", "k"), b"x")


async def test_unicode_and_space_keys(store: ObjectStore) -> None:
    uri = store.uri(store.default_bucket, UNICODE_KEY)
    await store.put(uri, b"jpeg", content_type="image/jpeg")
    assert await store.get(S3Uri.parse(f"s3://{store.default_bucket}/{UNICODE_KEY}")) == b"jpeg"
    assert [i.key for i in await store.list(store.default_bucket, "数据/")] == [UNICODE_KEY]
    assert (await store.stat(uri)).content_type == "image/jpeg"


async def test_delete_prefix(store: ObjectStore) -> None:
    bucket = store.default_bucket
    for key in ["v1/a", "v1/b/c", "v10/a", "v2/a"]:
        await store.put(store.uri(bucket, key), b"x")
    assert await store.delete_prefix(bucket, "v1/") == 2
    assert [i.key for i in await store.list(bucket)] == ["v10/a", "v2/a"]
    assert await store.delete_prefix(bucket, "v1/") == 0
    with pytest.raises(InvalidInput) as err:
        await store.delete_prefix(bucket, "")
    assert err.value.details[0].rule == "prefix_required"


async def test_large_object_round_trip(store: ObjectStore) -> None:
    data = os.urandom(BIG)
    uri = store.uri(store.default_bucket, "models/big.bin")
    info = await store.put(uri, data)
    assert info.size == BIG
    assert await store.get(uri) == data
    chunks = [c async for c in await store.open_stream(uri, chunk_size=1 << 20)]
    assert len(chunks) > 1 and b"".join(chunks) == data
    if isinstance(store, S3ObjectStore):
        assert re.search(r"-\d+$", info.etag), f"expected a multipart ETag, got {info.etag}"
    streamed = await store.put(store.uri(store.default_bucket, "models/streamed.bin"), io.BytesIO(data))
    assert streamed.size == BIG


async def test_copy_keeps_content_and_type(store: ObjectStore) -> None:
    src = store.uri(store.default_bucket, "src/a.png")
    await store.put(src, b"png", content_type="image/png")
    info = await store.copy(src, store.uri(store.default_bucket, "dst/a.png"))
    assert (info.key, info.size, info.content_type) == ("dst/a.png", 3, "image/png")
    assert await store.get(info.uri) == b"png"


@pytest.mark.parametrize("key", ["../x", "a/../../x", "/etc/passwd", "a\\..\\..\\x", "a/\x00b", "./x"])
async def test_escaping_keys_are_rejected(store: ObjectStore, key: str) -> None:
    with pytest.raises(InvalidInput) as err:
        await store.put(S3Uri(store.default_bucket, key), b"evil")
    assert err.value.details[0].rule == "object_key_escape"


@pytest.mark.parametrize("key", ["", "a//b", "trailing/", "line\nbreak"])
async def test_malformed_keys_are_rejected(store: ObjectStore, key: str) -> None:
    with pytest.raises(InvalidInput):
        await store.get(S3Uri(store.default_bucket, key))


# S3 backend -----------------------------------------------------------------------------------------------


@pytest.mark.infra
async def test_s3_presigned_url_downloads_the_object(s3_store: S3ObjectStore) -> None:
    uri = s3_store.uri(s3_store.default_bucket, UNICODE_KEY)
    data = os.urandom(1000)
    await s3_store.put(uri, data)
    url = await s3_store.presigned_get_url(uri, expires=timedelta(minutes=5))
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
    assert response.status_code == 200
    assert response.content == data


async def test_s3_unreachable_is_service_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = S3ObjectStore(f"127.0.0.1:{port}", "a", "b", connect_attempts=2)
    with pytest.raises(ServiceUnavailable):
        await store.stat(store.uri("bucket", "key"))


# Local backend --------------------------------------------------------------------------------------------


@pytest.fixture
def local_client(local_store: LocalObjectStore) -> Iterator[httpx.AsyncClient]:
    app = FastAPI()
    app.include_router(local_object_router(local_store))
    app.add_exception_handler(ExeMLError, lambda r, e: JSONResponse(e.body(), status_code=e.status_code))
    yield httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://testserver")


async def test_local_presigned_url_serves_the_object(
    local_store: LocalObjectStore, local_client: httpx.AsyncClient
) -> None:
    uri = local_store.uri(local_store.default_bucket, UNICODE_KEY)
    data = os.urandom(3 * 1024 * 1024 + 7)
    await local_store.put(uri, data, content_type="image/jpeg")
    url = await local_store.presigned_get_url(uri)
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert verify_presigned(SECRET, uri.bucket, uri.key, query["expires"], query["signature"])
    response = await local_client.get(url)
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["content-length"] == str(len(data))


async def test_local_presigned_url_refuses_bad_signatures(
    local_store: LocalObjectStore, local_client: httpx.AsyncClient
) -> None:
    uri = local_store.uri(local_store.default_bucket, "secret.txt")
    await local_store.put(uri, b"top secret")
    url = await local_store.presigned_get_url(uri)
    tampered = url[:-1] + ("0" if url[-1] != "0" else "1")
    other_key = url.replace("secret.txt", "other.txt")
    unsigned = url.split("?")[0]
    for bad in (tampered, other_key, unsigned):
        response = await local_client.get(bad)
        assert response.status_code == 403
        assert response.json()["error_code"] == "ModelArts.0210"
    await local_store.delete(uri)
    assert (await local_client.get(url)).status_code == 404


async def test_local_presigned_url_expires(
    local_store: LocalObjectStore, local_client: httpx.AsyncClient
) -> None:
    uri = local_store.uri(local_store.default_bucket, "soon.txt")
    await local_store.put(uri, b"x")
    url = await local_store.presigned_get_url(uri, expires=timedelta(seconds=1))
    expires = int(parse_qs(urlsplit(url).query)["expires"][0])
    signature = parse_qs(urlsplit(url).query)["signature"][0]
    assert not verify_presigned(SECRET, uri.bucket, uri.key, expires, signature, now=expires + 1)
    assert not verify_presigned(SECRET, uri.bucket, uri.key, "soon", signature)
    past = int(time.time()) - 10
    signed_in_the_past = sign_presigned(SECRET, uri.bucket, uri.key, past)
    expired_url = url.split("?")[0] + f"?expires={past}&signature={signed_in_the_past}"
    assert (await local_client.get(expired_url)).status_code == 403


@pytest.mark.parametrize("key", ["../x", "a/../../x", "/etc/passwd", "a\\..\\..\\x", "a/\x00b"])
async def test_local_escaping_keys_write_nothing(
    local_store: LocalObjectStore, tmp_path: Path, key: str
) -> None:
    before = _files_under(tmp_path)
    uri = S3Uri(local_store.default_bucket, key)
    for attempt in (local_store.put(uri, b"evil"), local_store.copy(uri, uri), local_store.delete(uri)):
        with pytest.raises(InvalidInput):
            await attempt
    assert _files_under(tmp_path) == before


async def test_local_failed_upload_keeps_previous_object(local_store: LocalObjectStore) -> None:
    uri = local_store.uri(local_store.default_bucket, "dataset/manifest.json")
    await local_store.put(uri, b"version 1", content_type="application/json")
    with pytest.raises(ConnectionResetError):
        broken = _BrokenStream(b"half of version 2")
        await local_store.put(uri, broken, length=10_000)  # type: ignore[arg-type]  # a failing stream: the case under test
    assert await local_store.get(uri) == b"version 1"
    assert (await local_store.stat(uri)).content_type == "application/json"
    assert list((local_store.root / ".tmp").iterdir()) == []


async def test_local_metadata_stays_out_of_listings(local_store: LocalObjectStore) -> None:
    await local_store.put(
        local_store.uri(local_store.default_bucket, "only.txt"), b"1", content_type="text/plain"
    )
    assert [i.key for i in await local_store.list(local_store.default_bucket)] == ["only.txt"]
    (local_store.root / local_store.default_bucket / "manual.bin").write_bytes(b"dropped in by hand")
    info = await local_store.stat(local_store.uri(local_store.default_bucket, "manual.bin"))
    assert (info.etag, info.content_type) == (
        hashlib.md5(b"dropped in by hand").hexdigest(),
        "application/octet-stream",
    )


async def test_local_file_and_folder_with_one_name_conflict(local_store: LocalObjectStore) -> None:
    bucket = local_store.default_bucket
    await local_store.put(local_store.uri(bucket, "a/b"), b"1")
    with pytest.raises(Conflict):
        await local_store.put(local_store.uri(bucket, "a"), b"2")
    await local_store.delete(local_store.uri(bucket, "a/b"))
    await local_store.put(local_store.uri(bucket, "a"), b"2")  # the emptied folder was pruned
    assert await local_store.get(local_store.uri(bucket, "a")) == b"2"


# Addresses and settings -----------------------------------------------------------------------------------


def test_s3_uri_parse_and_format() -> None:
    uri = S3Uri.parse("s3://exeml/datasets/ds-1/数据/my file.jpg")
    assert (uri.bucket, uri.key) == ("exeml", "datasets/ds-1/数据/my file.jpg")
    assert str(uri) == "s3://exeml/datasets/ds-1/数据/my file.jpg"
    assert S3Uri.parse(str(uri)) == uri
    assert S3Uri.parse("s3://exeml") == S3Uri("exeml", "")
    assert S3Uri("exeml", "models/").join("m-1", "model.onnx") == S3Uri("exeml", "models/m-1/model.onnx")


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("https://exeml/key", "s3_uri_scheme"),
        ("exeml/key", "s3_uri_scheme"),
        ("S3://exeml/key", "s3_uri_scheme"),
        ("s3:///key", "s3_uri_bucket"),
        ("s3://Bad_Bucket/key", "s3_bucket_name"),
    ],
)
def test_s3_uri_rejects_malformed_uris(value: str, rule: str) -> None:
    with pytest.raises(InvalidInput) as err:
        S3Uri.parse(value)
    assert err.value.details[0].rule == rule


def test_factory_builds_the_configured_backend(tmp_path: Path) -> None:
    local = object_store_from_settings(
        ServiceSettings(mode="embedded", data_dir=tmp_path, storage_bucket="mine")
    )
    assert isinstance(local, LocalObjectStore)
    assert (local.root, local.default_bucket) == (tmp_path / "objects", "mine")
    s3 = object_store_from_settings(
        ServiceSettings(
            mode="distributed",
            database_url="sqlite+aiosqlite://",
            bus="memory",
            internal_token_secret="s",
            s3_endpoint="http://minio:9000",
            s3_access_key="k",
            s3_secret_key="s",
        )
    )
    assert isinstance(s3, S3ObjectStore)
    assert s3.endpoint == "minio:9000"
