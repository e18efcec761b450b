"""Object storage on S3 or MinIO through the ``minio`` SDK (compose, production, CI against moto).

The SDK is synchronous: every call runs in ``asyncio.to_thread``. Connection failures are retried a few
times with tenacity and then surface as ``ServiceUnavailable``; server-side 5xx are retried by urllib3.
"""

from __future__ import annotations

import asyncio
import builtins
import os
from collections.abc import AsyncIterator, Callable
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO, TypeVar
from urllib.parse import urlsplit

import certifi
import urllib3
from minio import Minio
from minio.commonconfig import CopySource
from minio.deleteobjects import DeleteObject
from minio.error import InvalidResponseError, S3Error, ServerError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from shared.errors import ExeMLError, InternalError, NotFound, ServiceUnavailable
from shared.storage.base import (
    DEFAULT_CHUNK_SIZE,
    ObjectInfo,
    ObjectRef,
    ObjectStore,
    S3Uri,
    validate_bucket_name,
    validate_prefix,
)

__all__ = ["PART_SIZE", "S3ObjectStore"]

# Objects larger than one part are uploaded in parts; a stream of unknown length is read part by part.
PART_SIZE = 10 * 1024 * 1024
# Socket-level failures (refused, reset, timed out): worth a retry, the request may never have arrived.
_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    urllib3.exceptions.HTTPError,
    ConnectionError,
    TimeoutError,
)
_MISSING_CODES = {"NoSuchKey", "NoSuchBucket", "ResourceNotFound", "NoSuchUpload"}
T = TypeVar("T")


