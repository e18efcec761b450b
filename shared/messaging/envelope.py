"""The CloudEvents 1.0 envelope (JSON structured mode) every event travels in."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.context import current_context, new_id
from shared.events.base import EventContract, contract_for

__all__ = ["Envelope", "EnvelopeError", "make_envelope", "decode_envelope"]

DataT = TypeVar("DataT")


class EnvelopeError(ValueError):
    """The bytes are not a valid event envelope: retrying cannot help (dead-letter it)."""


class Envelope(BaseModel, Generic[DataT]):
    """CloudEvents attributes plus the ExeML extensions ``tenantid`` and ``correlationid``."""

    model_config = ConfigDict(frozen=True)

    specversion: str = "1.0"
    id: str = Field(default_factory=new_id)
    source: str
    type: str
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    subject: str | None = None
    datacontenttype: str = "application/json"
    tenantid: str
    correlationid: str | None = None
    data: DataT

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    def payload(self) -> EventContract | Any:
        """The data parsed with its registered contract (raw dict if the type is unknown)."""
        contract = contract_for(self.type)
        return contract.model_validate(self.data) if contract else self.data


def make_envelope(
    event: EventContract, *, source: str, subject: str | None = None, tenant_id: str | None = None
) -> Envelope[dict[str, Any]]:
    """Wrap ``event`` with the current request context (tenant, correlation id)."""
    ctx = current_context()
    tenant = tenant_id or ctx.tenant_id
    if not tenant:
        raise ValueError("an event needs a tenant: pass tenant_id or publish inside a tenant context")
    return Envelope[dict[str, Any]](
        source=source,
        type=event.event_type,
        subject=subject,
        tenantid=tenant,
        correlationid=ctx.correlation_id or ctx.request_id,
        data=event.model_dump(mode="json"),
    )


def decode_envelope(body: bytes) -> Envelope[dict[str, Any]]:
    """Parse and validate an envelope; the payload is validated against its contract if registered."""
    try:
        envelope = Envelope[dict[str, Any]].model_validate_json(body)
        envelope.payload()
    except (ValidationError, ValueError) as exc:
        raise EnvelopeError(f"undecodable event: {exc}") from exc
    if envelope.specversion != "1.0":
        raise EnvelopeError(f"unsupported CloudEvents specversion {envelope.specversion}")
    return envelope
