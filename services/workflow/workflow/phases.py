"""The phase DAG of a new-version ExeML execution, per project type."""

from __future__ import annotations

__all__ = [
    "DATASET_TYPES", "PHASE_STATUSES", "PROJECT_TYPES", "TRAIN_TITLES", "phase_plan",
]

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
PHASE_STATUSES = ("init", "awaiting_operation", "awaiting_input", "running", "executed", "failed", "stopped")


def phase_plan(project_type: str) -> list[tuple[str, str]]:
    """(name, title) of each phase in order; predictive analytics has no labeling phase."""
    plan = [
        ("label_data", "Label Data"),
        ("publish_dataset", "Publish Dataset Version"),
        ("check_data", "Check Data"),
        ("train", TRAIN_TITLES[project_type]),
        ("register_model", "Register Model"),
        ("deploy_service", "Deploy Service"),
    ]
    return plan[1:] if project_type == "predictive_analytics" else plan
