"""Each service README's API and event tables are the ones its code declares (regenerate them with
``python -m shared.service.readme``)."""

import pytest

from shared.service import PLATFORM_SERVICES
from shared.service.readme import stale_sections


@pytest.mark.parametrize("service", PLATFORM_SERVICES)
def test_readme_tables_are_current(service: str) -> None:
    assert stale_sections(service) == [], (
        f"stale README tables of {service}: run python -m shared.service.readme"
    )
