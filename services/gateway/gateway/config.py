"""Settings of the gateway service (env prefix ``EXEML_GATEWAY_``, then ``EXEML_``)."""

from typing import ClassVar

from pydantic import Field, SecretStr

from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: ClassVar[str] = "gateway"

    dataset_url: str | None = Field(default=None, description="Base URL of the dataset service (distributed mode)")
    labeling_url: str | None = Field(default=None, description="Base URL of the labeling service")
    trainer_url: str | None = Field(default=None, description="Base URL of the trainer service")
    registry_url: str | None = Field(default=None, description="Base URL of the registry service")
    inference_url: str | None = Field(default=None, description="Base URL of the inference service")
    workflow_url: str | None = Field(default=None, description="Base URL of the workflow service")
    bootstrap_api_key: SecretStr | None = Field(default=None, description="First admin API key, registered at start")
    request_timeout_seconds: float = Field(default=60.0, gt=0)
