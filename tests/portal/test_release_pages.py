"""The pages and API of releases: what changed, citations, feeds and the home page."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime

import pytest
import rispy
from django.test import Client
from django.urls import reverse

from evidence.releases.services import release_map
from tests.conftest import grant
from tests.evidence import test_release_compare as compare_tests
from tests.evidence.test_release_compare import Small, _study
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ATOM = "{http://www.w3.org/2005/Atom}"

# The small map of the comparison's tests.
small = compare_tests.small


@pytest.fixture
def two(small: Small) -> Small:
    """Release 1; a study in the gap cell; a renamed outcome; release 2."""
    small.map.organisation = "Centre for Evidence & Rights"
    small.map.update_plan = "Searched again **every year**."
    small.map.save()
    release_map(evidence_map=small.map, user=None, notes="first")
    small.added = _study(small.map, small.i1, small.o2, 0.5)  # type: ignore[attr-defined]
    small.o1.name = "Knowledge of rights"
    small.o1.save()
    release_map(evidence_map=small.map, user=None, notes="second")
    return small


def _url(name: str, small: Small, **kwargs: object) -> str:
    return reverse(name, kwargs={"slug": small.map.slug, **kwargs})


def test_compare_page_lists_the_changes_with_links(client: Client, two: Small) -> None:
    response = client.get(_url("portal:release_compare", two) + "?from=1&to=2")
    assert response.status_code == 200
    html = response.content.decode()
    assert "What changed from release 1 to release 2" in html
    assert "1 study added" in html and "0 studies re-coded" in html and "1 framework change" in html
    added = two.added  # type: ignore[attr-defined]
    assert f'href="/maps/{two.map.slug}/releases/2/studies/{added.pk}/"' in html
    assert f'href="/maps/{two.map.slug}/releases/2/cells/{two.i1.pk}/{two.o2.pk}/"' in html
    assert "gap → Large effect" in html.replace("<strong>", "").replace("</strong>", "")
    assert "(was “Knowledge”)" in html
    # Without parameters: the latest release against the one before.
    assert client.get(_url("portal:release_compare", two)).content.decode().count("1 study added") == 1


def test_compare_page_bad_parameters(client: Client, two: Small) -> None:
    for query, field in (("?from=x", "from"), ("?from=2&to=1", "from"), ("?to=9", "to"), ("?to=working", "to")):
        response = client.get(_url("portal:release_compare", two) + query)
        assert response.status_code == 400, query
        assert f"<code>{field}</code>" in response.content.decode()


def test_members_compare_with_the_working_copy(client: Client, two: Small) -> None:
    user = UserFactory()
    grant(user, two.map, "reviewer")
    client.force_login(user)
    _study(two.map, two.i1, two.o1, 0.7)
    response = client.get(_url("portal:release_compare", two) + "?to=working")
    assert response.status_code == 200
    html = response.content.decode()
    assert "from release 2 to the working copy" in html and "1 study added" in html


def test_api_compare(client: Client, two: Small) -> None:
    url = reverse("api:release-compare", kwargs={"slug": two.map.slug})
    data = client.get(url, {"from": 1, "to": 2}).json()
    assert (data["from"], data["to"]) == (1, 2)
    assert data["counts"]["studies_added"] == 1 and data["counts"]["framework"] == 1
    assert [s["id"] for s in data["studies_added"]] == [two.added.pk]  # type: ignore[attr-defined]
    (cell,) = data["cells"]
    assert cell["status"] == "gap_to_evidence" and cell["label"] == {"before": "gap", "after": "Large effect"}
    assert cell["n_studies"] == {"before": 0, "after": 1}
    assert data["framework"][0]["before"] == "Knowledge"
    bad = client.get(url, {"from": 1, "since": 2})
    assert bad.status_code == 400 and "since" in bad.json()["error"]["fields"]
    working = client.get(url, {"to": "working"})
    assert working.status_code == 400 and "to" in working.json()["error"]["fields"]


def test_changes_json_for_the_map_page(client: Client, two: Small) -> None:
    data = client.get(_url("portal:map_changes", two)).json()  # anonymous: the latest release
    assert (data["since"], data["release"]) == (1, 2)
    assert [(c["i"], c["o"], c["status"]) for c in data["cells"]] == [(two.i1.pk, two.o2.pk, "gap_to_evidence")]
    first = client.get(f"/maps/{two.map.slug}/releases/1/changes.json").json()
    assert first == {"since": None, "release": 1, "cells": []}
    page = client.get(_url("portal:map", two) + "?changes=previous").content.decode()
    assert 'id="show-changes" checked' in page and "portal/js/map_changes.js" in page


def test_release_citation_formats(client: Client, two: Small) -> None:
    page = client.get(_url("portal:release_cite", two, number=2))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Centre for Evidence &amp; Rights. (" in text and "(Release 2, " in text
    assert f"http://testserver/maps/{two.map.slug}/releases/2/" in text

    bib = client.get(_url("portal:release_cite_bib", two, number=2))
    assert bib["Content-Type"] == "application/x-bibtex; charset=utf-8"
    assert "attachment" in bib["Content-Disposition"]
    entry = bib.content.decode()
    assert re.fullmatch(r"@misc\{[a-z0-9-]+,\n(  [a-z]+ = \{.*\},?\n)+\}\n", entry), entry
    assert entry.count("{") == entry.count("}")
    assert r"author = {{Centre for Evidence \& Rights}}" in entry and "version = {2}" in entry

    ris = client.get(_url("portal:release_cite_ris", two, number=2))
    assert ris["Content-Type"] == "application/x-research-info-systems; charset=utf-8"
    (record,) = rispy.loads(ris.content.decode())
    assert record["type_of_reference"] == "DATA"
    assert record["authors"] == ["Centre for Evidence & Rights"]
    assert record["title"] == two.map.title and record["edition"] == "Release 2"
    assert record["urls"] == [f"http://testserver/maps/{two.map.slug}/releases/2/"]


def test_cell_citation_in_a_release(client: Client, two: Small) -> None:
    cell = f"/maps/{two.map.slug}/releases/1/cells/{two.i1.pk}/{two.o1.pk}/"
    html = client.get(cell).content.decode()
    assert "How to cite this cell" in html
    # Release 1 still calls the outcome by its old name.
    assert "Training × Knowledge. In " in html and f"http://testserver{cell}" in html
    ris = client.get(_url("portal:release_cite_ris", two, number=1), {"intervention": two.i1.pk, "outcome": two.o1.pk})
    (record,) = rispy.loads(ris.content.decode())
    assert record["title"] == "Training × Knowledge" and record["secondary_title"] == two.map.title
    assert record["urls"] == [f"http://testserver{cell}"]
    missing = client.get(_url("portal:release_cite_ris", two, number=1), {"intervention": 999999, "outcome": 1})
    assert missing.status_code == 404


def _check_atom(body: bytes) -> ET.Element:
    """RFC 4287's requirements: the feed and every entry have an id, a title and an updated
    date (RFC 3339); entries have a link (alternate) and some content or summary."""
    feed = ET.fromstring(body)
    assert feed.tag == f"{ATOM}feed"
    for element in (feed, *feed.findall(f"{ATOM}entry")):
        for name in ("id", "title", "updated"):
            found = element.findall(f"{ATOM}{name}")
            assert len(found) == 1 and (found[0].text or "").strip(), name
        datetime.fromisoformat(element.findtext(f"{ATOM}updated") or "")
    for entry in feed.findall(f"{ATOM}entry"):
        links = [link for link in entry.findall(f"{ATOM}link") if link.get("rel", "alternate") == "alternate"]
        assert links and links[0].get("href")
        assert entry.find(f"{ATOM}summary") is not None or entry.find(f"{ATOM}content") is not None
    ids = [e.findtext(f"{ATOM}id") for e in feed.findall(f"{ATOM}entry")]
    assert len(ids) == len(set(ids))
    return feed


def test_map_feed_is_atom(client: Client, two: Small) -> None:
    response = client.get(_url("portal:release_feed", two))
    assert response["Content-Type"].startswith("application/atom+xml")
    feed = _check_atom(response.content)
    entries = feed.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}title") for e in entries] == [
        f"{two.map.title}: release 2", f"{two.map.title}: release 1"
    ]
    assert entries[0].find(f"{ATOM}link").get("href").endswith(f"/maps/{two.map.slug}/releases/2/")  # type: ignore[union-attr]
    assert entries[0].findtext(f"{ATOM}author/{ATOM}name") == "Centre for Evidence & Rights"


def test_site_feed_is_atom_and_leaves_out_unpublished_maps(client: Client, two: Small) -> None:
    feed = _check_atom(client.get(reverse("portal:all_releases_feed")).content)
    assert len(feed.findall(f"{ATOM}entry")) == 2
    two.map.is_published = False
    two.map.save()
    assert not _check_atom(client.get(reverse("portal:all_releases_feed")).content).findall(f"{ATOM}entry")


def test_home_shows_latest_release_and_update_plan(client: Client, two: Small) -> None:
    html = client.get(reverse("portal:home")).content.decode()
    assert "Latest release:" in html and f'href="/maps/{two.map.slug}/releases/2/">release 2</a>' in html
    assert "<strong>every year</strong>" in html
    assert reverse("portal:all_releases_feed") in html
