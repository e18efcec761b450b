"""Settings of the dataset service (env prefix ``EXEML_DATASET_``, then ``EXEML_``)."""

from typing import ClassVar

from pydantic import Field

from dataset.checks import GUIDE_THRESHOLDS, CheckThresholds
from shared.settings import ServiceSettings

MB = 1024 * 1024


class Settings(ServiceSettings):
    service_name: ClassVar[str] = "dataset"

    # Limits of the seeds (Preparing Data pages); a deployment may raise the upload limit.
    image_max_bytes: int = Field(default=5 * MB, gt=0, description="Largest image file")
    audio_max_bytes: int = Field(default=4 * MB, gt=0, description="Largest WAV file")
    text_max_bytes: int = Field(default=8 * MB, gt=0, description="Largest text or CSV object file")
    table_max_bytes: int = Field(default=100 * MB, gt=0, description="Largest table (all CSV files together)")
    upload_max_bytes: int = Field(default=8 * MB, gt=0, description="Largest multipart upload (all files)")
    audio_min_seconds: float = Field(default=1.0, ge=0, description="WAV files must be longer than this")
    table_max_columns: int = Field(default=200, gt=0, description="A table must have fewer columns than this")
    import_concurrency: int = Field(
        default=16, ge=1, le=256, description="Objects fetched at once by an import"
    )
    import_batch_size: int = Field(default=500, ge=1, le=500, description="Samples per transaction and event")
    max_reported_errors: int = Field(default=1000, ge=1, description="Per-file errors kept on an import task")
    task_stale_seconds: float = Field(
        default=300,
        gt=0,
        description="Lease of a task's runner: a running task whose lease was not renewed this long is resumed",
    )
    task_sweep_seconds: float = Field(
        default=30, gt=0, description="How often abandoned tasks are looked for"
    )

    # The data check's thresholds (Check Data): the guide's numbers. An operator may lower them, e.g. for a demo
    # on a few dozen images; a version that passes only thanks to that would fail the check on ModelArts.
    check_min_labeled_images: int = Field(
        default=GUIDE_THRESHOLDS.min_labeled_images,
        ge=1,
        description="Image classification: fewer labeled images fail the check",
    )
    check_min_detection_samples_per_class: int = Field(
        default=GUIDE_THRESHOLDS.min_detection_samples_per_class,
        ge=1,
        description="Object detection: a class with fewer labeled images fails the check",
    )
    check_min_table_records: int = Field(
        default=GUIDE_THRESHOLDS.min_table_records,
        ge=1,
        description="Tables: fewer distinct records fail the check (and are reported when a table arrives)",
    )
    check_min_sound_seconds_per_class: float = Field(
        default=GUIDE_THRESHOLDS.min_sound_seconds_per_class,
        ge=0,
        description="Sound: a class with less audio than this (seconds) is a warning",
    )

    @property
    def check_thresholds(self) -> CheckThresholds:
        return CheckThresholds(
            min_labeled_images=self.check_min_labeled_images,
            min_detection_samples_per_class=self.check_min_detection_samples_per_class,
            min_table_records=self.check_min_table_records,
            min_sound_seconds_per_class=self.check_min_sound_seconds_per_class,
        )
