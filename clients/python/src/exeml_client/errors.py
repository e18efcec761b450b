"""The API's errors as exceptions: one class per HTTP status family, each with ModelArts' ``error_code`` and
``error_msg`` and the ``details`` that name the field, the file and the rule."""

from __future__ import annotations

from typing import Any

import httpx

__all__ = [
    "APIError",
    "BadRequest",
    "Conflict",
    "ExeMLError",
    "Forbidden",
    "NotFound",
    "PayloadTooLarge",
    "ServerError",
    "ServiceUnavailable",
    "TransportError",
    "Unauthorized",
    "error_from_response",
]


class ExeMLError(Exception):
    """Base of every error this client raises."""


class TransportError(ExeMLError):
    """The API could not be reached (connection refused, timeout) after the retries allowed."""


class APIError(ExeMLError):
    """An answer with an error status. ``error_code`` is ModelArts' (``ModelArts.4422``)."""

    status_code: int = 0

    def __init__(
        self, status_code: int, error_code: str, error_msg: str, details: list[dict[str, Any]]
    ) -> None:
        super().__init__(f"{error_code}: {error_msg}")
        self.status_code, self.error_code, self.error_msg, self.details = (
            status_code,
            error_code,
            error_msg,
            details,
        )

    def files(self) -> dict[str, list[dict[str, Any]]]:
        """The details that name a file, by file (uploads, imports)."""
        out: dict[str, list[dict[str, Any]]] = {}
        for detail in self.details:
            if detail.get("file"):
                out.setdefault(detail["file"], []).append(detail)
        return out


class BadRequest(APIError):
    """400: the request breaks a documented rule."""


class Unauthorized(APIError):
    """401: no valid API key."""


class Forbidden(APIError):
    """403: the key's role may not do this."""


class NotFound(APIError):
    """404: no such resource for this tenant."""


class Conflict(APIError):
    """409: the resource's state forbids it now."""


class PayloadTooLarge(APIError):
    """413: a file or an upload is too large."""


class ServiceUnavailable(APIError):
    """503 (and 502, 504, 429): try again later; idempotent calls are retried before this is raised."""


class ServerError(APIError):
    """Any other 5xx."""


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    429: ServiceUnavailable,
    502: ServiceUnavailable,
    503: ServiceUnavailable,
    504: ServiceUnavailable,
}


def error_from_response(response: httpx.Response) -> APIError:
    """The exception for an error answer; bodies that are not ModelArts errors keep their text as the message."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or "error_code" not in body:
        body = {
            "error_code": f"HTTP.{response.status_code}",
            "error_msg": response.text[:500] or response.reason_phrase,
        }
    cls = _BY_STATUS.get(response.status_code) or (ServerError if response.status_code >= 500 else APIError)
    error = cls(
        response.status_code,
        str(body["error_code"]),
        str(body.get("error_msg", "")),
        body.get("details") or [],
    )
    return error
