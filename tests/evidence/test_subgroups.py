""""Why do the studies differ?" on the demo's cells: the page, the API and the rules."""

from __future__ import annotations

import pytest
from django.urls import reverse

from evidence.models import Intervention, Outcome
from interchange.demo import DIPLOMACY, POLITICAL_SECURITY, TREATIES

pytestmark = pytest.mark.django_db


def _kwargs(demo_map, intervention: str, outcome: str) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {
        "slug": demo_map.slug,
        "intervention_id": Intervention.objects.get(evidence_map=demo_map, name=intervention).pk,
        "outcome_id": Outcome.objects.get(evidence_map=demo_map, name=outcome).pk,
    }


def test_api_cell_compares_designs_and_years(client, demo_map) -> None:  # type: ignore[no-untyped-def]
    url = reverse("api:cell", kwargs=_kwargs(demo_map, *TREATIES))
    differ = client.get(url).json()["differ"]
    assert differ["factor"] == "design" and differ["shown"] is True
    pooled = [level for level in differ["levels"] if level["included"]]
    assert sorted(level["n_studies"] for level in pooled) == [2, 3, 4]
    assert [level["included"] for level in differ["levels"]].count(False) == 3
    assert differ["test"].startswith("test of subgroup differences")
    assert 0.0 <= differ["p_value"] <= 1.0 and differ["df"] == 2
    assert {"value": "year", "name": "Publication year"} in differ["choices"]
    trend = client.get(url, {"differ": "year"}).json()["differ"]
    assert trend["kind"] == "trend" and trend["shown"] is True
    assert trend["slope_ci_low"] < trend["slope"] < trend["slope_ci_high"]
    assert "Each ten years later" in trend["text"]


def test_too_few_studies_says_why(client, demo_map) -> None:  # type: ignore[no-untyped-def]
    url = reverse("portal:cell", kwargs=_kwargs(demo_map, DIPLOMACY, POLITICAL_SECURITY))
    html = client.get(url, {"differ": "region"}).content.decode()
    assert "Why do the studies differ?" in html
    assert "Not enough data to compare groups by region" in html
    assert 'option value="region" selected' in html


def test_unknown_characteristic_falls_back_to_design(client, demo_map) -> None:  # type: ignore[no-untyped-def]
    url = reverse("portal:cell", kwargs=_kwargs(demo_map, *TREATIES))
    html = client.get(url, {"differ": "nonsense"}).content.decode()
    assert 'option value="design" selected' in html
    assert "id=\"subgroup-plot\"" in html
