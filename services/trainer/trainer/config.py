"""Settings of the trainer service (env prefix ``EXEML_TRAINER_``, then ``EXEML_``)."""

from typing import ClassVar

from pydantic import Field

from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: ClassVar[str] = "trainer"

    worker_flavors: list[str] = Field(default=["cpu"], description="Job queues this worker serves (cpu, gpu)")
