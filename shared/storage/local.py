"""Object storage on the local filesystem, for the embedded mode (``make run`` with no infrastructure).

Layout under ``root``::

    <bucket>/<key>                      object bytes (a key's "/" become directories)
    .meta/<bucket>/<h[:2]>/<h>.json     content type and ETag of the object, h = sha256(key)
    .tmp/                               writes in progress

Bucket names never start with ``.``, so the private directories cannot collide with a bucket. Metadata
lives in a separate tree, keyed by a hash, so it never shows up in listings nor clashes with a key.
Unlike S3, a directory cannot also be a file: keys ``a`` and ``a/b`` cannot both exist (``Conflict``).
"""

from __future__ import annotations

import asyncio
import builtins
import hashlib
import hmac
import json
import os
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote

from shared.errors import Conflict, NotFound
from shared.storage.base import (
    DEFAULT_CHUNK_SIZE,
    ObjectInfo,
    ObjectRef,
    ObjectStore,
    S3Uri,
    invalid_input,
    validate_bucket_name,
    validate_prefix,
)

__all__ = ["LocalObjectStore", "sign_presigned", "verify_presigned"]

_DEFAULT_TYPE = "application/octet-stream"
_MAX_SEGMENT_BYTES = 255  # the usual filesystem limit on one file name


def sign_presigned(secret: str, bucket: str, key: str, expires: int) -> str:
    """Hex HMAC-SHA256 over method, bucket, key and expiry (keys hold no control characters, so the
    newline-separated message is unambiguous)."""
    message = f"GET\n{bucket}\n{key}\n{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify_presigned(
    secret: str, bucket: str, key: str, expires: int | str, signature: str, *, now: float | None = None
) -> bool:
    """Whether ``signature`` was made by :func:`sign_presigned` with ``secret`` and has not expired."""
    try:
        expires_at = int(expires)
    except (TypeError, ValueError):
        return False
    if expires_at < (time.time() if now is None else now):
        return False
    return hmac.compare_digest(sign_presigned(secret, bucket, key, expires_at), signature)


