"""The registry service's errors, each with its ModelArts code (raise these, never a bare code)."""

from shared.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge

__all__ = [
    "InvalidPackage",
    "ModelInUse",
    "ModelNotFound",
    "ModelVersionNotFound",
    "PackageTooLarge",
    "VersionNotPublished",
]


class ModelNotFound(NotFound):
    """No AI application with this id for the tenant."""

    default_code = "ModelArts.3000"


class ModelVersionNotFound(NotFound):
    default_code = "ModelArts.3001"


class InvalidPackage(InvalidInput):
    """An uploaded model package breaks the package format (the details name the file and the rule)."""

    default_code = "ModelArts.3017"


class PackageTooLarge(PayloadTooLarge):
    default_code = "ModelArts.3017"


class ModelInUse(Conflict):
    """A service that is not stopped uses the model or version."""

    default_code = "ModelArts.3021"


class VersionNotPublished(InvalidInput):
    """The version has no package to export (registration failed or still running)."""

    default_code = "ModelArts.3515"
