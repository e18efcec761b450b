"""Settings of the workflow service (env prefix ``EXEML_WORKFLOW_``, then ``EXEML_``)."""

from typing import ClassVar

from pydantic import Field

from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: ClassVar[str] = "workflow"

    gpu_available: bool = Field(
        default=False,
        description="The installation has GPU training workers and GPU inference (EXEML_GPU_AVAILABLE, as the "
        "inference service reads it): GPU flavors and specifications are offered",
    )
