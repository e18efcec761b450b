"""The inference service's errors, each with its ModelArts code (raise these, never a bare code)."""

from shared.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge, ServiceUnavailable

__all__ = [
    "BadPredictRequest",
    "EmptyPredictRequest",
    "ModelUnavailable",
    "PredictRequestTooLarge",
    "ServiceBusy",
    "ServiceNameExists",
    "ServiceNotFound",
    "ServiceNotRunning",
    "UnknownModelVersion",
    "VersionNotDeployable",
]


class UnknownModelVersion(InvalidInput):
    """A service's config names a model version the registry does not know."""

    default_code = "ModelArts.3001"


class ServiceNotFound(NotFound):
    default_code = "ModelArts.3502"


class ServiceNameExists(Conflict):
    default_code = "ModelArts.3510"


class VersionNotDeployable(InvalidInput):
    """The model version is not published (still registering, or failed)."""

    default_code = "ModelArts.3515"


class ServiceBusy(InvalidInput):
    """The service is changing (deploying, stopping, updating) or has nothing to start."""

    default_code = "ModelArts.3519"


class BadPredictRequest(InvalidInput):
    """A prediction request that breaks the format of the service's task type."""

    default_code = "ModelArts.4200"


class PredictRequestTooLarge(PayloadTooLarge):
    default_code = "ModelArts.4200"


class EmptyPredictRequest(InvalidInput):
    default_code = "ModelArts.4202"


class ServiceNotRunning(InvalidInput):
    default_code = "ModelArts.4203"


class ModelUnavailable(ServiceUnavailable):
    """Triton did not answer for the service's model."""

    default_code = "ModelArts.4203"
