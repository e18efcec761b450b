"""The dataset service's errors, each with its ModelArts code (raise these, never a bare code).

``DatasetNotFound`` (ModelArts.4352) is in ``shared.errors``: the services that keep a read model of datasets
answer it too.
"""

from shared.errors import Conflict, InvalidInput, NotFound

__all__ = [
    "DatasetExists",
    "ImportRunning",
    "ImportTaskNotFound",
    "NothingToPublish",
    "SampleNotFound",
    "SamplesExist",
    "VersionBeingPublished",
    "VersionExists",
    "VersionNotFound",
    "VersionNotPublished",
]


class VersionBeingPublished(Conflict):
    default_code = "ModelArts.4343"


class DatasetExists(Conflict):
    default_code = "ModelArts.4351"


class VersionNotFound(NotFound):
    default_code = "ModelArts.4353"


class VersionNotPublished(Conflict):
    """The operation needs a published (``NORMAL``) version."""

    default_code = "ModelArts.4353"


class ImportRunning(Conflict):
    """An import or synchronisation of the dataset is already running."""

    default_code = "ModelArts.4356"


class ImportTaskNotFound(NotFound):
    default_code = "ModelArts.4357"


class VersionExists(Conflict):
    default_code = "ModelArts.4371"


class SampleNotFound(NotFound):
    default_code = "ModelArts.4420"


class SamplesExist(Conflict):
    """An upload names files the dataset already has."""

    default_code = "ModelArts.4422"


class NothingToPublish(InvalidInput):
    default_code = "ModelArts.4711"
