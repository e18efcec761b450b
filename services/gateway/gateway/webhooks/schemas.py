"""Request and response shapes of ``/v1/webhooks``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, UrlConstraints

__all__ = ["DeliveryList", "DeliveryRead", "WebhookCreate", "WebhookCreated", "WebhookList", "WebhookRead"]


class WebhookCreate(BaseModel):
    url: Annotated[HttpUrl, UrlConstraints(max_length=2048)] = Field(
        examples=["https://ci.example.com/exeml-hook"]
    )
    event_types: list[str] = Field(
        min_length=1,
        max_length=50,
        examples=[["training.job.*", "inference.service.*"]],
        description="Event types or glob patterns (`*` matches any part)",
    )


_HOOK_EXAMPLE: dict[str, Any] = {
    "id": "b41c9e2d7f3a4c5e9d8b7a6f5e4d3c2b",
    "url": "https://ci.example.com/exeml-hook",
    "event_types": ["training.job.*", "inference.service.*"],
    "active": True,
    "created_at": "2026-11-23T10:15:00Z",
}
_DELIVERY_EXAMPLE: dict[str, Any] = {
    "id": "e8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3",
    "event_id": "0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f",
    "event_type": "training.job.completed.v1",
    "status": "delivered",
    "attempts": 1,
    "response_status": 200,
    "last_error": None,
    "next_attempt_at": "2026-11-23T10:20:03Z",
}


class WebhookRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [_HOOK_EXAMPLE]})
    id: str
    url: str
    event_types: list[str]
    active: bool
    created_at: datetime


class WebhookCreated(WebhookRead):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [_HOOK_EXAMPLE | {"secret": "q8VtR2mZ0cYx5LwN7pKd3hFs9GjB1aEu4oTi6nMy"}]
        }
    )
    secret: str = Field(description="HMAC-SHA256 key of the X-ExeML-Signature header: shown once")


class WebhookList(BaseModel):
    items: list[WebhookRead]
    total: int = Field(examples=[1])


class DeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [_DELIVERY_EXAMPLE]})
    id: str
    event_id: str
    event_type: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    response_status: int | None
    last_error: str | None
    next_attempt_at: datetime


class DeliveryList(BaseModel):
    items: list[DeliveryRead]
    total: int = Field(examples=[1])
