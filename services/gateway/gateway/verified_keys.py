"""The gateway's cache of API keys it has verified, so a request with a known key needs no database query.

Bounded (least recently used keys leave first) and each entry lives ``ttl`` seconds. A revocation drops the
key at once in the process that revokes it (before and after its commit) and, through the
``gateway.api_key.revoked.v1`` event, in every gateway that consumes events; a revoked id is remembered, so a
verification that raced with the revocation cannot put the key back. Only the SHA-256 of a key is kept.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from shared.auth import Principal
from shared.singleflight import SingleFlight

__all__ = ["VerifiedKeys"]


@dataclass(frozen=True)
class _Entry:
    key_id: str
    principal: Principal
    expires: float


class VerifiedKeys:
    """Key hash -> the principal it authenticates. One per runtime: ``runtime.component(VerifiedKeys)``."""

    def __init__(self, size: int = 10_000, ttl: float = 30.0) -> None:
        self.size, self.ttl = size, ttl
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._revoked: OrderedDict[str, None] = OrderedDict()
        self._verifying: SingleFlight[str, tuple[str, Principal]] = SingleFlight()

    def configure(self, size: int, ttl: float) -> None:
        """Apply the settings (``key_cache_size``, ``key_cache_seconds``); 0 turns the cache off."""
        self.size, self.ttl = size, ttl
        self._trim()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key_hash: str) -> Principal | None:
        entry = self._entries.get(key_hash)
        if entry is None:
            return None
        if entry.expires < time.monotonic():
            del self._entries[key_hash]
            return None
        self._entries.move_to_end(key_hash)
        return entry.principal

    def put(self, key_hash: str, key_id: str, principal: Principal) -> None:
        if self.size <= 0 or self.ttl <= 0 or key_id in self._revoked:
            return
        self._entries[key_hash] = _Entry(key_id, principal, time.monotonic() + self.ttl)
        self._entries.move_to_end(key_hash)
        self._trim()

    async def verify(
        self, key_hash: str, verify: Callable[[], Awaitable[tuple[str, Principal]]]
    ) -> Principal:
        """The principal of a key that is not cached: ``verify`` asks the database (``(key id, principal)``)
        once for all the requests with that key in flight, which would otherwise each verify it (and write its
        ``last_used_at``) whenever its entry expires under load."""
        key_id, principal = await self._verifying.run(key_hash, verify)
        self.put(key_hash, key_id, principal)
        return principal

    def revoke(self, key_id: str) -> None:
        """Drop the key and refuse to cache it again."""
        self._revoked[key_id] = None
        self._revoked.move_to_end(key_id)
        while len(self._revoked) > max(self.size, 1000):
            self._revoked.popitem(last=False)
        for key_hash in [h for h, e in self._entries.items() if e.key_id == key_id]:
            del self._entries[key_hash]

    def _trim(self) -> None:
        while len(self._entries) > max(self.size, 0):
            self._entries.popitem(last=False)
