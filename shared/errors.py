"""Typed errors with an HTTP status and a stable ``error_code``, rendered as ModelArts does.

Every error the platform returns to a client has the body::

    {"error_code": "ModelArts.4352", "error_msg": "Dataset does not exist", "details": [...]}

``details`` names the field, file and rule for validation problems, so a user knows what to fix.

A code is named once, by a class: the generic ones below, those several services raise (``DatasetNotFound``,
``PeerUnavailable``) here too, and each service's own in its ``errors`` module. Raise
sites name the class, never a ``ModelArts.NNNN`` string (``error_code=`` is for relaying a peer's code).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Self

__all__ = [
    "Conflict",
    "CredentialsExpired",
    "DatasetNotFound",
    "ErrorDetail",
    "ExeMLError",
    "Forbidden",
    "InternalError",
    "InvalidCredentials",
    "InvalidInput",
    "MethodNotAllowed",
    "NotFound",
    "PayloadTooLarge",
    "PeerUnavailable",
    "ServiceUnavailable",
    "Unauthorized",
    "UnsupportedMediaType",
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

    @classmethod
    def for_field(
        cls, field: str | None, rule: str, msg: str, *, value: Any = None, file: str | None = None
    ) -> Self:
        """The error with one detail naming the field (or file) and the rule it broke."""
        return cls(msg, details=[ErrorDetail(rule=rule, msg=msg, field=field, file=file, value=value)])

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


class MethodNotAllowed(ExeMLError):
    """The path exists, not with this HTTP method (the response's ``Allow`` header lists those it has)."""

    status_code, default_code = 405, "ModelArts.0405"


class UnsupportedMediaType(ExeMLError):
    status_code, default_code = 415, "ModelArts.0415"


class ServiceUnavailable(ExeMLError):
    """A dependency is down; retrying later may work."""

    status_code, default_code = 503, "ModelArts.0503"


class InternalError(ExeMLError):
    """An unexpected failure; the message is safe to show, the cause is in the logs."""


class CredentialsExpired(Unauthorized):
    default_code = "ModelArts.0202"


class InvalidCredentials(Unauthorized):
    """A credential was presented but is not valid (unknown, revoked, forged)."""

    default_code = "ModelArts.0203"


class PeerUnavailable(ServiceUnavailable):
    """Another service (or the one a request is routed to) cannot be reached."""

    default_code = "ModelArts.4203"


class DatasetNotFound(NotFound):
    """The dataset (or the published version) does not exist for the tenant; services that keep a read model
    of datasets answer the dataset service's code."""

    default_code = "ModelArts.4352"


def error_body(
    error_code: str, error_msg: str, details: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The one error body shape every service and the gateway produce."""
    return {"error_code": error_code, "error_msg": error_msg, "details": details or []}
