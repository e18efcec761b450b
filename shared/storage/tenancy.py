"""Which object keys a tenant may name: one policy for every service (``docs/adr/0008-storage-tenancy.md``).

A path a user supplies (a dataset's input or work path, an import path, a manifest's sources, an upload's
file names) is never used as given. :meth:`StoragePolicy.resolve` parses it, checks **every reading** another
system could give it (percent-decoded once, twice…, backslashes read as ``/``, repeated slashes collapsed,
the bucket name in any case) and returns the canonical :class:`S3Uri`, or raises ``Forbidden`` (403) naming
the path, the field and the rule. Services reach storage for a tenant through :class:`TenantStorage`, whose
every method checks its address again, so a path stored before a policy change is checked when it is used.

Layout of the platform bucket (``EXEML_STORAGE_BUCKET``)::

    tenants/<tenant>/     the tenant's own files (a user names them freely)
    datasets/<tenant>/    the default input/output folders of the tenant's datasets
    models/ training/ triton/ manifests/ internal/
                          the platform's own areas: never reachable through a user path

Other buckets (or prefixes) are reachable only where an operator grants them to a tenant
(``EXEML_STORAGE_GRANTS``, JSON ``{"acme": ["s3://acme-data/"]}``); ``EXEML_STORAGE_PLATFORM_AREAS`` adds
areas the platform keeps for itself elsewhere (a Triton repository in its own bucket), which no grant reaches.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, BinaryIO
from urllib.parse import unquote

from shared.errors import ErrorDetail, Forbidden
from shared.settings import ServiceSettings, SettingsError
from shared.storage.base import (
    ObjectInfo,
    ObjectRef,
    ObjectStore,
    S3Uri,
    invalid_input,
    validate_object_key,
    validate_prefix,
)

__all__ = [
    "PLATFORM_AREAS",
    "RULE_OTHER_TENANT",
    "RULE_OUTSIDE",
    "RULE_PLATFORM",
    "RULE_TRAVERSAL",
    "StoragePolicy",
    "TenantStorage",
    "bucket_path_as_uri",
    "check_relative",
    "refusal_rule",
]

PLATFORM_AREAS = ("models", "training", "triton", "manifests", "internal")
_TENANT_TREES = ("tenants", "datasets")  # <tree>/<tenant>/ belongs to that tenant
_SCHEMES = ("s3", "obs")  # ModelArts paths are obs://bucket/key; both mean the same object here
_DECODE_ROUNDS = 4  # %2e → ., %252e → %2e → .: deeper encodings are refused as a traversal

RULE_TRAVERSAL = "storage_path_traversal"
RULE_PLATFORM = "storage_platform_area"
RULE_OTHER_TENANT = "storage_other_tenant"
RULE_OUTSIDE = "storage_outside_tenant_area"


@dataclass(frozen=True)
class _Reading:
    """One way a path can be read: a bucket and a key (folders end with ``/``)."""

    bucket: str
    key: str


def _split(text: str) -> tuple[str, str] | None:
    """``(bucket, key)`` of an ``s3://``/``obs://`` URI, or None for anything else."""
    scheme, sep, rest = text.partition("://")
    if not sep or scheme.lower() not in _SCHEMES:
        return None
    bucket, _, key = rest.partition("/")
    return bucket, key


def _variants(path: str) -> list[str] | None:
    """The path as given, percent-decoded until stable, each also with backslashes read as ``/``; None when
    it is still encoded after every round (nobody writes such a path but to slip past a check)."""
    texts = [path]
    for _ in range(_DECODE_ROUNDS):
        decoded = unquote(texts[-1])
        if decoded == texts[-1]:
            return texts + [t.replace("\\", "/") for t in texts if "\\" in t]
        texts.append(decoded)
    return None


