"""API keys: stored hashed, scoped to a tenant, with roles; the bootstrap admin key; key management.

A key is ``exeml_<43 url-safe chars>`` (256 bits of randomness), so a plain SHA-256 is a sound hash: nobody
can guess a preimage, and a lookup is one indexed equality. Callers present it as ``Authorization: Bearer
<key>`` or ModelArts' ``X-Auth-Token: <key>``. Roles: ``admin`` (everything, key management of its tenant),
``developer`` (everything but key management), ``viewer`` (reads and predictions only). Admin keys of the
operator tenant ``default`` may create keys for any tenant: that is how a new tenant is made.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.config import Settings
from gateway.models import ApiKey
from gateway.verified_keys import VerifiedKeys
from shared.auth import Principal
from shared.db import Repository, after_commit
from shared.db.base import utcnow
from shared.db.engine import Database
from shared.errors import ErrorDetail, Forbidden, InvalidCredentials, InvalidInput
from shared.events.gateway import ApiKeyRevoked
from shared.logging import get_logger
from shared.service import ServiceRuntime
from shared.service.params import Offset, limit_query

__all__ = ["OPERATOR_TENANT", "authenticate", "ensure_bootstrap_key", "hash_key", "keys_router", "new_key"]

log = get_logger(__name__)
OPERATOR_TENANT = "default"
Role = Literal["admin", "developer", "viewer"]


def new_key() -> str:
    return "exeml_" + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKeyRepository(Repository[ApiKey]):
    model = ApiKey
    resource_name = "API key"


async def ensure_bootstrap_key(db: Database, settings: Settings) -> str:
    """Register the first admin key: EXEML_BOOTSTRAP_API_KEY, else one generated into <data_dir>/api-key."""
    key = _bootstrap_key_value(settings)
    async with db.session() as session:
        exists = await session.scalar(sa.select(ApiKey.id).where(ApiKey.key_hash == hash_key(key)))
        if exists is None:
            session.add(
                ApiKey(
                    tenant_id=OPERATOR_TENANT,
                    name="bootstrap",
                    key_prefix=key[:12],
                    key_hash=hash_key(key),
                    roles="admin",
                )
            )
    return key


def _bootstrap_key_value(settings: Settings) -> str:
    if settings.bootstrap_api_key is not None:
        return settings.bootstrap_api_key.get_secret_value()
    path = Path(settings.data_dir) / "api-key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = new_key()
    path.write_text(key)
    path.chmod(0o600)
    print(f"ExeML admin API key (printed once; also in {path}): {key}", flush=True)
    return key


def presented_key(request: Request) -> str | None:
    token = request.headers.get("X-Auth-Token") or request.headers.get("Authorization", "")
    token = token.removeprefix("Bearer ").strip()
    return token or None


async def authenticate(request: Request) -> Principal:
    """The caller's principal from its API key, or 401 (the key itself is never logged).

    A key verified recently is found in the gateway's bounded cache (:class:`VerifiedKeys`) without a query;
    ``last_used_at`` is written when the key is verified against the database, so it is exact to within the
    cache's ``key_cache_seconds``."""
    key = presented_key(request)
    if key is None:
        raise InvalidCredentials("missing API key: send 'Authorization: Bearer <key>' or 'X-Auth-Token'")
    runtime = request.app.state.runtime
    verified = runtime.component(VerifiedKeys)
    key_hash = hash_key(key)
    return verified.get(key_hash) or await verified.verify(key_hash, partial(_verify, runtime.db, key_hash))


async def _verify(db: Database, key_hash: str) -> tuple[str, Principal]:
    async with db.session() as session:
        row = (
            await session.execute(sa.select(ApiKey).where(ApiKey.key_hash == key_hash))
        ).scalar_one_or_none()
        if row is None or row.revoked_at is not None:
            raise InvalidCredentials("invalid or revoked API key")
        row.last_used_at = utcnow()
        roles = tuple(row.roles.split(","))
        return row.id, Principal(tenant_id=row.tenant_id, subject=f"key:{row.id}", roles=roles)


PrincipalDep = Annotated[Principal, Depends(authenticate)]


def require_admin(principal: Principal) -> None:
    if "admin" not in principal.roles:
        raise Forbidden("only admin keys may manage API keys")


class ApiKeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$", examples=["ci-pipeline"])
    roles: list[Role] = Field(
        min_length=1, max_length=3, examples=[["developer"]], json_schema_extra={"uniqueItems": True}
    )
    tenant_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="Another tenant (operator admins only); default: the caller's tenant",
    )

    @field_validator("roles")
    @classmethod
    def _unique(cls, roles: list[str]) -> list[str]:
        if len(set(roles)) != len(roles):
            raise ValueError("roles must not repeat")
        return roles


