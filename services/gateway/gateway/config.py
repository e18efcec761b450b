"""Settings of the gateway service (env prefix ``EXEML_GATEWAY_``, then ``EXEML_``)."""

from typing import ClassVar

from pydantic import Field, SecretStr

from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: ClassVar[str] = "gateway"

    bootstrap_api_key: SecretStr | None = Field(default=None, description="First admin API key, registered at start")
