"""Map versions move with every write readers can see (drafts move only the members'), and the
map's data.json is cached under them: served from the cache, invalidated by each kind of
write, computed once for concurrent first requests, answered 304 when unchanged."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from evidence import versions
from evidence.models import CellSummary, EvidenceMap, Intervention, Outcome
from studies import services
from studies.models import EffectSize, Status, Study
from tests.factories import EffectSizeFactory, StudyFactory

pytestmark = pytest.mark.django_db

SLUG = "human-rights-diplomacy"


def versions_of(evidence_map: EvidenceMap) -> tuple[int, int]:
    evidence_map.refresh_from_db(fields=["version", "members_version"])
    return evidence_map.version, evidence_map.members_version


def moved(evidence_map: EvidenceMap, write: Any) -> tuple[bool, bool]:
    """(version moved, members_version moved) by `write()`."""
    before = versions_of(evidence_map)
    write()
    after = versions_of(evidence_map)
    return after[0] != before[0], after[1] != before[1]


def test_each_kind_of_write_moves_the_right_version(demo_map: EvidenceMap, reviewer: Any) -> None:
    published = Study.objects.filter(evidence_map=demo_map, status=Status.PUBLISHED).first()
    draft = Study.objects.get(evidence_map=demo_map, status=Status.DRAFT)
    node = Intervention.objects.filter(evidence_map=demo_map).first()
    outcome = Outcome.objects.filter(evidence_map=demo_map, parent__isnull=False).first()
    assert published and node and outcome

    # Drafts: reviewers' version only.
    assert moved(demo_map, lambda: services.study_update(study=draft, user=reviewer, data={"title": "Edited"})) \
        == (False, True)
    draft_es = EffectSize.objects.filter(study=draft).first()
    if draft_es is not None:
        assert moved(demo_map, lambda: services.effect_size_update(
            effect_size=draft_es, user=reviewer, data={"label": "edited draft"})) == (False, True)
    # Published data, the framework, summaries and the map's settings: every reader's.
    assert moved(demo_map, lambda: services.study_update(
        study=published, user=reviewer, data={"title": "A new title"})) == (True, True)
    es = EffectSize.objects.filter(study=published).first()
    assert es is not None
    assert moved(demo_map, lambda: services.effect_size_update(
        effect_size=es, user=reviewer, data={"label": "relabelled"})) == (True, True)
    assert moved(demo_map, lambda: published.outcomes.add(outcome)) == (True, True)
    node.description = "Changed"
    assert moved(demo_map, lambda: services.save_validated(instance=node, user=reviewer)) == (True, True)
    demo_map.egger_min_k = 11
    assert moved(demo_map, lambda: services.save_validated(instance=demo_map, user=reviewer)) == (True, True)
    assert moved(demo_map, lambda: CellSummary.objects.create(
        evidence_map=demo_map, intervention=node, outcome=outcome, headline="New")) == (True, True)
    # Publishing and unpublishing are seen by readers.
    assert moved(demo_map, lambda: services.studies_set_status(
        studies=[draft], status=Status.PUBLISHED, user=reviewer)) == (True, True)
    assert moved(demo_map, lambda: services.studies_set_status(
        studies=[draft], status=Status.DRAFT, user=reviewer)) == (True, True)
    # Deleting.
    assert moved(demo_map, lambda: services.effect_size_delete(effect_size=es, user=reviewer)) == (True, True)
    assert moved(demo_map, lambda: services.delete_recorded(instance=published, user=reviewer)) == (True, True)


def test_the_admin_moves_the_version(client: Client, demo_map: EvidenceMap, admin_user: Any) -> None:
    client.force_login(admin_user)
    study = Study.objects.filter(evidence_map=demo_map, status=Status.PUBLISHED).first()
    assert study is not None
    url = reverse("admin:studies_study_changelist")
    assert moved(demo_map, lambda: client.post(url, {"action": "unpublish", "_selected_action": [study.pk]})) \
        == (True, True)


def data_json(client: Client, **headers: str) -> Any:
    return client.get(reverse("portal:map_data", kwargs={"slug": SLUG}), **headers)


def test_data_json_is_served_from_the_cache_until_a_write(client: Client, demo_map: EvidenceMap,
                                                          reviewer: Any) -> None:
    first = data_json(client)
    assert first.status_code == 200
    with CaptureQueriesContext(connection) as queries:
        again = data_json(client)
    assert again.content == first.content
    assert len(queries) == 1  # the map and its version; the document comes from the cache

    study = Study.objects.filter(evidence_map=demo_map, status=Status.PUBLISHED).first()
    assert study is not None
    services.studies_set_status(studies=[study], status=Status.DRAFT, user=reviewer)
    after = data_json(client)
    assert after.json()["totals"]["studies"] == first.json()["totals"]["studies"] - 1
    assert after["ETag"] != first["ETag"]


def test_validators_ignore_drafts_and_answer_304(client: Client, demo_map: EvidenceMap, reviewer: Any) -> None:
    first = data_json(client)
    tag = first["ETag"]
    assert data_json(client, HTTP_IF_NONE_MATCH=tag).status_code == 304
    draft = Study.objects.get(evidence_map=demo_map, status=Status.DRAFT)
    services.study_update(study=draft, user=reviewer, data={"title": "Draft edited again"})
    existing = EffectSize.objects.filter(study__evidence_map=demo_map).first()
    assert existing is not None
    EffectSizeFactory(study=draft, intervention=existing.intervention, outcome=existing.outcome)
    assert data_json(client, HTTP_IF_NONE_MATCH=tag).status_code == 304
    assert data_json(client)["ETag"] == tag
    # Filters are part of the tag.
    assert client.get(reverse("portal:map_data", kwargs={"slug": SLUG}), {"design": "rct"})["ETag"] != tag


def test_concurrent_first_requests_compute_once() -> None:
    calls: list[int] = []
    evidence_map = EvidenceMap(pk=987654, version=3)
    key = versions.cache_key("test", evidence_map, "q=x")

    def slow() -> str:
        calls.append(1)
        time.sleep(0.3)
        return "computed"

    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(versions.cached(key, slow))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["computed"] * 8
    assert len(calls) == 1


def test_a_failed_computation_lets_the_next_caller_compute() -> None:
    key = versions.cache_key("test", EvidenceMap(pk=987655, version=1))

    def broken() -> str:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        versions.cached(key, broken)
    assert versions.cached(key, lambda: "second try") == "second try"


def test_bulk_writes_bump_explicitly(demo_map: EvidenceMap) -> None:
    # Bulk operations send no signals: their callers bump (as the map generator does).
    before = versions_of(demo_map)
    Study.objects.filter(evidence_map=demo_map).update(population="changed in bulk")
    assert versions_of(demo_map) == before
    versions.bump(demo_map.pk)
    assert versions_of(demo_map) == (before[0] + 1, before[1] + 1)
    StudyFactory(evidence_map=demo_map, status=Status.DRAFT)
    assert versions_of(demo_map)[0] == before[0] + 1


def test_data_json_is_compressed_once_and_served_as_asked(client: Client, demo_map: EvidenceMap) -> None:
    import gzip as gzip_module

    plain = data_json(client)
    assert "Content-Encoding" not in plain
    packed = data_json(client, HTTP_ACCEPT_ENCODING="gzip, deflate")
    assert packed["Content-Encoding"] == "gzip" and "Accept-Encoding" in packed["Vary"]
    assert gzip_module.decompress(packed.content) == plain.content
    assert data_json(client, HTTP_ACCEPT_ENCODING="gzip", HTTP_IF_NONE_MATCH=packed["ETag"]).status_code == 304


def test_a_cell_is_computed_once_per_version(client: Client, demo_map: EvidenceMap, reviewer: Any) -> None:
    es = EffectSize.objects.filter(study__evidence_map=demo_map, study__status=Status.PUBLISHED).first()
    assert es is not None
    url = reverse("portal:cell", kwargs={"slug": SLUG, "intervention_id": es.intervention_id,
                                         "outcome_id": es.outcome_id})
    with CaptureQueriesContext(connection) as first_queries:
        first = client.get(url, {"design": es.study.design})
    with CaptureQueriesContext(connection) as again_queries:
        again = client.get(url, {"design": es.study.design})
    assert again.content == first.content
    # The membership's queries (framework, studies, codings, effect sizes, overrides) are gone.
    assert len(again_queries) <= len(first_queries) - 6
    services.effect_size_update(effect_size=es, user=reviewer, data={"es_value": 1.234})
    changed = client.get(url, {"design": es.study.design}).content.decode()
    assert "1.234" in changed


def test_writes_to_code_sets_codes_and_codings_move_the_version(demo_map: EvidenceMap, reviewer: Any) -> None:
    from evidence.models import Code, CodeSet

    code_set = CodeSet.objects.get(evidence_map=demo_map, slug="setting")
    code = Code.objects.filter(code_set=code_set, parent__isnull=False).first()
    published = Study.objects.filter(evidence_map=demo_map, status=Status.PUBLISHED).first()
    draft = Study.objects.get(evidence_map=demo_map, status=Status.DRAFT)
    assert code is not None and published is not None

    # The code set itself: created, changed (offered as a filter or not), deleted.
    language = CodeSet(evidence_map=demo_map, name="Language", slug="language")
    assert moved(demo_map, lambda: services.save_validated(instance=language, user=reviewer)) == (True, True)
    code_set.is_filter = False
    assert moved(demo_map, lambda: services.save_validated(instance=code_set, user=reviewer)) == (True, True)
    # Its codes: created, renamed, moved under another parent, deleted.
    english = Code(code_set=language, name="English")
    assert moved(demo_map, lambda: services.save_validated(instance=english, user=reviewer)) == (True, True)
    code.name = "Renamed"
    assert moved(demo_map, lambda: services.save_validated(instance=code, user=reviewer)) == (True, True)
    fresh = Code.objects.get(pk=code.pk)  # its set not loaded: the bump finds the map itself
    fresh.position = 9
    assert moved(demo_map, lambda: fresh.save()) == (True, True)
    # Codings, from the study's side and from the code's, through the service and directly.
    assert moved(demo_map, lambda: services.study_update(
        study=published, user=reviewer, data={"codes": [code, english]})) == (True, True)
    assert moved(demo_map, lambda: published.codes.remove(english)) == (True, True)
    assert moved(demo_map, lambda: Code.objects.get(pk=english.pk).studies.add(published)) == (True, True)
    assert moved(demo_map, lambda: published.codes.clear()) == (True, True)
    # A draft's codings move the reviewers' version only.
    assert moved(demo_map, lambda: draft.codes.add(code)) == (False, True)
    # Deleting a code (its codings go with it) and a whole set.
    assert moved(demo_map, lambda: services.delete_recorded(instance=english, user=reviewer)) == (True, True)
    assert moved(demo_map, lambda: services.delete_recorded(instance=code_set, user=reviewer)) == (True, True)
    # The segmenting code set is one of the map's settings.
    demo_map.refresh_from_db()
    demo_map.segment_code_set = language
    assert moved(demo_map, lambda: services.save_validated(instance=demo_map, user=reviewer)) == (True, True)


def test_data_json_follows_a_change_of_codes(client: Client, demo_map: EvidenceMap, reviewer: Any) -> None:
    from evidence.models import Code

    women = Code.objects.get(code_set__evidence_map=demo_map, name="Women and girls")
    url = reverse("portal:map_data", kwargs={"slug": SLUG})
    first = client.get(url, {"code": women.pk}).json()
    study = Study.objects.filter(evidence_map=demo_map, status=Status.PUBLISHED).exclude(codes=women).first()
    assert study is not None
    services.study_update(study=study, user=reviewer, data={"codes": [*study.codes.all(), women]})
    after = client.get(url, {"code": women.pk}).json()
    assert after["totals"]["studies"] == first["totals"]["studies"] + 1
    women.name = "Women"
    services.save_validated(instance=women, user=reviewer)
    assert "Women" in [c["name"] for c in client.get(url).json()["segments"]["codes"]]
