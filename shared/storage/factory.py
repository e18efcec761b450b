"""Build the object store a service's settings ask for."""

from __future__ import annotations

from shared.settings import ServiceSettings, SettingsError
from shared.storage.base import ObjectStore
from shared.storage.local import LocalObjectStore
from shared.storage.s3 import S3ObjectStore

__all__ = ["object_store_from_settings"]


def object_store_from_settings(settings: ServiceSettings) -> ObjectStore:
    """A :class:`LocalObjectStore` (``storage="local"``) or :class:`S3ObjectStore` (``storage="s3"``).

    The store's ``default_bucket`` is ``settings.storage_bucket``; creating it is left to the service's
    start-up (``await store.ensure_bucket(store.default_bucket)``), since this function is synchronous.
    The local store signs its download URLs with ``internal_token_secret``.
    """
    if settings.storage == "s3":
        return _s3_store(settings)
    if settings.storage == "local":
        return _local_store(settings)
    raise SettingsError(f"{settings.service_name}: unknown storage backend {settings.storage!r}")


def _local_store(settings: ServiceSettings) -> LocalObjectStore:
    if settings.storage_root is None:
        raise SettingsError(f"{settings.service_name}: local storage needs STORAGE_ROOT")
    return LocalObjectStore(
        settings.storage_root,
        settings.public_base_url,
        settings.ensure_token_secret().get_secret_value(),
        default_bucket=settings.storage_bucket,
    )


def _s3_store(settings: ServiceSettings) -> S3ObjectStore:
    if not (settings.s3_endpoint and settings.s3_access_key and settings.s3_secret_key):
        raise SettingsError(
            f"{settings.service_name}: s3 storage needs S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY"
        )
    return S3ObjectStore(
        settings.s3_endpoint,
        settings.s3_access_key.get_secret_value(),
        settings.s3_secret_key.get_secret_value(),
        secure=settings.s3_secure,
        region=settings.s3_region,
        default_bucket=settings.storage_bucket,
    )
