"""Settings of the registry service (env prefix ``EXEML_REGISTRY_``, then ``EXEML_``)."""

from typing import ClassVar


from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: ClassVar[str] = "registry"