def _normalised_key(key: str) -> str | None:
    """The key with empty segments dropped (``//``, a leading ``/``); None if a ``.``/``..`` segment remains."""
    segments = key.split("/")
    if any(s in (".", "..") for s in segments):
        return None
    kept = "/".join(s for s in segments if s)
    return kept + "/" if kept and key.endswith("/") else kept


def _inside(key: str, prefix: str) -> bool:
    return prefix == "" or key.startswith(prefix)


def _overlap(a: _Reading, b: _Reading) -> bool:
    return a.bucket == b.bucket and (_inside(a.key, b.key) or _inside(b.key, a.key))


def _area(uri: str, setting: str) -> _Reading:
    parts = _split(uri)
    key = _normalised_key(parts[1]) if parts else None
    if parts is None or key is None or not parts[0]:
        raise SettingsError(f"{setting}: {uri!r} is not an s3://bucket/prefix/ address")
    return _Reading(parts[0].lower(), key if key == "" or key.endswith("/") else key + "/")


def bucket_path_as_uri(path: str) -> str:
    """ModelArts' way of writing an object-store path, ``/bucket/key`` (its create bodies' ``data_path`` and
    ``work_path``), as ``s3://bucket/key``: the same object in the configured store. Anything else is returned
    unchanged (``//…`` too: an empty bucket is no path). The result still goes through :meth:`StoragePolicy.resolve`.
    """
    return f"s3:/{path}" if path.startswith("/") and not path.startswith("//") else path


def check_relative(name: str, *, field: str = "file") -> str:
    """``name`` as a path below some folder (``//`` and a leading ``/`` collapsed); ``Forbidden`` (403,
    ``storage_path_traversal``) if any reading of it (percent-decoded, backslashes as ``/``) climbs out."""
    variants = _variants(name)
    if variants is None or any(_normalised_key(v.replace("\\", "/")) is None for v in variants):
        raise _refused(
            name,
            field,
            RULE_TRAVERSAL,
            "a name must stay inside its folder: '.' and '..' segments "
            "(in any encoding, with '/' or '\\') are not allowed",
        )
    return _normalised_key(name) or ""


