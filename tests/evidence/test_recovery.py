"""Recovery: deleted records listed and restored in the admin with their history; history of
users, groups, memberships and tokens; a backup restored gives back the same map."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse

from api import tokens
from api.models import ApiToken
from evidence import services as evidence_services
from evidence.models import EvidenceMap, MapMembership
from interchange.demo import DEMO_SLUG, load_demo
from studies import services
from studies.models import EffectSize, Study
from tests.conftest import grant
from tests.factories import EffectSizeFactory, EvidenceMapFactory, StudyFactory, UserFactory

# --- Deleted records ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_deleted_effect_size_is_listed_and_restored_with_a_click_with_its_history(client: Client) -> None:
    evidence_map = EvidenceMapFactory(slug="m")
    effect = EffectSizeFactory(study=StudyFactory(evidence_map=evidence_map), label="Reading score", es_value=0.31)
    reviewer = UserFactory(username="rev", is_staff=True)
    grant(reviewer, evidence_map, "reviewer")
    services.effect_size_update(effect_size=effect, user=reviewer, data={"es_value": 0.35})
    g, effect_id = effect.g, effect.pk
    services.effect_size_delete(effect_size=effect, user=reviewer)

    client.force_login(reviewer)
    assert "Deleted records" in client.get(reverse("admin:evidence_evidencemap_changelist")).content.decode()
    page = client.get(reverse("admin:evidence_deleted"))
    assert page.status_code == 200
    [record] = page.context["records"]
    assert record["kind"] == "effectsize" and record["row"].id == effect_id and record["map"] == evidence_map.title
    restore_url = reverse("admin:evidence_restore", args=["effectsize", record["row"].history_id])
    assert client.get(restore_url).status_code == 405  # a click on the button posts
    response = client.post(restore_url)
    assert response.status_code == 302
    restored = EffectSize.objects.get(pk=effect_id)
    assert restored.es_value == 0.35 and restored.g == pytest.approx(g, rel=1e-12)
    kinds = list(EffectSize.history.filter(id=effect_id).order_by("history_date").values_list("history_type", flat=True))  # type: ignore[attr-defined]
    assert kinds[-3:] == ["~", "-", "+"]
    assert EffectSize.history.filter(id=effect_id).latest().history_change_reason == "Restored from the history"  # type: ignore[attr-defined]
    assert client.get(reverse("admin:evidence_deleted")).context["records"] == []


@pytest.mark.django_db
def test_deleted_records_are_listed_and_restored_only_for_the_users_roles(client: Client) -> None:
    mine, theirs = EvidenceMapFactory(slug="mine"), EvidenceMapFactory(slug="theirs")
    study = StudyFactory(evidence_map=theirs, title="Their study")
    study_id = study.pk
    boss = UserFactory(username="chief", is_superuser=True, is_staff=True)
    services.delete_recorded(instance=study, user=boss)
    viewer, reviewer = UserFactory(username="v", is_staff=True), UserFactory(username="r", is_staff=True)
    grant(viewer, theirs, "viewer")
    grant(reviewer, mine, "reviewer")
    client.force_login(reviewer)
    assert client.get(reverse("admin:evidence_deleted")).context["records"] == []
    history_id = Study.history.get(id=study_id, history_type="-").history_id  # type: ignore[attr-defined]
    client.post(reverse("admin:evidence_restore", args=["study", history_id]))
    assert not Study.objects.filter(pk=study_id).exists()
    client.force_login(viewer)
    assert client.get(reverse("admin:evidence_deleted")).status_code == 403
    client.force_login(boss)
    client.post(reverse("admin:evidence_restore", args=["study", history_id]))
    assert Study.objects.get(pk=study_id).title == "Their study"


@pytest.mark.django_db
def test_an_effect_size_of_a_deleted_study_comes_back_after_its_study(client: Client) -> None:
    effect = EffectSizeFactory()
    study = effect.study
    effect_id, study_id = effect.pk, study.pk
    boss = UserFactory(username="chief", is_superuser=True, is_staff=True)
    services.delete_recorded(instance=study, user=boss)  # its effect sizes go with it
    client.force_login(boss)
    effect_row = EffectSize.history.get(id=effect_id, history_type="-")  # type: ignore[attr-defined]
    response = client.post(reverse("admin:evidence_restore", args=["effectsize", effect_row.history_id]), follow=True)
    assert "restore that one first" in response.content.decode(), [str(m) for m in response.context["messages"]]
    assert not EffectSize.objects.filter(pk=effect_id).exists()
    study_row = Study.history.get(id=study_id, history_type="-")  # type: ignore[attr-defined]
    client.post(reverse("admin:evidence_restore", args=["study", study_row.history_id]))
    client.post(reverse("admin:evidence_restore", args=["effectsize", effect_row.history_id]))
    assert EffectSize.objects.get(pk=effect_id).study_id == study_id


# --- History of accounts -----------------------------------------------------------------------


@pytest.mark.django_db
def test_users_groups_memberships_and_tokens_keep_history() -> None:
    user = UserFactory(username="ana")
    group = Group.objects.create(name="Reviewers")
    group.permissions.add(Permission.objects.get(codename="view_study"))
    user.is_staff = True
    user.save()
    user.groups.add(group)
    rows = list(user.history.order_by("history_date"))  # type: ignore[attr-defined]
    assert [row.is_staff for row in rows] == [False, True, True]  # created, made staff, given a group
    assert [g.group.name for g in rows[-1].groups.all()] == ["Reviewers"]
    assert "password" not in {f.name for f in user.history.model._meta.fields}  # type: ignore[attr-defined]
    assert group.history.exists()  # type: ignore[attr-defined]

    evidence_map = EvidenceMapFactory()
    boss = UserFactory(username="chief", is_superuser=True, is_active=True)
    membership = evidence_services.membership_set(evidence_map=evidence_map, member=user, role="viewer", user=boss)
    evidence_services.membership_set(evidence_map=evidence_map, member=user, role="editor", user=boss)
    assert [(h.role, h.history_user) for h in MapMembership.history.filter(id=membership.pk).order_by("history_date")] == [  # type: ignore[attr-defined]
        (10, boss), (30, boss)]

    token, key = tokens.issue(user=user, name="sync")
    tokens.authenticate(key)
    tokens.revoke(token=token, user=user)
    history = list(ApiToken.history.filter(id=token.pk).order_by("history_date"))  # type: ignore[attr-defined]
    assert [h.history_type for h in history] == ["+", "~"] and history[-1].revoked_at is not None


# --- Backup and restore ------------------------------------------------------------------------


def map_state(slug: str) -> tuple[Any, ...]:
    evidence_map = EvidenceMap.objects.get(slug=slug)
    studies = sorted(Study.objects.filter(evidence_map=evidence_map).values_list("pk", "title", "status", "year"))
    effects = sorted(EffectSize.objects.filter(study__evidence_map=evidence_map).values_list("pk", "g", "var_g"))
    codings = sorted(Study.codes.through.objects.filter(study__evidence_map=evidence_map).values_list("study_id", "code_id"))
    return (evidence_map.pk, evidence_map.title, evidence_map.version, studies, effects, codings,
            Study.history.count())  # type: ignore[attr-defined]


@pytest.mark.django_db(transaction=True)
def test_a_restored_backup_gives_back_the_same_map(tmp_path: Path) -> None:
    if connection.vendor == "postgresql" and shutil.which("pg_dump") is None:
        pytest.skip("pg_dump is not installed")
    load_demo()
    before = map_state(DEMO_SLUG)
    path = tmp_path / "egm.backup"
    call_command("backup_db", str(path))
    assert path.stat().st_size > 10_000

    # Then someone damages the map...
    evidence_map = EvidenceMap.objects.get(slug=DEMO_SLUG)
    Study.objects.filter(evidence_map=evidence_map, status="published").first().delete()
    EvidenceMap.objects.filter(pk=evidence_map.pk).update(title="Vandalised")
    assert map_state(DEMO_SLUG) != before

    call_command("restore_db", str(path), "--yes")
    assert map_state(DEMO_SLUG) == before
    # The restored database is a working one: the map's cells are pooled again from it.
    client = Client()
    assert client.get(reverse("portal:map_data", kwargs={"slug": DEMO_SLUG})).status_code == 200


@pytest.mark.django_db
def test_restoring_a_file_that_is_not_a_backup_changes_nothing(tmp_path: Path) -> None:
    from django.core.management.base import CommandError

    path = tmp_path / "not-a-backup"
    path.write_bytes(b"hello")
    with pytest.raises(CommandError, match="not"):
        call_command("restore_db", str(path), "--yes")
    with pytest.raises(CommandError, match="no backup file"):
        call_command("restore_db", str(tmp_path / "missing"), "--yes")
