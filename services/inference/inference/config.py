"""Settings of the inference service (env prefix ``EXEML_INFERENCE_``, then ``EXEML_``)."""

from typing import ClassVar

from pydantic import Field

from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: ClassVar[str] = "inference"

    triton_url: str | None = Field(default=None, description="host:port of Triton's HTTP endpoint")
