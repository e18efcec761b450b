"""The CloudEvents 1.0 envelope (JSON structured mode) every event travels in."""

from __future__ import annotations

import builtins
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.context import current_context, new_id
from shared.events.base import EventContract, contract_for

__all__ = ["Envelope", "EnvelopeError", "decode_envelope", "make_envelope", "validation_reason"]

DataT = TypeVar("DataT")
ContractT = TypeVar("ContractT", bound=EventContract)


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

    def typed(self, contract: builtins.type[ContractT]) -> Envelope[ContractT]:
        """The same event with ``data`` validated into ``contract``; :class:`EnvelopeError` naming every
        broken field when it does not fit."""
        if contract.event_type != self.type:
            raise EnvelopeError(f"a {self.type} event is not a {contract.__name__} ({contract.event_type})")
        attributes = {name: getattr(self, name) for name in type(self).model_fields if name != "data"}
        try:
            return Envelope[contract].model_validate({**attributes, "data": self.data})  # type: ignore[valid-type]  # a runtime-chosen contract
        except ValidationError as exc:
            raise EnvelopeError(
                f"{self.type} payload does not match {contract.__name__}: {validation_reason(exc)}"
            ) from exc


def validation_reason(exc: ValidationError) -> str:
    """Every error of ``exc`` as ``field.path: message``, joined by ``; `` (one line, for logs and headers)."""
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}" for err in exc.errors()
    )


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


def decode_envelope(body: bytes, *, check_payload: bool = True) -> Envelope[dict[str, Any]]:
    """Parse and validate an envelope; with ``check_payload`` the payload is validated against its contract
    too, if registered (the consumer runner validates it into its handlers' contract instead)."""
    try:
        envelope = Envelope[dict[str, Any]].model_validate_json(body)
    except ValidationError as exc:
        raise EnvelopeError(f"not a CloudEvents envelope: {validation_reason(exc)}") from exc
    if envelope.specversion != "1.0":
        raise EnvelopeError(f"unsupported CloudEvents specversion {envelope.specversion}")
    contract = contract_for(envelope.type) if check_payload else None
    if contract is not None:
        envelope.typed(contract)
    return envelope