class StoragePolicy:
    """The deployment's rule: which buckets and prefixes each tenant may name, which are the platform's."""

    def __init__(
        self,
        bucket: str,
        *,
        grants: Mapping[str, Sequence[str]] | None = None,
        platform_areas: Sequence[str] = (),
    ) -> None:
        self.bucket = bucket
        self._platform = [_Reading(bucket, f"{a}/") for a in PLATFORM_AREAS]
        self._platform += [_area(u, "EXEML_STORAGE_PLATFORM_AREAS") for u in platform_areas]
        self._grants = {
            t: [_area(u, "EXEML_STORAGE_GRANTS") for u in uris] for t, uris in (grants or {}).items()
        }
        for tenant, areas in self._grants.items():
            for area in areas:
                self._check_grant(tenant, area)

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> StoragePolicy:
        return cls(
            settings.storage_bucket,
            grants=settings.storage_grants,
            platform_areas=settings.storage_platform_areas,
        )

    def _check_grant(self, tenant: str, area: _Reading) -> None:
        """A grant never reaches the platform's areas nor the tenant trees of the platform bucket."""
        trees = [_Reading(self.bucket, f"{t}/") for t in _TENANT_TREES]
        if any(_overlap(area, other) for other in self._platform + trees):
            raise SettingsError(
                f"EXEML_STORAGE_GRANTS: s3://{area.bucket}/{area.key} of tenant {tenant} overlaps "
                "the platform's own areas or the tenants' areas of the platform bucket"
            )

    # -- the areas ------------------------------------------------------------------------------------

    def home(self, tenant_id: str) -> S3Uri:
        """``s3://<bucket>/tenants/<tenant>/``: where a tenant keeps its own files."""
        return S3Uri(self.bucket, f"tenants/{tenant_id}/")

    def dataset_folder(self, tenant_id: str, dataset_id: str, leaf: str) -> S3Uri:
        """The default ``input``/``output`` folder of a dataset: ``datasets/<tenant>/<dataset>/<leaf>/``."""
        return S3Uri(self.bucket, f"datasets/{tenant_id}/{dataset_id}/{leaf}/")

    def platform_folder(self, area: str, tenant_id: str, *parts: str) -> S3Uri:
        """A folder of the platform's own (``models``, ``training``…), one subtree per tenant."""
        assert area in PLATFORM_AREAS, area
        return S3Uri(self.bucket, "/".join([area, tenant_id, *parts]))

    def areas(self, tenant_id: str) -> list[str]:
        """What the tenant may name, for messages and documentation."""
        own = [f"s3://{self.bucket}/{t}/{tenant_id}/" for t in _TENANT_TREES]
        return own + [f"s3://{g.bucket}/{g.key}" for g in self._grants.get(tenant_id, [])]

    # -- the rule -------------------------------------------------------------------------------------

    def resolve(self, tenant_id: str, path: str, *, field: str = "path") -> S3Uri:
        """The canonical address of ``path`` if the tenant may name it; else ``Forbidden`` (403).

        A path that is no ``s3://``/``obs://`` URI, or whose canonical form is no valid key, is an
        ``InvalidInput`` (400). The canonical form has the scheme ``s3``, and no empty segments.
        """
        parts = _split(path)
        if parts is None or not parts[0]:
            raise invalid_input(
                "s3_uri_scheme", f"{field} {path!r} is not an s3://bucket/key address", field, path
            )
        variants = _variants(path)
        if variants is None:  # nobody writes such a path but to slip past a check
            raise _refused(
                path, field, RULE_TRAVERSAL, f"more than {_DECODE_ROUNDS} rounds of percent-encoding"
            )
        verdicts = {v for text in variants if (v := self._verdict_of(tenant_id, text)) is not None}
        if verdicts:  # the most telling rule of all readings
            rule = min(verdicts, key=_SEVERITY.index)
            raise _refused(path, field, rule, _MESSAGES[rule].format(areas=", ".join(self.areas(tenant_id))))
        key = _normalised_key(parts[1])
        assert key is not None  # a '.'/'..' reading was refused above
        validate_prefix(key) if key == "" or key.endswith("/") else validate_object_key(key)
        return S3Uri(parts[0], key)

    def allows(self, tenant_id: str, path: str) -> bool:
        """Whether :meth:`resolve` would accept ``path`` (for filtering, never for access)."""
        try:
            self.resolve(tenant_id, path)
        except Exception:  # noqa: BLE001 - a refusal of any kind is a no
            return False
        return True

    def _verdict_of(self, tenant_id: str, text: str) -> str | None:
        """The rule one reading breaks, if any (a decoded reading that is no URI at all names no object)."""
        parts = _split(text)
        if parts is None:
            return None
        key = _normalised_key(parts[1])
        if key is None:
            return RULE_TRAVERSAL
        return self._verdict(tenant_id, _Reading(parts[0].lower(), key))

    def _verdict(self, tenant_id: str, reading: _Reading) -> str | None:
        if any(reading.bucket == p.bucket and _inside(reading.key, p.key) for p in self._platform):
            return RULE_PLATFORM
        if reading.bucket == self.bucket:
            tree, _, rest = reading.key.partition("/")
            owner = rest.split("/", 1)[0]
            if tree in _TENANT_TREES and "/" in rest:
                return None if owner == tenant_id else RULE_OTHER_TENANT
        if any(
            reading.bucket == g.bucket and _inside(reading.key, g.key)
            for g in self._grants.get(tenant_id, [])
        ):
            return None
        return RULE_OUTSIDE