class LocalObjectStore(ObjectStore):
    """Buckets are directories under ``root``; presigned URLs point at :func:`local_object_router`."""

    def __init__(
        self, root: Path, public_base_url: str, signing_secret: str, *, default_bucket: str = "exeml"
    ) -> None:
        super().__init__(default_bucket=default_bucket)
        self.root = Path(root).absolute()
        self.public_base_url = public_base_url.rstrip("/")
        self._secret = signing_secret

    # Public API -----------------------------------------------------------------------------------------

    async def ensure_bucket(self, bucket: str) -> None:
        await asyncio.to_thread(self._bucket_dir(bucket).mkdir, parents=True, exist_ok=True)

    async def put(
        self,
        ref: ObjectRef,
        data: bytes | BinaryIO,
        *,
        length: int | None = None,
        content_type: str = _DEFAULT_TYPE,
    ) -> ObjectInfo:
        uri = self._object_uri(ref)
        body, size = self._body(data, length)
        return await asyncio.to_thread(
            self._publish, uri, lambda tmp: _write_file(body, tmp, size), content_type
        )

    async def get(self, ref: ObjectRef) -> bytes:
        path = self._object_path(self._object_uri(ref))
        with _not_found(ref):
            return await asyncio.to_thread(path.read_bytes)

    async def open_stream(
        self, ref: ObjectRef, *, chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> AsyncIterator[bytes]:
        _, chunks = await self.open_with_info(ref, chunk_size=chunk_size)
        return chunks

    async def open_with_info(
        self, ref: ObjectRef, *, chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> tuple[ObjectInfo, AsyncIterator[bytes]]:
        """Open the object and describe exactly the bytes that will be read.

        An open file keeps its content even if a writer replaces the object meanwhile, so the size given
        here always matches the stream (the HTTP route relies on it for ``Content-Length``).
        """
        uri = self._object_uri(ref)
        file, info = await asyncio.to_thread(self._open_sync, uri)
        return info, _read_chunks(file, chunk_size)

    async def stat(self, ref: ObjectRef) -> ObjectInfo:
        return await asyncio.to_thread(self._stat_sync, self._object_uri(ref))

    async def list(self, bucket: str, prefix: str = "", *, recursive: bool = True) -> list[ObjectInfo]:
        validate_prefix(prefix)
        return await asyncio.to_thread(self._list_sync, bucket, prefix, recursive)

    async def delete(self, ref: ObjectRef) -> None:
        await asyncio.to_thread(self._delete_sync, self._object_uri(ref))

    async def delete_prefix(self, bucket: str, prefix: str) -> int:
        self._check_delete_prefix(bucket, prefix)
        if not self._bucket_dir(bucket).is_dir():
            return 0
        infos = await self.list(bucket, prefix)
        for info in infos:
            await asyncio.to_thread(self._delete_sync, info.uri)
        return len(infos)

    async def presigned_get_url(self, ref: ObjectRef, *, expires: timedelta = timedelta(hours=1)) -> str:
        uri = self._object_uri(ref)
        self._check_expiry(expires)
        expires_at = int(time.time() + expires.total_seconds())
        signature = sign_presigned(self._secret, uri.bucket, uri.key, expires_at)
        path = f"/v1/objects/{uri.bucket}/{quote(uri.key, safe='/')}"
        return f"{self.public_base_url}{path}?expires={expires_at}&signature={signature}"

    def verify_presigned(self, bucket: str, key: str, expires: int | str, signature: str) -> bool:
        """Check a presigned URL's parameters against this store's secret."""
        return verify_presigned(self._secret, bucket, key, expires, signature)

    async def copy(self, src: ObjectRef, dst: ObjectRef) -> ObjectInfo:
        src_uri, dst_uri = self._object_uri(src), self._object_uri(dst)
        return await asyncio.to_thread(self._copy_sync, src_uri, dst_uri)

    # Paths ----------------------------------------------------------------------------------------------

    def _bucket_dir(self, bucket: str) -> Path:
        return self.root / validate_bucket_name(bucket)

    def _existing_bucket_dir(self, bucket: str) -> Path:
        path = self._bucket_dir(bucket)
        if not path.is_dir():
            raise NotFound(f"Bucket {bucket!r} does not exist")
        return path

    def _object_path(self, uri: S3Uri) -> Path:
        segments = uri.key.split("/")
        if any(len(s.encode("utf-8", "surrogatepass")) > _MAX_SEGMENT_BYTES for s in segments):
            raise invalid_input(
                "object_key_segment_length", "A key segment is over 255 bytes", "key", uri.key
            )
        bucket_dir = self._bucket_dir(uri.bucket)
        path = bucket_dir.joinpath(*segments)
        # Defence in depth: the key rules already forbid this; a path outside the bucket must never be used.
        if os.path.commonpath([bucket_dir, os.path.normpath(path)]) != str(bucket_dir):
            raise invalid_input("object_key_escape", "Key leaves its bucket", "key", uri.key)
        return path

    def _meta_path(self, uri: S3Uri) -> Path:
        digest = hashlib.sha256(uri.key.encode("utf-8", "surrogatepass")).hexdigest()
        return self.root / ".meta" / uri.bucket / digest[:2] / f"{digest}.json"

    def _tmp_path(self) -> Path:
        tmp_dir = self.root / ".tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        return tmp_dir / uuid.uuid4().hex

    # Blocking work (always run in a thread) -------------------------------------------------------------

    def _publish(self, uri: S3Uri, write: Callable[[Path], str], content_type: str) -> ObjectInfo:
        """Write the object to a temp file with ``write`` (returning the ETag), then move it into place."""
        self._existing_bucket_dir(uri.bucket)
        target = self._object_path(uri)
        tmp = self._tmp_path()
        try:
            etag = write(tmp)
            self._place(tmp, target, uri)
        finally:
            tmp.unlink(missing_ok=True)
        self._write_meta(uri, target, content_type, etag)
        return self._stat_sync(uri)

    def _place(self, tmp: Path, target: Path, uri: S3Uri) -> None:
        """Move a finished temp file into place; the rename is what makes writes atomic."""
        for _ in range(3):
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, target)
                return
            except FileNotFoundError:
                continue  # a concurrent delete pruned the parent directory between mkdir and replace
            except (FileExistsError, NotADirectoryError, IsADirectoryError) as exc:
                raise Conflict(
                    f"{uri} clashes with an existing object or key prefix on the local store"
                ) from exc
        raise Conflict(f"{uri} could not be written: its directory keeps disappearing")

    def _write_meta(self, uri: S3Uri, target: Path, content_type: str, etag: str) -> None:
        st = target.stat()
        meta = {
            "key": uri.key,
            "content_type": content_type,
            "etag": etag,
            "size": st.st_size,
            "mtime_ns": st.st_mtime_ns,
        }
        path = self._meta_path(uri)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._tmp_path()
        tmp.write_text(json.dumps(meta))
        os.replace(tmp, path)

    def _read_meta(self, uri: S3Uri, st: os.stat_result) -> dict[str, Any] | None:
        """The sidecar, unless it describes another version of the file (a crash between the two writes)."""
        try:
            meta = json.loads(self._meta_path(uri).read_text())
        except (OSError, ValueError):
            return None
        if (
            not isinstance(meta, dict)
            or meta.get("size") != st.st_size
            or meta.get("mtime_ns") != st.st_mtime_ns
        ):
            return None
        return meta

    def _info(self, uri: S3Uri, path: Path, st: os.stat_result, *, with_type: bool = True) -> ObjectInfo:
        meta = self._read_meta(uri, st) or {"etag": _md5_file(path), "content_type": _DEFAULT_TYPE}
        return ObjectInfo(
            bucket=uri.bucket,
            key=uri.key,
            size=st.st_size,
            etag=meta["etag"],
            content_type=meta["content_type"] if with_type else None,
            last_modified=datetime.fromtimestamp(st.st_mtime, tz=UTC),
        )

    def _stat_sync(self, uri: S3Uri) -> ObjectInfo:
        path = self._object_path(uri)
        with _not_found(uri):
            st = path.stat()
        if not path.is_file():
            raise NotFound(f"Object {uri} does not exist")
        return self._info(uri, path, st)

    def _open_sync(self, uri: S3Uri) -> tuple[BinaryIO, ObjectInfo]:
        path = self._object_path(uri)
        with _not_found(uri):
            file = path.open("rb")
        try:
            return file, self._info(uri, path, os.fstat(file.fileno()))
        except BaseException:
            file.close()
            raise

    def _list_sync(self, bucket: str, prefix: str, recursive: bool) -> builtins.list[ObjectInfo]:
        bucket_dir = self._existing_bucket_dir(bucket)
        start = bucket_dir.joinpath(*prefix.split("/")[:-1])
        infos = []
        for dirpath, dirnames, filenames in os.walk(start):
            rel = Path(dirpath).relative_to(bucket_dir).as_posix()
            base = "" if rel == "." else rel + "/"
            # Only descend where keys can still match the prefix.
            dirnames[:] = [d for d in dirnames if recursive and _may_match(base + d + "/", prefix)]
            for name in filenames:
                key = base + name
                if key.startswith(prefix) and (recursive or "/" not in key[len(prefix) :]):
                    path = Path(dirpath, name)
                    with suppress(FileNotFoundError):  # deleted while we walked: not listed
                        infos.append(self._info(S3Uri(bucket, key), path, path.stat(), with_type=False))
        return sorted(infos, key=lambda info: info.key)

    def _delete_sync(self, uri: S3Uri) -> None:
        path = self._object_path(uri)
        try:
            path.unlink()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return
        self._meta_path(uri).unlink(missing_ok=True)
        _prune_empty_dirs(path.parent, stop=self._bucket_dir(uri.bucket))

    def _copy_sync(self, src: S3Uri, dst: S3Uri) -> ObjectInfo:
        source, src_path = self._stat_sync(src), self._object_path(src)

        def write(tmp: Path) -> str:
            shutil.copyfile(src_path, tmp)
            with tmp.open("rb+") as file:
                os.fsync(file.fileno())
            return source.etag

        return self._publish(dst, write, source.content_type or _DEFAULT_TYPE)


@contextmanager
def _not_found(ref: ObjectRef) -> Iterator[None]:
    """Turn "no such file" errors into ``NotFound`` for the given object."""
    try:
        yield
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:
        raise NotFound(f"Object {ref} does not exist") from exc


def _write_file(body: BinaryIO, path: Path, length: int | None) -> str:
    """Copy ``body`` into ``path`` and return its MD5.

    The file is fsynced so that the rename that follows never publishes data still in the page cache.
    """
    md5, written = hashlib.md5(usedforsecurity=False), 0
    with path.open("wb") as out:
        while length is None or written < length:
            want = DEFAULT_CHUNK_SIZE if length is None else min(DEFAULT_CHUNK_SIZE, length - written)
            chunk = body.read(want)
            if not chunk:
                break
            md5.update(chunk)
            out.write(chunk)
            written += len(chunk)
        out.flush()
        os.fsync(out.fileno())
    if length is not None and written != length:
        msg = f"Stream ended after {written} of {length} bytes"
        raise invalid_input("object_length_mismatch", msg, "length", length)
    return md5.hexdigest()


def _md5_file(path: Path) -> str:
    md5 = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as file:
        while chunk := file.read(DEFAULT_CHUNK_SIZE):
            md5.update(chunk)
    return md5.hexdigest()


def _may_match(dir_key: str, prefix: str) -> bool:
    return dir_key.startswith(prefix) or prefix.startswith(dir_key)


def _prune_empty_dirs(directory: Path, *, stop: Path) -> None:
    """Remove directories a delete left empty, so a later key may reuse the name as an object."""
    while directory != stop and stop in directory.parents:
        try:
            directory.rmdir()
        except OSError:
            return  # not empty (or already gone): the rest of the path is in use
        directory = directory.parent


async def _read_chunks(file: BinaryIO, chunk_size: int) -> AsyncIterator[bytes]:
    try:
        while chunk := await asyncio.to_thread(file.read, chunk_size):
            yield chunk
    finally:
        file.close()
