"""The object-store contract every backend implements, and the ``s3://bucket/key`` address type.

Addressing convention: **an object is addressed by its URI**. Every per-object method takes an
``ObjectRef`` (an :class:`S3Uri`, or the same URI as a ``"s3://bucket/key"`` string, which is what the
databases store). Bucket-level methods (``ensure_bucket``, ``list``, ``delete_prefix``) take a bucket name
and a key prefix. ``store.uri(bucket, key)`` builds a validated :class:`S3Uri`.

Object keys follow one rule set on every backend, so a key accepted in embedded mode is accepted in
production too: non-empty, at most 1024 UTF-8 bytes, ``/``-separated segments that are neither empty nor
``.``/``..``, no leading ``/``, no backslash, no control characters.
"""

from __future__ import annotations

import io
import re
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import BinaryIO, TypeAlias

from shared.errors import InvalidInput, NotFound

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "MAX_PRESIGN_EXPIRY",
    "ObjectInfo",
    "ObjectRef",
    "ObjectStore",
    "S3Uri",
    "validate_bucket_name",
    "validate_object_key",
    "validate_prefix",
]

DEFAULT_CHUNK_SIZE = 1024 * 1024
# S3 refuses presigned URLs valid for more than a week; the local backend keeps the same limit.
MAX_PRESIGN_EXPIRY = timedelta(days=7)
MAX_KEY_BYTES = 1024
# S3's bucket naming rules (lowercase, digits, dots, hyphens; 3-63 chars). A bucket name therefore never
# starts with "." which the local backend relies on for its private directories.
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# Control characters are legal in S3 keys but break logs, HTTP headers and the local signing message.
_CONTROL_RE = re.compile(r"[\x01-\x1f\x7f]")


def invalid_input(rule: str, msg: str, field: str, value: object) -> InvalidInput:
    """An ``InvalidInput`` with one detail naming the field and the rule (used by the backends too)."""
    return InvalidInput.for_field(field, rule, msg, value=value)


def validate_bucket_name(bucket: str) -> str:
    """Return ``bucket`` if it follows S3 naming rules, else raise ``InvalidInput`` (``s3_bucket_name``)."""
    if not _BUCKET_RE.match(bucket) or ".." in bucket:
        raise invalid_input(
            "s3_bucket_name",
            f"Bucket name {bucket!r} must be 3-63 lowercase letters, digits, '.' or '-'",
            "bucket",
            bucket,
        )
    return bucket


def _check_segments(text: str, field: str, *, allow_trailing_slash: bool) -> None:
    """Reject anything that could climb out of a bucket or be read differently by another system."""
    if "\x00" in text or "\\" in text or text.startswith("/"):
        raise invalid_input(
            "object_key_escape", f"{field} {text!r} must not contain NUL, '\\' or start with '/'", field, text
        )
    segments = text.split("/")
    if allow_trailing_slash and segments[-1] == "":
        segments = segments[:-1]
    if any(s in (".", "..") for s in segments):
        raise invalid_input(
            "object_key_escape", f"{field} {text!r} must not contain '.' or '..' segments", field, text
        )
    if any(s == "" for s in segments):
        raise invalid_input(
            "object_key_format", f"{field} {text!r} must not contain empty segments ('//')", field, text
        )
    if _CONTROL_RE.search(text):
        raise invalid_input(
            "object_key_format", f"{field} {text!r} must not contain control characters", field, text
        )


def validate_object_key(key: str) -> str:
    """Return ``key`` if it is a valid object key (see the module docstring), else raise ``InvalidInput``."""
    if not key:
        raise invalid_input("object_key_required", "Object key must not be empty", "key", key)
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise invalid_input(
            "object_key_length", f"Object key is longer than {MAX_KEY_BYTES} bytes", "key", key
        )
    _check_segments(key, "key", allow_trailing_slash=False)
    return key


def validate_prefix(prefix: str) -> str:
    """Return ``prefix`` if it is empty or a valid key prefix (a trailing ``/`` is allowed)."""
    if prefix:
        _check_segments(prefix, "prefix", allow_trailing_slash=True)
    return prefix


@dataclass(frozen=True)
class S3Uri:
    """The address of an object (or, with an empty key, of a bucket or prefix): ``s3://bucket/key``.

    Keys are kept raw, not percent-encoded, as the AWS CLI writes them. ``str(uri)`` gives the URI back.
    """

    bucket: str
    key: str = ""

    def __post_init__(self) -> None:
        validate_bucket_name(self.bucket)

    @classmethod
    def parse(cls, value: str) -> S3Uri:
        """Parse ``"s3://bucket/key"``; other schemes (rule ``s3_uri_scheme``) and an empty bucket
        (rule ``s3_uri_bucket``) raise ``InvalidInput``."""
        scheme, sep, rest = value.partition("://")
        if not sep or scheme != "s3":
            raise invalid_input("s3_uri_scheme", f"{value!r} is not an s3://bucket/key URI", "uri", value)
        bucket, _, key = rest.partition("/")
        if not bucket:
            raise invalid_input("s3_uri_bucket", f"{value!r} names no bucket", "uri", value)
        return cls(bucket, key)

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def join(self, *parts: str) -> S3Uri:
        """A URI below this one: ``S3Uri("b", "a").join("x", "y.jpg")`` is ``s3://b/a/x/y.jpg``."""
        pieces = [self.key.rstrip("/")] if self.key else []
        return S3Uri(self.bucket, "/".join(pieces + [p.strip("/") for p in parts]))


ObjectRef: TypeAlias = S3Uri | str


