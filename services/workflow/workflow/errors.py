"""The workflow service's errors, each with its ModelArts code (raise these, never a bare code)."""

from shared.errors import Conflict, InvalidInput, NotFound

__all__ = [
    "DatasetVersionNameTaken",
    "IncrementalVersionUnknown",
    "NoExecution",
    "NothingToRetry",
    "PhaseNotAwaiting",
    "ProjectExists",
    "ProjectHasRunningService",
    "ProjectLimitReached",
    "ProjectNotFound",
    "RoundStillRunning",
]


class NoExecution(NotFound):
    """The project has never run a round."""

    default_code = "ModelArts.7511"


class ProjectNotFound(NotFound):
    default_code = "ModelArts.7512"


class RoundStillRunning(Conflict):
    """A new round was asked for while a phase of the current one runs."""

    default_code = "ModelArts.7520"


class PhaseNotAwaiting(Conflict):
    """The action (next, deploy, stop) does not fit the state of the round's current phase."""

    default_code = "ModelArts.7521"


class NothingToRetry(Conflict):
    default_code = "ModelArts.7522"


class ProjectLimitReached(Conflict):
    default_code = "ModelArts.7530"


class ProjectExists(Conflict):
    default_code = "ModelArts.7531"


class ProjectHasRunningService(Conflict):
    default_code = "ModelArts.7532"


class IncrementalVersionUnknown(InvalidInput):
    """The incremental training version is no published model version of the project's AI application (a version
    its rounds registered), so there is no model to start from."""

    default_code = "ModelArts.7540"


class DatasetVersionNameTaken(Conflict):
    """A round names a dataset version its dataset already has: the dataset service's code for the same rule."""

    default_code = "ModelArts.4371"