class S3ObjectStore(ObjectStore):
    """An S3-compatible store. ``endpoint`` is ``host:port``; a ``http(s)://`` prefix also sets ``secure``."""

    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        secure: bool = False,
        region: str = "us-east-1",
        *,
        default_bucket: str = "exeml",
        connect_attempts: int = 3,
    ) -> None:
        super().__init__(default_bucket=default_bucket)
        if "://" in endpoint:
            parts = urlsplit(endpoint)
            endpoint, secure = parts.netloc, parts.scheme == "https"
        self.endpoint = endpoint
        self._attempts = connect_attempts
        self._client = Minio(
            endpoint,
            access_key=access_key,
            secret_key=secret_key,
            secure=secure,
            region=region,
            http_client=_http_client(),
        )

    # Public API -----------------------------------------------------------------------------------------

    async def ensure_bucket(self, bucket: str) -> None:
        await self._call(self._ensure_bucket_sync, validate_bucket_name(bucket), target=bucket)

    async def put(
        self,
        ref: ObjectRef,
        data: bytes | BinaryIO,
        *,
        length: int | None = None,
        content_type: str = "application/octet-stream",
    ) -> ObjectInfo:
        uri = self._object_uri(ref)
        body, size = self._body(data, length)
        # A retry must resend from the start, which only a seekable body allows.
        seekable = getattr(body, "seekable", None)
        start = body.tell() if seekable is not None and seekable() else None
        await self._call(
            self._put_sync, uri, body, start, size, content_type, target=uri, replayable=start is not None
        )
        return await self.stat(uri)

    async def get(self, ref: ObjectRef) -> bytes:
        uri = self._object_uri(ref)
        return await self._call(self._get_sync, uri, target=uri)

    async def open_stream(
        self, ref: ObjectRef, *, chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> AsyncIterator[bytes]:
        uri = self._object_uri(ref)
        response = await self._call(self._client.get_object, uri.bucket, uri.key, target=uri)
        return _read_chunks(response, chunk_size, self.endpoint)

    async def stat(self, ref: ObjectRef) -> ObjectInfo:
        uri = self._object_uri(ref)
        obj = await self._call(self._client.stat_object, uri.bucket, uri.key, target=uri)
        return ObjectInfo(
            bucket=uri.bucket,
            key=uri.key,
            size=obj.size or 0,
            etag=obj.etag or "",
            content_type=obj.content_type,
            last_modified=obj.last_modified or datetime.now(UTC),  # MinIO always sends it
        )

    async def list(self, bucket: str, prefix: str = "", *, recursive: bool = True) -> list[ObjectInfo]:
        validate_bucket_name(bucket)
        validate_prefix(prefix)
        return await self._call(self._list_sync, bucket, prefix, recursive, target=bucket)

    async def delete(self, ref: ObjectRef) -> None:
        uri = self._object_uri(ref)
        # S3 already ignores missing keys; a missing bucket means the object is gone too.
        with suppress(NotFound):
            await self._call(self._client.remove_object, uri.bucket, uri.key, target=uri)

    async def delete_prefix(self, bucket: str, prefix: str) -> int:
        self._check_delete_prefix(bucket, prefix)
        try:
            return await self._call(self._delete_prefix_sync, bucket, prefix, target=bucket)
        except NotFound:
            return 0

    async def presigned_get_url(self, ref: ObjectRef, *, expires: timedelta = timedelta(hours=1)) -> str:
        uri = self._object_uri(ref)
        self._check_expiry(expires)
        return await self._call(self._client.presigned_get_object, uri.bucket, uri.key, expires, target=uri)

    async def copy(self, src: ObjectRef, dst: ObjectRef) -> ObjectInfo:
        src_uri, dst_uri = self._object_uri(src), self._object_uri(dst)
        source = CopySource(src_uri.bucket, src_uri.key)
        await self._call(self._client.copy_object, dst_uri.bucket, dst_uri.key, source, target=src_uri)
        return await self.stat(dst_uri)

    # Calls into the SDK ---------------------------------------------------------------------------------

    async def _call(
        self, fn: Callable[..., T], *args: Any, target: S3Uri | str, replayable: bool = True
    ) -> T:
        """Run a blocking SDK call in a thread, retrying connection failures, translating errors."""
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(_CONNECTION_ERRORS),
            stop=stop_after_attempt(self._attempts if replayable else 1),
            wait=wait_exponential(multiplier=0.2, max=2),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await asyncio.to_thread(fn, *args)
        except S3Error as exc:
            raise _translate_s3_error(exc, target) from exc
        except (ServerError, InvalidResponseError) as exc:
            raise ServiceUnavailable(f"Object store at {self.endpoint} failed: {exc}") from exc
        except _CONNECTION_ERRORS as exc:
            raise ServiceUnavailable(f"Object store at {self.endpoint} is unreachable") from exc
        raise AssertionError("unreachable: tenacity either returns or raises")

    def _ensure_bucket_sync(self, bucket: str) -> None:
        if self._client.bucket_exists(bucket):
            return
        try:
            self._client.make_bucket(bucket)
        except S3Error as exc:
            # Another service created it between the check and the create: that is what we wanted.
            if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise

    def _put_sync(
        self, uri: S3Uri, body: BinaryIO, start: int | None, length: int | None, content_type: str
    ) -> None:
        if start is not None:
            body.seek(start)
        self._client.put_object(
            uri.bucket,
            uri.key,
            body,
            -1 if length is None else length,
            content_type=content_type,
            part_size=PART_SIZE,
        )

    def _get_sync(self, uri: S3Uri) -> bytes:
        response = self._client.get_object(uri.bucket, uri.key)
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()

    def _list_sync(self, bucket: str, prefix: str, recursive: bool) -> builtins.list[ObjectInfo]:
        objects = self._client.list_objects(bucket, prefix=prefix or None, recursive=recursive)
        infos = [
            ObjectInfo(
                bucket=bucket,
                key=obj.object_name or "",
                size=obj.size or 0,
                etag=obj.etag or "",
                content_type=None,
                last_modified=obj.last_modified,
            )
            for obj in objects
            if not obj.is_dir
        ]
        return sorted(infos, key=lambda info: info.key)

    def _delete_prefix_sync(self, bucket: str, prefix: str) -> int:
        names = [obj.object_name for obj in self._client.list_objects(bucket, prefix=prefix, recursive=True)]
        errors = list(self._client.remove_objects(bucket, [DeleteObject(name) for name in names if name]))
        if errors:
            raise InternalError(f"Could not delete {len(errors)} objects under s3://{bucket}/{prefix}")
        return len(names)


def _http_client() -> urllib3.PoolManager:
    """minio's default pool, minus its own connection retries: those are done (and counted) by tenacity."""
    retries = urllib3.Retry(
        total=3, connect=0, read=0, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]
    )
    return urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=5, read=120),
        maxsize=10,
        retries=retries,
        cert_reqs="CERT_REQUIRED",
        ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
    )


def _translate_s3_error(exc: S3Error, target: S3Uri | str) -> ExeMLError:
    if exc.code == "NoSuchBucket":
        bucket = exc.bucket_name or (target.bucket if isinstance(target, S3Uri) else target)
        return NotFound(f"Bucket {bucket!r} does not exist")
    if exc.code in _MISSING_CODES:
        return NotFound(f"Object {target} does not exist")
    return InternalError(f"Object store refused the request for {target}: {exc.code}")


async def _read_chunks(
    response: urllib3.BaseHTTPResponse, chunk_size: int, endpoint: str
) -> AsyncIterator[bytes]:
    try:
        while chunk := await asyncio.to_thread(response.read, chunk_size):
            yield chunk
    except _CONNECTION_ERRORS as exc:
        raise ServiceUnavailable(f"Object store at {endpoint} dropped the download") from exc
    finally:
        response.close()
        response.release_conn()
