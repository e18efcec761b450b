"""Settings of the labeling service (env prefix ``EXEML_LABELING_``, then ``EXEML_``)."""

from typing import ClassVar

from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: ClassVar[str] = "labeling"