_SEVERITY = [RULE_TRAVERSAL, RULE_PLATFORM, RULE_OTHER_TENANT, RULE_OUTSIDE]
_MESSAGES = {
    RULE_TRAVERSAL: "'.' and '..' segments (in any encoding) are not allowed",
    RULE_PLATFORM: "the platform's own storage (models, training output, Triton repository, manifests) is never "
    "reachable through a path; choose one under {areas}",
    RULE_OTHER_TENANT: "this is another tenant's storage area; choose a path under {areas}",
    RULE_OUTSIDE: "a tenant names only its own storage areas: {areas} (an operator grants more with "
    "EXEML_STORAGE_GRANTS)",
}


def _refused(path: str, field: str, rule: str, msg: str) -> Forbidden:
    return Forbidden(
        f"{field} '{path}' is not in the tenant's storage area: {msg}",
        details=[ErrorDetail(rule=rule, msg=msg, field=field, value=path)],
    )


class TenantStorage:
    """The object store as one tenant may use it: every method checks its address against the policy.

    User paths go through :meth:`resolve` (or :meth:`child` for a name below a resolved folder); reads and
    writes take those addresses and are checked again, so no address a tenant cannot name is ever touched.
    """

    def __init__(self, store: ObjectStore, policy: StoragePolicy, tenant_id: str) -> None:
        self.store, self.policy, self.tenant_id = store, policy, tenant_id

    def resolve(self, path: ObjectRef, *, field: str = "path") -> S3Uri:
        return self.policy.resolve(self.tenant_id, str(path), field=field)

    def folder(self, path: ObjectRef, *, field: str = "path") -> S3Uri:
        """A folder's address: resolved, with a trailing ``/``."""
        uri = self.resolve(path, field=field)
        return uri if uri.key.endswith("/") else self.resolve(f"{uri}/", field=field)

    def child(self, folder: ObjectRef, relative: str, *, field: str = "file") -> S3Uri:
        """``relative`` below ``folder``; any reading of it that leaves the folder is refused (403)."""
        base = self.folder(folder, field=field)
        uri = self.resolve(f"{base}{check_relative(relative, field=field)}", field=field)
        if not uri.key.startswith(base.key):
            raise _refused(relative, field, RULE_TRAVERSAL, f"the name must stay inside {base}")
        return uri

    def allows(self, path: ObjectRef) -> bool:
        return self.policy.allows(self.tenant_id, str(path))

    def home(self) -> S3Uri:
        """The tenant's own area, ``s3://<bucket>/tenants/<tenant>/``."""
        return self.policy.home(self.tenant_id)

    def dataset_folder(self, dataset_id: str, leaf: str) -> S3Uri:
        return self.policy.dataset_folder(self.tenant_id, dataset_id, leaf)

    async def list(self, folder: ObjectRef) -> list[ObjectInfo]:
        base = self.folder(folder)
        return await self.store.list(base.bucket, base.key)

    async def get(self, ref: ObjectRef) -> bytes:
        return await self.store.get(self.resolve(ref, field="source"))

    async def open_stream(self, ref: ObjectRef, **kwargs: Any) -> AsyncIterator[bytes]:
        return await self.store.open_stream(self.resolve(ref, field="source"), **kwargs)

    async def put(self, ref: ObjectRef, data: bytes | BinaryIO, **kwargs: Any) -> ObjectInfo:
        return await self.store.put(self.resolve(ref, field="target"), data, **kwargs)

    async def delete(self, ref: ObjectRef) -> None:
        await self.store.delete(self.resolve(ref, field="source"))

    async def delete_prefix(self, folder: ObjectRef) -> int:
        base = self.folder(folder)
        return await self.store.delete_prefix(base.bucket, base.key)

    async def presigned_get_url(self, ref: ObjectRef, *, expires: timedelta = timedelta(hours=1)) -> str:
        return await self.store.presigned_get_url(self.resolve(ref, field="source"), expires=expires)


def refusal_rule(exc: Exception) -> str | None:
    """The rule of a tenancy refusal (for per-file error lists), else None."""
    if isinstance(exc, Forbidden) and exc.details:
        return exc.details[0].rule
    return None
