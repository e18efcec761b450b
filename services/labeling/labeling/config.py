"""Settings of the labeling service (env prefix ``EXEML_LABELING_``, then ``EXEML_``)."""

from typing import ClassVar

from pydantic import Field

from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: ClassVar[str] = "labeling"

    prelabel_poll_seconds: float = Field(
        default=1.0, gt=0, description="How often pending pre-label tasks are looked for"
    )
    prelabel_min_box_score: float = Field(
        default=0.3, ge=0, le=1, description="Boxes below this score are not suggested"
    )