@dataclass(frozen=True)
class ObjectInfo:
    """What a store knows about one object.

    ``content_type`` is ``None`` in :meth:`ObjectStore.list` results (S3 listings do not carry it, and both
    backends behave alike); :meth:`ObjectStore.stat` and :meth:`ObjectStore.put` always fill it.
    ``etag`` is the S3 entity tag without quotes (``<md5>`` or, for multipart uploads, ``<hash>-<parts>``).
    """

    bucket: str
    key: str
    size: int
    etag: str
    content_type: str | None
    last_modified: datetime

    @property
    def uri(self) -> S3Uri:
        return S3Uri(self.bucket, self.key)


class ObjectStore(ABC):
    """Asynchronous object storage: the one interface services use for samples, manifests and models.

    ``default_bucket`` is the platform's configured bucket (``EXEML_STORAGE_BUCKET``); the store itself is not
    limited to it. Missing objects raise ``shared.errors.NotFound``, an unreachable backend
    ``ServiceUnavailable``, a malformed key ``InvalidInput``.
    """

    def __init__(self, *, default_bucket: str = "exeml") -> None:
        self.default_bucket = validate_bucket_name(default_bucket)

    def uri(self, bucket: str, key: str = "") -> S3Uri:
        """Build the address ``s3://bucket/key`` (validating the bucket name)."""
        return S3Uri(bucket, key)

    @abstractmethod
    async def ensure_bucket(self, bucket: str) -> None:
        """Create ``bucket`` unless it exists (safe to call from every service at start)."""

    @abstractmethod
    async def put(
        self,
        ref: ObjectRef,
        data: bytes | BinaryIO,
        *,
        length: int | None = None,
        content_type: str = "application/octet-stream",
    ) -> ObjectInfo:
        """Store ``data`` (bytes, or a binary stream read to its end or to ``length`` bytes) atomically.

        Readers see either the previous object or the whole new one, never a partial write.
        """

    async def get(self, ref: ObjectRef) -> bytes:
        """The whole object in memory; use :meth:`open_stream` for large objects."""
        return b"".join([chunk async for chunk in await self.open_stream(ref)])

    @abstractmethod
    async def open_stream(
        self, ref: ObjectRef, *, chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> AsyncIterator[bytes]:
        """Open the object and return an async iterator of its chunks.

        ``NotFound`` is raised here, by the ``await``, before any byte is produced, so an HTTP handler can
        still answer 404. Iterate to the end or call ``aclose()`` on the iterator to release the handle.
        """

    @abstractmethod
    async def stat(self, ref: ObjectRef) -> ObjectInfo:
        """Size, ETag, content type and modification time; ``NotFound`` if the object is missing."""

    async def exists(self, ref: ObjectRef) -> bool:
        """Whether the object exists."""
        try:
            await self.stat(ref)
        except NotFound:
            return False
        return True

    @abstractmethod
    async def list(self, bucket: str, prefix: str = "", *, recursive: bool = True) -> list[ObjectInfo]:
        """Objects whose key starts with ``prefix``, sorted by key.

        With ``recursive=False`` only objects directly at the prefix's level are returned (keys with no
        further ``/`` after the prefix); deeper "folders" are left out. ``NotFound`` if the bucket is missing.
        """

    @abstractmethod
    async def delete(self, ref: ObjectRef) -> None:
        """Remove the object; deleting a missing object (or from a missing bucket) is not an error."""

    @abstractmethod
    async def delete_prefix(self, bucket: str, prefix: str) -> int:
        """Remove every object under ``prefix`` and return how many were removed.

        An empty prefix is refused (rule ``prefix_required``): emptying a whole bucket by passing an empty
        string by mistake is too easy.
        """

    @abstractmethod
    async def presigned_get_url(self, ref: ObjectRef, *, expires: timedelta = timedelta(hours=1)) -> str:
        """A URL anyone can GET the object from until ``expires`` from now (at most 7 days)."""

    @abstractmethod
    async def copy(self, src: ObjectRef, dst: ObjectRef) -> ObjectInfo:
        """Copy ``src`` to ``dst`` (content and content type); returns the new object's info."""

    # Helpers for backends -------------------------------------------------------------------------------

    @staticmethod
    def _object_uri(ref: ObjectRef) -> S3Uri:
        """Parse a reference and check its key, so every backend accepts exactly the same keys."""
        uri = S3Uri.parse(ref) if isinstance(ref, str) else ref
        validate_object_key(uri.key)
        return uri

    @staticmethod
    def _check_delete_prefix(bucket: str, prefix: str) -> None:
        validate_bucket_name(bucket)
        if not prefix:
            raise invalid_input("prefix_required", "delete_prefix needs a non-empty prefix", "prefix", prefix)
        validate_prefix(prefix)

    @staticmethod
    def _check_expiry(expires: timedelta) -> None:
        if not timedelta(seconds=1) <= expires <= MAX_PRESIGN_EXPIRY:
            raise invalid_input(
                "presign_expiry",
                "A presigned URL must be valid between 1 second and 7 days",
                "expires",
                str(expires),
            )

    @staticmethod
    def _body(data: bytes | BinaryIO, length: int | None) -> tuple[BinaryIO, int | None]:
        """One shape for both kinds of payload: a stream plus its length when known."""
        if isinstance(data, (bytes, bytearray)):
            if length is not None and length != len(data):
                raise invalid_input(
                    "object_length_mismatch",
                    f"length={length} but {len(data)} bytes were given",
                    "length",
                    str(length),
                )
            return io.BytesIO(data), len(data)
        if length is not None and length < 0:
            raise invalid_input(
                "object_length_mismatch", "length must not be negative", "length", str(length)
            )
        return data, length
