"""The trainer service's errors, each with its ModelArts code (raise these, never a bare code), and the
codes a failed job records."""

from enum import StrEnum

from shared.errors import Conflict, NotFound

__all__ = ["JobFailure", "JobNotFound", "JobNotStoppable", "JobStillRunning"]


class JobNotFound(NotFound):
    default_code = "ModelArts.2762"


class JobNotStoppable(Conflict):
    """The job has already ended."""

    default_code = "ModelArts.2764"


class JobStillRunning(Conflict):
    """The job runs: stop it before deleting it."""

    default_code = "ModelArts.2765"


class JobFailure(StrEnum):
    """``error_code`` of a job that failed (shown on the job, carried by ``training.job.failed.v1``)."""

    DATA = "ModelArts.2791"  # the dataset version cannot be read or trained on: not retried
    ENGINE = "ModelArts.2792"  # the engine failed unexpectedly
    WORKERS_LOST = "ModelArts.2793"  # the workers running the job were lost max_attempts times
