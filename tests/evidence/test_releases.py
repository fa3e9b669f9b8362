"""Releases: the snapshot document, its encoding, and making a release."""

from __future__ import annotations

import gzip
import hashlib
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from evidence.models import EvidenceMap, Release
from evidence.releases import snapshot
from evidence.releases.services import release_map
from studies.models import EffectSize, Status, Study
from tests.conftest import grant
from tests.factories import EvidenceMapFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_document_holds_what_readers_see(demo_map: EvidenceMap) -> None:
    draft = Study.objects.filter(evidence_map=demo_map).first()
    assert draft is not None
    Study.objects.filter(pk=draft.pk).update(status=Status.DRAFT)
    document = snapshot.build_document(demo_map)
    published = Study.objects.published().filter(evidence_map=demo_map)
    assert document["format"] == snapshot.FORMAT_VERSION
    assert document["map"]["pk"] == demo_map.pk
    assert document["map"]["fields"]["slug"] == demo_map.slug
    assert sorted(row["pk"] for row in document["studies"]) == sorted(published.values_list("pk", flat=True))
    assert draft.pk not in {row["pk"] for row in document["studies"]}
    assert {row["pk"] for row in document["effect_sizes"]} == set(
        EffectSize.objects.filter(study__in=published).values_list("pk", flat=True)
    )
    study = published.first()
    assert study is not None
    row = next(r for r in document["studies"] if r["pk"] == study.pk)
    assert sorted(row["fields"]["interventions"]) == sorted(study.interventions.values_list("pk", flat=True))
    assert "created_by" not in row["fields"]
    assert row["fields"]["title"] == study.title
    assert document["cells"], "the demo map has pooled cells"
    key, cell = next(iter(document["cells"].items()))
    assert key == f"{cell['intervention_id']}/{cell['outcome_id']}"
    parents = {r["pk"] for r in document["outcomes"][:0]}
    for node in document["outcomes"]:  # parents come first
        assert node["fields"]["parent"] is None or node["fields"]["parent"] in parents
        parents.add(node["pk"])


def test_encoding_is_canonical_and_round_trips(demo_map: EvidenceMap) -> None:
    document = snapshot.build_document(demo_map)
    data = snapshot.encode(document)
    assert data == snapshot.encode(snapshot.decode(data))
    text = gzip.decompress(data).decode()
    assert text.startswith('{"appraisal_items":[') and "\n" not in text  # sorted keys, no whitespace
    assert snapshot.decode(data)["map"]["pk"] == demo_map.pk
    assert snapshot.encode(document) == data  # no timestamp in the gzip header


def test_release_numbers_and_stores_the_document(demo_map: EvidenceMap, admin_user: object) -> None:
    first = release_map(evidence_map=demo_map, user=admin_user, notes="First release.")
    second = release_map(evidence_map=demo_map, user=None, notes="Second.")
    assert (first.number, second.number) == (1, 2)
    assert first.released_by == admin_user and second.released_by is None
    assert first.document_sha256 == hashlib.sha256(bytes(first.document)).hexdigest()
    assert first.size_bytes == len(bytes(first.document))
    assert first.n_studies == Study.objects.published().filter(evidence_map=demo_map).count()
    assert first.n_effect_sizes > 0 and first.n_cells > 0
    assert list(demo_map.releases.values_list("number", flat=True)) == [2, 1]


def test_a_release_is_immutable(demo_map: EvidenceMap) -> None:
    release = release_map(evidence_map=demo_map, user=None, notes="")
    release.notes = "changed"
    with pytest.raises(ValidationError):
        release.save()
    with pytest.raises(ValidationError):
        release.delete()
    with pytest.raises(ValidationError):
        Release.objects.all().delete()
    assert Release.objects.get(pk=release.pk).notes == ""


def test_a_release_goes_only_with_its_map() -> None:
    evidence_map = EvidenceMapFactory(is_published=True)
    release_map(evidence_map=evidence_map, user=None, notes="")
    evidence_map.delete()
    assert not Release.objects.exists()


def test_only_publishers_release(demo_map: EvidenceMap) -> None:
    editor = UserFactory(username="ed")
    grant(editor, demo_map, "editor")
    with pytest.raises(PermissionDenied):
        release_map(evidence_map=demo_map, user=editor, notes="")
    grant(editor, demo_map, "publisher")
    assert release_map(evidence_map=demo_map, user=editor, notes="").number == 1


def test_search_dates_must_be_ordered(demo_map: EvidenceMap) -> None:
    import datetime

    with pytest.raises(ValidationError):
        release_map(
            evidence_map=demo_map, user=None, notes="",
            search_from=datetime.date(2024, 1, 2), search_to=datetime.date(2024, 1, 1),
        )
    assert not Release.objects.exists()


def test_an_unpublished_map_is_not_released(demo_map: EvidenceMap) -> None:
    EvidenceMap.objects.filter(pk=demo_map.pk).update(is_published=False)
    with pytest.raises(ValidationError, match="not published"):
        release_map(evidence_map=demo_map, user=None, notes="")


def test_release_map_command(demo_map: EvidenceMap) -> None:
    from io import StringIO

    from django.core.management import CommandError, call_command

    out = StringIO()
    call_command("release_map", demo_map.slug, "--notes", "From the shell.", "--search-from", "2000-01-01",
                 "--search-to", "2024-06-30", stdout=out)
    release = Release.objects.get()
    assert (release.number, release.notes, str(release.search_to)) == (1, "From the shell.", "2024-06-30")
    assert f"/maps/{demo_map.slug}/releases/1/" in out.getvalue()
    UserFactory(username="nobody")
    with pytest.raises(CommandError, match="publisher role"):
        call_command("release_map", demo_map.slug, "--notes", "x", "--user", "nobody")
    with pytest.raises(CommandError, match="not a date"):
        call_command("release_map", demo_map.slug, "--notes", "x", "--search-to", "June")
    with pytest.raises(CommandError, match="no map"):
        call_command("release_map", "nope", "--notes", "x")
    assert Release.objects.count() == 1


def test_admin_release_action(client: Any, demo_map: EvidenceMap, member: Any) -> None:
    from django.urls import reverse

    url = reverse("admin:evidence_evidencemap_changelist")
    editor = member("editor", demo_map)
    client.force_login(editor)
    response = client.post(url, {"action": "release", "_selected_action": [demo_map.pk]})
    assert response.status_code == 200 and not Release.objects.exists()  # no such action for an editor
    publisher = member("publisher", demo_map)
    client.force_login(publisher)
    page = client.post(url, {"action": "release", "_selected_action": [demo_map.pk]})
    assert page.status_code == 200 and b"next release: 1" in page.content
    done = client.post(url, {"action": "release", "_selected_action": [demo_map.pk], "apply": "1",
                             "notes": "From the admin.", "search_from": "2000-01-01", "search_to": ""})
    assert done.status_code == 302
    release = Release.objects.get()
    assert (release.notes, release.released_by, str(release.search_from)) == ("From the admin.", publisher, "2000-01-01")
    view = client.get(reverse("admin:evidence_release_change", args=[release.pk]))
    assert view.status_code == 200 and b"From the admin." in view.content and b'name="_save"' not in view.content
