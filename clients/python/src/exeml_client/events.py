"""The tenant's events from ``GET /v1/events`` (server-sent events carrying CloudEvents envelopes)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from httpx_sse import ServerSentEvent
from pydantic import BaseModel, Field

__all__ = ["Event"]


class Event(BaseModel):
    """One event: ``type`` such as ``workflow.phase.changed.v1``, ``data`` its payload."""

    id: str
    type: str
    source: str | None = None
    time: datetime | None = None
    subject: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def from_sse(cls, sse: ServerSentEvent) -> Event:
        envelope = json.loads(sse.data)
        return cls(
            id=sse.id or envelope.get("id", ""),
            type=sse.event or envelope.get("type", ""),
            source=envelope.get("source"),
            time=envelope.get("time"),
            subject=envelope.get("subject"),
            data=envelope.get("data") or {},
        )


def events_params(types: list[str] | None) -> dict[str, str]:
    return {"types": ",".join(types)} if types else {}
