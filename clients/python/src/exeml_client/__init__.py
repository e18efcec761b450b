"""Python client of the ExeML API (sync :class:`Client`, asyncio :class:`AsyncClient`) and the ``exeml`` CLI."""

from exeml_client.aio import AsyncClient
from exeml_client.client import Client
from exeml_client.errors import (
    APIError,
    BadRequest,
    Conflict,
    ExeMLError,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    ServerError,
    ServiceUnavailable,
    TransportError,
    Unauthorized,
)
from exeml_client.events import Event

__all__ = [
    "APIError",
    "AsyncClient",
    "BadRequest",
    "Client",
    "Conflict",
    "Event",
    "ExeMLError",
    "Forbidden",
    "NotFound",
    "PayloadTooLarge",
    "ServerError",
    "ServiceUnavailable",
    "TransportError",
    "Unauthorized",
]
__version__ = "0.1.0"
