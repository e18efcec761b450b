"""Object storage: one async interface, two backends (S3/MinIO and the local filesystem).

Objects are addressed by ``s3://bucket/key`` URIs (:class:`S3Uri`, or the same URI as a string); see
:mod:`shared.storage.base` for the key rules every backend enforces. Services get their store from
:func:`object_store_from_settings`; the gateway mounts :func:`local_object_router` in embedded mode so the
local store's presigned URLs work. A path a user supplies is reached only through
:class:`TenantStorage` (``runtime.tenant_storage(tenant)``), which :class:`StoragePolicy` checks.
"""

from shared.storage.base import (
    ObjectInfo,
    ObjectRef,
    ObjectStore,
    S3Uri,
    validate_bucket_name,
    validate_object_key,
    validate_prefix,
)
from shared.storage.factory import object_store_from_settings
from shared.storage.local import LocalObjectStore, sign_presigned, verify_presigned
from shared.storage.local_routes import local_object_router
from shared.storage.s3 import S3ObjectStore
from shared.storage.tenancy import StoragePolicy, TenantStorage

__all__ = [
    "LocalObjectStore",
    "ObjectInfo",
    "ObjectRef",
    "ObjectStore",
    "S3ObjectStore",
    "S3Uri",
    "StoragePolicy",
    "TenantStorage",
    "local_object_router",
    "object_store_from_settings",
    "sign_presigned",
    "validate_bucket_name",
    "validate_object_key",
    "validate_prefix",
    "verify_presigned",
]
