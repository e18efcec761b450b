"""What every model shares: unknown fields from a newer server are ignored, and each names its schema."""

from __future__ import annotations

from typing import ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

T = TypeVar("T")


class APIModel(BaseModel):
    """A resource or request body of the API; ``__schema__`` is its schema in the gateway's ``/openapi.json``."""

    model_config = ConfigDict(extra="ignore")
    __schema__: ClassVar[str]


class Page(BaseModel, Generic[T]):
    """One page of a list (the clients' iterators walk them all)."""

    items: list[T]
    total: int