_KEY_EXAMPLE: dict[str, Any] = {
    "id": "7d1e0c5b9a2f4e3d8c6b5a4f3e2d1c0b",
    "name": "ci-pipeline",
    "tenant_id": "default",
    "roles": ["developer"],
    "key_prefix": "exeml_Xk3q9Z",
    "created_at": "2026-11-23T10:15:00Z",
    "last_used_at": "2026-11-23T11:02:41Z",
    "revoked_at": None,
}


class ApiKeyRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_KEY_EXAMPLE]})
    id: str
    name: str
    tenant_id: str
    roles: list[str]
    key_prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, row: ApiKey) -> ApiKeyRead:
        return cls(
            id=row.id,
            name=row.name,
            tenant_id=row.tenant_id,
            roles=row.roles.split(","),
            key_prefix=row.key_prefix,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            revoked_at=row.revoked_at,
        )


class ApiKeyCreated(ApiKeyRead):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                _KEY_EXAMPLE | {"last_used_at": None, "key": "exeml_Xk3q9Z0vYc1Lr7TnWb2hPa5sDe8fGj4k"}
            ]
        }
    )
    key: str = Field(description="The key itself: shown once, store it now")


class ApiKeyList(BaseModel):
    items: list[ApiKeyRead]
    total: int = Field(examples=[1])


async def _announce_revocation(runtime: ServiceRuntime[Any], session: AsyncSession, row: ApiKey) -> None:
    """Drop the key from this gateway's cache now and after the commit (a request verifying it meanwhile
    cannot put it back), and tell every gateway through the event."""
    verified = runtime.component(VerifiedKeys)
    verified.revoke(row.id)
    after_commit(session, lambda: verified.revoke(row.id), key=("revoke", row.id))
    event = ApiKeyRevoked(key_id=row.id, key_prefix=row.key_prefix, name=row.name)
    await runtime.outbox.add(session, event, subject=row.id, tenant_id=row.tenant_id)


def keys_router() -> APIRouter:
    router = APIRouter(prefix="/v1/api-keys", tags=["api keys"])

    @router.post("", status_code=201, response_model=ApiKeyCreated, summary="Create an API key (admins)")
    async def create_key(body: ApiKeyCreate, principal: PrincipalDep, request: Request) -> ApiKeyCreated:
        """Create a key with roles; the response holds the key once. Operator admins (tenant `default`)
        may pass `tenant_id` to create a key of another tenant, which creates that tenant."""
        require_admin(principal)
        tenant = body.tenant_id or principal.tenant_id
        if tenant != principal.tenant_id and principal.tenant_id != OPERATOR_TENANT:
            raise Forbidden(
                "only operator admins may create keys of other tenants",
                details=[ErrorDetail(rule="operator_only", msg="tenant_id", field="tenant_id")],
            )
        key = new_key()
        async with request.app.state.runtime.db.session() as session:
            row = await ApiKeyRepository(session, tenant).add(
                ApiKey(
                    name=body.name, key_prefix=key[:12], key_hash=hash_key(key), roles=",".join(body.roles)
                )
            )
            return ApiKeyCreated(**ApiKeyRead.of(row).model_dump(), key=key)

    @router.get("", response_model=ApiKeyList, summary="List the tenant's API keys (admins)")
    async def list_keys(
        principal: PrincipalDep,
        request: Request,
        offset: Offset = 0,
        limit: Annotated[int, limit_query(100, 100)] = 100,
    ) -> ApiKeyList:
        """Keys of the caller's tenant, newest first; the keys themselves are never shown again."""
        require_admin(principal)
        async with request.app.state.runtime.db.session() as session:
            page = await ApiKeyRepository(session, principal.tenant_id).list(offset=offset, limit=limit)
            return ApiKeyList(items=[ApiKeyRead.of(r) for r in page.items], total=page.total)

    @router.delete("/{key_id}", response_model=ApiKeyRead, summary="Revoke an API key (admins)")
    async def revoke_key(key_id: str, principal: PrincipalDep, request: Request) -> ApiKeyRead:
        """Revoke a key of the caller's tenant; it stops working at once. A key cannot revoke itself."""
        require_admin(principal)
        if principal.subject == f"key:{key_id}":
            raise InvalidInput(
                "a key cannot revoke itself",
                details=[ErrorDetail(rule="not_self", msg="use another admin key", field="key_id")],
            )
        runtime = request.app.state.runtime
        async with runtime.db.session() as session:
            row = await ApiKeyRepository(session, principal.tenant_id).get(key_id)
            if row.revoked_at is None:
                row.revoked_at = utcnow()
                await _announce_revocation(runtime, session, row)
            await session.flush()
            return ApiKeyRead.of(row)

    return router
