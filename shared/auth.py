"""Internal tokens: the gateway vouches for a caller, every service checks the voucher.

The gateway authenticates the public credential (an API key) and forwards the request with a short-lived
JWT (HS256) that carries the tenant, the subject and the roles. Services accept nothing else: without a
valid internal token a route answers 401, so a service is not reachable around the gateway.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, TypeVar

import jwt
from fastapi import Depends, Request

from shared.context import bind_context
from shared.errors import CredentialsExpired, Forbidden, InvalidCredentials, Unauthorized
from shared.stages import stage

__all__ = [
    "INTERNAL_TOKEN_HEADER",
    "WRITER_ROLES",
    "Principal",
    "PrincipalDep",
    "TokenCodec",
    "WriterDep",
    "require_principal",
    "require_role",
    "verified_principal",
]

K = TypeVar("K")
V = TypeVar("V")
INTERNAL_TOKEN_HEADER = "X-ExeML-Internal-Token"
_ISSUER = "exeml-gateway"
_AUDIENCE = "exeml-services"
ROLES = ("admin", "developer", "viewer")
WRITER_ROLES = ("admin", "developer")  # viewers may only read and predict


@dataclass(frozen=True)
class Principal:
    """Who is calling, on behalf of which tenant, with which roles."""

    tenant_id: str
    subject: str
    roles: tuple[str, ...] = field(default=("viewer",))

    def can_write(self) -> bool:
        return any(r in ("admin", "developer") for r in self.roles)


class TokenCodec:
    """Issues and verifies internal tokens with one shared secret.

    Signing and checking a JWT costs about 0.1 ms each, on every request: :meth:`token_for` hands out one
    token per principal while more than half its life is left, and :meth:`verify` remembers the tokens it
    has checked until they expire (both bounded to ``cache_size``), so a busy caller pays neither."""

    def __init__(self, secret: str, ttl_seconds: int = 900, cache_size: int = 4096) -> None:
        if len(secret) < 32:
            raise ValueError("internal token secret must be at least 32 characters")
        self._secret = secret
        self._ttl = ttl_seconds
        self._cache_size = cache_size
        self._issued: dict[Principal, tuple[str, float]] = {}
        self._verified: dict[str, tuple[Principal, float]] = {}

    def token_for(self, principal: Principal) -> str:
        """A token for ``principal`` valid for at least half the token lifetime (reused while it is)."""
        now = time.time()
        cached = self._issued.get(principal)
        if cached is not None and cached[1] - now > self._ttl / 2:
            return cached[0]
        token = self.issue(principal)
        _bounded_put(self._issued, principal, (token, now + self._ttl), self._cache_size)
        return token

    def issue(self, principal: Principal) -> str:
        now = int(time.time())
        claims = {
            "iss": _ISSUER,
            "aud": _AUDIENCE,
            "sub": principal.subject,
            "tenant": principal.tenant_id,
            "roles": list(principal.roles),
            "iat": now,
            "exp": now + self._ttl,
        }
        return jwt.encode(claims, self._secret, algorithm="HS256")

    def verify(self, token: str) -> Principal:
        cached = self._verified.get(token)
        if cached is not None and cached[1] > time.time():
            return cached[0]
        principal, expires = self._decode(token)
        _bounded_put(self._verified, token, (principal, expires), self._cache_size)
        return principal

    def _decode(self, token: str) -> tuple[Principal, float]:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                audience=_AUDIENCE,
                issuer=_ISSUER,
                options={"require": ["exp", "sub", "tenant"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise CredentialsExpired("internal token expired") from exc
        except jwt.PyJWTError as exc:
            raise InvalidCredentials(f"invalid internal token: {exc}") from exc
        roles = tuple(r for r in claims.get("roles", []) if r in ROLES) or ("viewer",)
        principal = Principal(tenant_id=str(claims["tenant"]), subject=str(claims["sub"]), roles=roles)
        return principal, float(claims["exp"])


def _bounded_put(cache: dict[K, V], key: K, value: V, size: int) -> None:
    if len(cache) >= size:
        cache.clear()  # rare (more live callers than the bound): starting over is cheaper than bookkeeping
    cache[key] = value


def _token_from(request: Request) -> str | None:
    token = request.headers.get(INTERNAL_TOKEN_HEADER)
    if token:
        return token
    auth = request.headers.get("Authorization", "")
    scheme, _, value = auth.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value else None


def verified_principal(request: Request) -> Principal:
    """The caller named by the request's internal token (401 if it has none or it does not verify)."""
    codec: TokenCodec = request.app.state.token_codec
    token = _token_from(request)
    if not token:
        raise Unauthorized("missing internal token")
    with stage("service.auth"):
        principal = codec.verify(token)
    request.state.principal = principal
    return principal


async def require_principal(request: Request) -> AsyncIterator[Principal]:
    """FastAPI dependency: the verified caller; binds tenant and subject into the request context."""
    principal = verified_principal(request)
    with bind_context(tenant_id=principal.tenant_id, subject=principal.subject):
        yield principal


def require_role(*roles: str) -> Callable[[Principal], Awaitable[Principal]]:
    """Dependency factory: the caller must hold one of ``roles``."""

    async def check(principal: Annotated[Principal, Depends(require_principal)]) -> Principal:
        if not set(roles) & set(principal.roles):
            raise Forbidden(f"role {'/'.join(roles)} required")
        return principal

    return check


PrincipalDep = Annotated[Principal, Depends(require_principal)]
# The caller, who must be allowed to change things (a developer or an admin): the one writer dependency.
WriterDep = Annotated[Principal, Depends(require_role(*WRITER_ROLES))]
