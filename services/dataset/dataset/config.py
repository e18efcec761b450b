"""Settings of the dataset service (env prefix ``EXEML_DATASET_``, then ``EXEML_``)."""

from typing import ClassVar


from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: ClassVar[str] = "dataset"
