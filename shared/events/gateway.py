"""Events of the gateway (API keys)."""

from __future__ import annotations

from pydantic import Field

from shared.events.base import EventContract

__all__ = ["ApiKeyRevoked"]


class ApiKeyRevoked(EventContract):
    """An API key was revoked: it is refused from now on (gateways drop it from their cache of verified keys)."""

    event_type = "gateway.api_key.revoked.v1"
    key_id: str
    key_prefix: str = Field(description="The first characters of the key, as the key list shows them")
    name: str
