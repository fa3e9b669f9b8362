"""Reading releases on the public pages and downloads: a release never changes, readers see the
latest release, members the working copy with a notice."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from evidence.models import CellSummary, Code, EvidenceMap, Intervention, Outcome
from evidence.releases import store
from evidence.releases.services import release_map
from studies.models import AppraisalItem, EffectSize, Status, Study
from tests.conftest import grant
from tests.factories import StudyFactory, UserFactory
from tests.portal.test_pages import example_cell

pytestmark = pytest.mark.django_db(transaction=False)


@pytest.fixture(autouse=True)
def release_cache(settings: Any, tmp_path: Any) -> Iterator[None]:
    settings.RELEASE_CACHE_DIR = tmp_path / "releases"
    yield
    store.forget_all()


def _stable(body: bytes) -> bytes:
    """The body without what differs per request (the CSRF token of a form)."""
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]*"', b"", body)


def release_urls(demo_map: EvidenceMap, prefix: str) -> list[str]:
    """Every page and download of the map, under `prefix` (the map's URL or a release's)."""
    intervention, outcome = example_cell(demo_map)
    study = Study.objects.published().filter(evidence_map=demo_map, interventions=intervention).first()
    assert study is not None
    cell = f"cells/{intervention.pk}/{outcome.pk}/"
    return [
        prefix,
        f"{prefix}?design=rct",
        f"{prefix}data.json",
        f"{prefix}data.json?region=Africa&q=human",
        f"{prefix}methods/",
        f"{prefix}{cell}",
        f"{prefix}{cell}?design=rct",
        f"{prefix}{cell}effect-sizes.csv",
        f"{prefix}studies/{study.pk}/",
        f"{prefix}studies.csv",
        f"{prefix}studies.csv?design=rct",
        f"{prefix}studies.ris",
        f"{prefix}eppi.json",
    ]


def _bodies(client: Client, urls: list[str]) -> dict[str, bytes]:
    found = {}
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        found[url] = _stable(b"".join(response.streaming_content) if response.streaming else response.content)
    return found


def change_everything(demo_map: EvidenceMap) -> None:
    """Edit, delete and add studies, effect sizes, codings, framework names and settings."""
    studies = list(Study.objects.published().filter(evidence_map=demo_map).order_by("pk"))
    edited, deleted = studies[0], studies[1]
    Study.objects.filter(pk=edited.pk).update(title="A new title", year=2001)
    edited.refresh_from_db()
    edited.interventions.clear()
    EffectSize.objects.filter(study=studies[2]).update(g=0.9, ci_low_g=0.5, ci_high_g=1.3)
    AppraisalItem.objects.filter(study=studies[3]).delete()
    code = Code.objects.filter(code_set__evidence_map=demo_map).first()
    if code is not None:
        studies[3].codes.add(code)
    deleted.delete()
    StudyFactory(evidence_map=demo_map, status=Status.PUBLISHED, title="Added after the release")
    intervention, _ = example_cell(demo_map)
    Intervention.objects.filter(pk=intervention.pk).update(name="Renamed")
    Outcome.objects.filter(evidence_map=demo_map, parent__isnull=True).update(description="Changed")
    CellSummary.objects.filter(evidence_map=demo_map).update(headline="Changed headline")
    EvidenceMap.objects.filter(pk=demo_map.pk).update(
        title="Retitled", pooling_method="DL", within_study_correlation=0.5, version=demo_map.version + 7,
    )


def test_nothing_after_a_release_changes_it(client: Client, demo_map: EvidenceMap) -> None:
    release = release_map(evidence_map=demo_map, user=None, notes="First.")
    prefix = f"/maps/{demo_map.slug}/releases/{release.number}/"
    urls = release_urls(demo_map, prefix)
    before = _bodies(client, urls)
    latest_urls = release_urls(demo_map, f"/maps/{demo_map.slug}/")[:8]
    latest_before = _bodies(client, latest_urls)
    deleted_study = urls[8]

    change_everything(demo_map)
    store.forget_all()  # as a new worker would: materialised again from the document

    assert _bodies(client, urls) == before
    assert client.get(deleted_study).status_code == 200
    # Anonymous readers of the map's own URLs read the latest release: unchanged too.
    assert _bodies(client, latest_urls) == latest_before
    # The working copy did change.
    member = UserFactory(username="viewer")
    grant(member, demo_map, "viewer")
    client.force_login(member)
    working = client.get(f"/maps/{demo_map.slug}/").content.decode()
    assert "Retitled" in working and "Unreleased working copy" in working


def test_release_pages_link_within_the_release(client: Client, demo_map: EvidenceMap) -> None:
    release_map(evidence_map=demo_map, user=None, notes="")
    page = client.get(f"/maps/{demo_map.slug}/releases/1/").content.decode()
    assert "Release 1 of" in page
    assert f'data-data-url="/maps/{demo_map.slug}/releases/1/data.json"' in page
    assert f'href="/maps/{demo_map.slug}/releases/"' in page
    data = client.get(f"/maps/{demo_map.slug}/releases/1/data.json").json()
    assert data["urls"]["studies_csv"].startswith(f"/maps/{demo_map.slug}/releases/1/studies.csv")


def test_anonymous_readers_see_the_latest_release(client: Client, demo_map: EvidenceMap) -> None:
    before = client.get(f"/maps/{demo_map.slug}/").content.decode()
    assert "Release" not in before.split("<main", 1)[1][:300]  # no release yet: the live map
    release_map(evidence_map=demo_map, user=None, notes="")
    EvidenceMap.objects.filter(pk=demo_map.pk).update(title="Working title")
    page = client.get(f"/maps/{demo_map.slug}/").content.decode()
    assert "Working title" not in page and "Release 1 of" in page
    release_map(evidence_map=demo_map, user=None, notes="")
    page = client.get(f"/maps/{demo_map.slug}/").content.decode()
    assert "Working title" in page and "Release 2 of" in page


def test_members_read_the_working_copy(client: Client, demo_map: EvidenceMap) -> None:
    release_map(evidence_map=demo_map, user=None, notes="")
    EvidenceMap.objects.filter(pk=demo_map.pk).update(title="Working title")
    member = UserFactory(username="reviewer-of-map")
    grant(member, demo_map, "reviewer")
    client.force_login(member)
    for url in (f"/maps/{demo_map.slug}/", f"/maps/{demo_map.slug}/methods/"):
        page = client.get(url).content.decode()
        assert "Working title" in page
        assert "Unreleased working copy" in page
        assert f'href="/maps/{demo_map.slug}/releases/1/"' in page
    # and any release by its URL
    assert "Working title" not in client.get(f"/maps/{demo_map.slug}/releases/1/").content.decode()
    # someone signed in without a role reads the release
    client.force_login(UserFactory(username="stranger"))
    assert "Working title" not in client.get(f"/maps/{demo_map.slug}/").content.decode()


def test_unknown_release_is_404(client: Client, demo_map: EvidenceMap) -> None:
    assert client.get(f"/maps/{demo_map.slug}/releases/1/").status_code == 404
    release_map(evidence_map=demo_map, user=None, notes="")
    assert client.get(f"/maps/{demo_map.slug}/releases/2/").status_code == 404
    assert client.get(f"/maps/{demo_map.slug}/releases/1/studies/999999/").status_code == 404
    assert client.get("/maps/no-such-map/releases/1/").status_code == 404


def test_release_of_an_unpublished_map_is_hidden(client: Client, demo_map: EvidenceMap) -> None:
    release_map(evidence_map=demo_map, user=None, notes="")
    EvidenceMap.objects.filter(pk=demo_map.pk).update(is_published=False)
    assert client.get(f"/maps/{demo_map.slug}/releases/1/").status_code == 404
    assert client.get(f"/maps/{demo_map.slug}/").status_code == 404


def test_release_list(client: Client, demo_map: EvidenceMap) -> None:
    release_map(evidence_map=demo_map, user=None, notes="The *first* one.")
    release_map(evidence_map=demo_map, user=None, notes="Second.")
    page = client.get(reverse("portal:releases", kwargs={"slug": demo_map.slug})).content.decode()
    assert page.index("Release 2</a>") < page.index("Release 1</a>")
    assert "<em>first</em>" in page
    assert f'href="/maps/{demo_map.slug}/releases/1/"' in page
