"""Settings of the registry service (env prefix ``EXEML_REGISTRY_``, then ``EXEML_``)."""

from typing import ClassVar

from pydantic import Field

from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: ClassVar[str] = "registry"

    max_package_bytes: int = Field(
        default=512 * 1024 * 1024,
        ge=1024,
        description="Largest model package accepted by upload (packed and unpacked)",
    )
