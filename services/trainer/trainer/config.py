"""Settings of the trainer service (env prefix ``EXEML_TRAINER_``, then ``EXEML_``)."""

from pathlib import Path
from typing import ClassVar

from pydantic import Field

from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: ClassVar[str] = "trainer"

    @property
    def runs_training_worker(self) -> bool:
        return self.is_embedded if self.in_process_worker is None else self.in_process_worker

    in_process_worker: bool | None = Field(
        default=None,
        description="Run the training worker inside the service runtime (default: in the embedded mode only; "
        "the distributed mode runs `python -m trainer.worker`)",
    )
    worker_flavors: list[str] = Field(default=["cpu"], description="Job queues this worker serves (cpu, gpu)")
    worker_id: str | None = Field(
        default=None, description="Name of this worker in leases (default host:pid)"
    )
    worker_poll_seconds: float = Field(
        default=1.0, gt=0, description="How often an idle worker asks for a job"
    )
    work_dir: Path | None = Field(default=None, description="Scratch space of training runs (default: tmp)")

    lease_seconds: float = Field(
        default=60.0, gt=0, description="A claimed job is the worker's for this long"
    )
    heartbeat_seconds: float = Field(default=5.0, gt=0, description="How often a worker renews its lease")
    sweep_seconds: float = Field(default=15.0, gt=0, description="How often expired leases are looked for")
    redispatch_pending_seconds: float = Field(
        default=300.0, gt=0, description="A job pending this long gets its job message re-sent (safety net)"
    )
    max_attempts: int = Field(default=3, ge=1, le=20, description="Runs of one job before it is abnormal")
    packaging_margin_seconds: float = Field(
        default=10.0, ge=0, description="Part of the budget kept for final fit, export and evaluation"
    )
    kill_grace_seconds: float = Field(
        default=30.0, gt=0, description="After the budget, how long a run may still take before it is killed"
    )
    logs_tail_lines: int = Field(default=200, ge=10, le=10000, description="Log lines kept per job")

    budget_cap_seconds: float | None = Field(
        default=None,
        gt=0,
        description="Upper bound on every job's time budget in seconds (a demo or CI installation keeps "
        "jobs short; a job's max_training_duration stays validated as 6-6000 minutes); unset: no bound",
    )
