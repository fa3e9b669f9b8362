from __future__ import annotations

import pytest

from studies.models import region_for
from tests.factories import StudyFactory


@pytest.mark.parametrize(
    ("countries", "is_global", "region"),
    [
        (["KE", "UG"], False, "Africa"),
        (["MM"], False, "Asia"),
        (["RU", "UA"], False, "Europe"),
        (["CY"], False, "Asia"),  # M49 puts Cyprus in Western Asia
        (["BR", "US"], False, "Americas"),
        (["FJ"], False, "Oceania"),
        (["DZ", "UA", "JO"], False, "Global"),  # several regions
        (["KE"], True, "Global"),  # a global study
        ([], False, ""),
    ],
)
def test_region_follows_un_m49(countries: list[str], is_global: bool, region: str) -> None:
    assert region_for(countries, is_global=is_global) == region


@pytest.mark.django_db
def test_region_is_derived_on_save() -> None:
    study = StudyFactory(countries=["KE"])
    assert study.region == "Africa"
    study.countries = ["KE", "VN"]
    study.save()
    study.refresh_from_db()
    assert study.region == "Global"
