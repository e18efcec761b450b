"""The phase DAG of a new-version ExeML execution, per project type, and the states of rounds and phases."""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "ACTIVE",
    "DATASET_TYPES",
    "ENDED",
    "PHASE_STATUSES",
    "PROJECT_TYPES",
    "TRAIN_TITLES",
    "InstanceType",
    "PhaseName",
    "PhaseStatus",
    "RoundStatus",
    "phase_plan",
]


class PhaseStatus(StrEnum):
    """A phase's status, as ModelArts shows it."""

    INIT = "init"
    AWAITING_OPERATION = "awaiting_operation"  # the user must act ("Next" after labeling)
    AWAITING_INPUT = "awaiting_input"  # the user must give input (the deployment's settings)
    RUNNING = "running"
    EXECUTED = "executed"
    FAILED = "failed"
    STOPPED = "stopped"


class RoundStatus(StrEnum):
    """The status of a round (execution) and of its project (the project's is its latest round's)."""

    INIT = "init"
    RUNNING = "running"
    COMPLETED = "completed"
    STOPPED = "stopped"
    ABNORMAL = "abnormal"


class PhaseName(StrEnum):
    LABEL_DATA = "label_data"
    PUBLISH_DATASET = "publish_dataset"
    CHECK_DATA = "check_data"
    TRAIN = "train"
    REGISTER_MODEL = "register_model"
    DEPLOY_SERVICE = "deploy_service"


class InstanceType(StrEnum):
    """What a phase created in another service (its ``instance_id`` names it)."""

    DATASET_VERSION = "dataset_version"
    DATASET_CHECK = "dataset_check"
    TRAINING_JOB = "training_job"
    MODEL_VERSION = "model_version"
    SERVICE = "service"


# A phase in these states is the round's current one; a phase in ENDED has an end time.
ACTIVE = (PhaseStatus.RUNNING, PhaseStatus.AWAITING_OPERATION, PhaseStatus.AWAITING_INPUT)
ENDED = (PhaseStatus.EXECUTED, PhaseStatus.FAILED, PhaseStatus.STOPPED)

# Project type -> ModelArts dataset type code of its dataset.
DATASET_TYPES = {
    "image_classification": 0,
    "object_detection": 1,
    "predictive_analytics": 400,
    "sound_classification": 200,
    "text_classification": 100,
}
PROJECT_TYPES = tuple(DATASET_TYPES)
# The training phase is named after the task, as the console shows it.
TRAIN_TITLES = {
    "image_classification": "Classify Images",
    "object_detection": "Detect Objects",
    "predictive_analytics": "Predict",
    "sound_classification": "Classify Sounds",
    "text_classification": "Classify Text",
}
PHASE_STATUSES = tuple(PhaseStatus)


def phase_plan(project_type: str) -> list[tuple[PhaseName, str]]:
    """(name, title) of each phase in order; predictive analytics has no labeling phase."""
    plan = [
        (PhaseName.LABEL_DATA, "Label Data"),
        (PhaseName.PUBLISH_DATASET, "Publish Dataset Version"),
        (PhaseName.CHECK_DATA, "Check Data"),
        (PhaseName.TRAIN, TRAIN_TITLES[project_type]),
        (PhaseName.REGISTER_MODEL, "Register Model"),
        (PhaseName.DEPLOY_SERVICE, "Deploy Service"),
    ]
    return plan[1:] if project_type == "predictive_analytics" else plan
