"""Typed errors with an HTTP status and a stable ``error_code``, rendered as ModelArts does.

Every error the platform returns to a client has the body::

    {"error_code": "ModelArts.4352", "error_msg": "Dataset does not exist", "details": [...]}

``details`` names the field, file and rule for validation problems, so a user knows what to fix.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

__all__ = [
    "ErrorDetail",
    "ExeMLError",
    "InvalidInput",
    "Unauthorized",
    "Forbidden",
    "NotFound",
    "Conflict",
    "PayloadTooLarge",
    "ServiceUnavailable",
    "InternalError",
    "error_body",
]


@dataclass(frozen=True)
class ErrorDetail:
    """One concrete problem: which field (or file) broke which rule."""

    rule: str
    msg: str
    field: str | None = None
    file: str | None = None
    value: Any = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rule": self.rule, "msg": self.msg}
        for key in ("field", "file", "value"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


class ExeMLError(Exception):
    """Base of every error a service raises on purpose.

    Subclasses fix ``status_code`` and a default ``error_code``; callers pass the message and, for
    input problems, the details. ``error_code`` may be overridden with a more specific ModelArts code.
    """

    status_code: ClassVar[int] = 500
    default_code: ClassVar[str] = "ModelArts.0500"

    def __init__(
        self, error_msg: str, *, error_code: str | None = None, details: Iterable[ErrorDetail] = ()
    ) -> None:
        super().__init__(error_msg)
        self.error_msg = error_msg
        self.error_code = error_code or self.default_code
        self.details = list(details)

    def body(self) -> dict[str, Any]:
        return error_body(self.error_code, self.error_msg, [d.as_dict() for d in self.details])


class InvalidInput(ExeMLError):
    """The request breaks a documented rule (field, file, format, limit)."""

    status_code, default_code = 400, "ModelArts.0101"


class Unauthorized(ExeMLError):
    """No valid credentials were presented."""

    status_code, default_code = 401, "ModelArts.0201"


class Forbidden(ExeMLError):
    """The caller is known but may not do this."""

    status_code, default_code = 403, "ModelArts.0210"


class NotFound(ExeMLError):
    """The resource does not exist for this tenant (other tenants' resources look the same)."""

    status_code, default_code = 404, "ModelArts.0404"


class Conflict(ExeMLError):
    """The resource's current state forbids the operation."""

    status_code, default_code = 409, "ModelArts.0409"


class PayloadTooLarge(ExeMLError):
    """The request body or an uploaded file is over a limit."""

    status_code, default_code = 413, "ModelArts.0413"


class ServiceUnavailable(ExeMLError):
    """A dependency is down; retrying later may work."""

    status_code, default_code = 503, "ModelArts.0503"


class InternalError(ExeMLError):
    """An unexpected failure; the message is safe to show, the cause is in the logs."""


def error_body(error_code: str, error_msg: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The one error body shape every service and the gateway produce."""
    return {"error_code": error_code, "error_msg": error_msg, "details": details or []}
