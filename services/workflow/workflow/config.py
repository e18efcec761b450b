"""Settings of the workflow service (env prefix ``EXEML_WORKFLOW_``, then ``EXEML_``)."""

from typing import ClassVar

from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: ClassVar[str] = "workflow"
