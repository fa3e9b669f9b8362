"""Teams and roles per map, on every path: what each role sees and may write in the services,
the admin, the API, the importers and the exports; staff without a role see no drafts."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from api import tokens
from evidence import services as evidence_services
from evidence.models import EvidenceMap, Intervention, MapMembership, Role
from interchange.ris.pipeline import import_ris
from studies import services
from studies.models import EffectSize, Status, Study
from tests.conftest import grant
from tests.factories import (
    EffectSizeFactory,
    EvidenceMapFactory,
    InterventionFactory,
    OutcomeFactory,
    StudyFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

ROLES = ["viewer", "reviewer", "editor", "publisher"]


class Team:
    """Two maps, each with a draft study (and effect size) and a published one; a user per role
    on map A, a staff user with no role, a publisher of map B, and a superuser."""

    def __init__(self) -> None:
        self.a = EvidenceMapFactory(slug="map-a", title="Map A", is_published=True)
        self.b = EvidenceMapFactory(slug="map-b", title="Map B", is_published=True)
        self.row = InterventionFactory(evidence_map=self.a, name="Row")
        self.column = OutcomeFactory(evidence_map=self.a, name="Column")
        self.draft_a = StudyFactory(evidence_map=self.a, title="DRAFT of A", status=Status.DRAFT)
        self.public_a = StudyFactory(evidence_map=self.a, title="Published of A")
        self.draft_b = StudyFactory(evidence_map=self.b, title="DRAFT of B", status=Status.DRAFT)
        self.es_draft_a = EffectSizeFactory(study=self.draft_a, intervention=self.row, outcome=self.column)
        self.users = {role: UserFactory(username=role, is_staff=True) for role in ROLES}
        for role, user in self.users.items():
            grant(user, self.a, role)
        self.nobody = UserFactory(username="nobody", is_staff=True)
        self.b_publisher = UserFactory(username="b-publisher", is_staff=True)
        grant(self.b_publisher, self.b, "publisher")
        self.boss = UserFactory(username="boss", is_staff=True, is_superuser=True)


@pytest.fixture
def team() -> Team:
    return Team()


def titles(rows: Any) -> set[str]:
    return {row.title for row in rows}


# --- What each user sees -----------------------------------------------------------------------


def test_each_role_sees_its_maps_drafts_and_no_other(team: Team) -> None:
    for user in team.users.values():
        assert titles(Study.objects.visible_to(user)) == {"DRAFT of A", "Published of A"}
        assert set(EffectSize.objects.visible_to(user)) == {team.es_draft_a}
    assert titles(Study.objects.visible_to(team.nobody)) == {"Published of A"}
    assert not EffectSize.objects.visible_to(team.nobody).exists()
    assert titles(Study.objects.visible_to(team.b_publisher)) == {"Published of A", "DRAFT of B"}
    assert titles(Study.objects.visible_to(team.boss)) == {"DRAFT of A", "Published of A", "DRAFT of B"}


def test_a_draft_map_is_seen_by_its_members_only(team: Team) -> None:
    hidden = EvidenceMapFactory(slug="hidden", is_published=False)
    grant(team.users["viewer"], hidden, "viewer")
    assert hidden in EvidenceMap.objects.visible_to(team.users["viewer"])
    assert hidden not in EvidenceMap.objects.visible_to(team.users["publisher"])
    assert hidden not in EvidenceMap.objects.visible_to(team.nobody)
    assert hidden in EvidenceMap.objects.visible_to(team.boss)


def test_pages_and_exports_show_drafts_to_members_only(team: Team, client: Client) -> None:
    study_url = reverse("portal:study", kwargs={"slug": "map-a", "pk": team.draft_a.pk})
    csv_url = reverse("interchange:studies_csv", kwargs={"slug": "map-a"})
    eppi_url = reverse("interchange:map_eppi_json", kwargs={"slug": "map-a"})
    for user, sees in ((team.users["viewer"], True), (team.nobody, False), (team.b_publisher, False),
                       (team.boss, True)):
        client.force_login(user)
        assert client.get(study_url).status_code == (200 if sees else 404), user
        assert ("DRAFT of A" in client.get(csv_url).content.decode()) is sees, user
        assert ("DRAFT of A" in client.get(eppi_url).content.decode()) is sees, user
        assert "DRAFT of B" not in client.get(csv_url).content.decode()


# --- The services: one check for every write ---------------------------------------------------


def test_a_viewer_writes_nothing(team: Team) -> None:
    viewer = team.users["viewer"]
    with pytest.raises(PermissionDenied, match="reviewer role"):
        services.study_update(study=team.draft_a, user=viewer, data={"title": "Changed"})
    with pytest.raises(PermissionDenied, match="reviewer role"):
        services.effect_size_delete(effect_size=team.es_draft_a, user=viewer)
    assert Study.objects.get(pk=team.draft_a.pk).title == "DRAFT of A"
    assert EffectSize.objects.filter(pk=team.es_draft_a.pk).exists()


def test_a_reviewer_enters_studies_and_effect_sizes_but_not_the_framework_or_publishing(team: Team) -> None:
    reviewer = team.users["reviewer"]
    study = services.study_create(user=reviewer, evidence_map=team.a, authors="Ode, A.", year=2020,
                                  title="New draft", design="rct", confidence="medium", countries=["KE"])
    services.effect_size_create(user=reviewer, study=study, intervention=team.row, outcome=team.column,
                                label="x", input_kind="es_se", es_value=0.2, es_se=0.1)
    services.study_update(study=team.public_a, user=reviewer, data={"title": "Corrected title"})
    with pytest.raises(PermissionDenied, match="editor role"):
        evidence_services.framework_save(instance=Intervention(evidence_map=team.a, name="New row"), user=reviewer)
    with pytest.raises(PermissionDenied, match="only the map's publishers"):
        services.studies_set_status(studies=[study], status=Status.PUBLISHED, user=reviewer)
    with pytest.raises(PermissionDenied, match="only the map's publishers"):
        services.study_create(user=reviewer, evidence_map=team.a, authors="Ode, A.", year=2020, title="Sneaky",
                              design="rct", confidence="medium", countries=["KE"], status=Status.PUBLISHED)
    with pytest.raises(PermissionDenied, match="only the map's publishers"):
        services.delete_recorded(instance=team.public_a, user=reviewer)  # deleting unpublishes it
    assert Study.objects.get(pk=study.pk).status == Status.DRAFT
    assert not Study.objects.filter(title="Sneaky").exists()


def test_an_editor_edits_the_framework_and_settings_but_does_not_publish_the_map(team: Team) -> None:
    editor = team.users["editor"]
    evidence_services.framework_save(instance=Intervention(evidence_map=team.a, name="New row"), user=editor)
    team.a.description = "Edited"
    evidence_services.framework_save(instance=team.a, user=editor)
    team.a.is_published = False
    with pytest.raises(PermissionDenied, match="is_published"):
        evidence_services.framework_save(instance=team.a, user=editor)
    assert EvidenceMap.objects.get(pk=team.a.pk).is_published
    with pytest.raises(PermissionDenied, match="publisher role"):
        services.delete_recorded(instance=EvidenceMap.objects.get(pk=team.a.pk), user=editor)
    assert EvidenceMap.objects.filter(pk=team.a.pk).exists()


def test_only_a_publisher_publishes_unpublishes_and_manages_the_team(team: Team) -> None:
    publisher, editor = team.users["publisher"], team.users["editor"]
    assert services.studies_set_status(studies=[team.draft_a], status=Status.PUBLISHED, user=publisher) == 1
    assert services.studies_set_status(studies=[team.draft_a], status=Status.DRAFT, user=publisher) == 1
    newcomer = UserFactory(username="newcomer")
    evidence_services.membership_set(evidence_map=team.a, member=newcomer, role="reviewer", user=publisher)
    with pytest.raises(PermissionDenied, match="publisher role"):
        evidence_services.membership_set(evidence_map=team.a, member=editor, role="publisher", user=editor)
    assert MapMembership.objects.get(evidence_map=team.a, user=newcomer).role == Role.REVIEWER
    assert MapMembership.objects.get(evidence_map=team.a, user=editor).role == Role.EDITOR


def test_a_role_on_one_map_gives_nothing_on_another(team: Team) -> None:
    publisher = team.users["publisher"]
    with pytest.raises(PermissionDenied, match="reviewer role"):
        services.study_update(study=team.draft_b, user=publisher, data={"title": "Changed"})
    # Moving a study needs the role on both maps.
    with pytest.raises(PermissionDenied):
        services.study_update(study=team.draft_b, user=team.b_publisher, data={"evidence_map": team.a})
    with pytest.raises(PermissionDenied):
        services.study_update(study=team.draft_a, user=publisher, data={"evidence_map": team.b})
    assert Study.objects.get(pk=team.draft_b.pk).evidence_map == team.b


def test_creating_a_map_needs_the_permission_and_makes_its_creator_its_publisher(team: Team) -> None:
    from django.contrib.auth.models import Permission

    creator = team.nobody
    with pytest.raises(PermissionDenied, match="add_evidencemap"):
        evidence_services.framework_save(instance=EvidenceMap(title="New", slug="new"), user=creator)
    creator.user_permissions.add(Permission.objects.get(codename="add_evidencemap"))
    creator = type(creator).objects.get(pk=creator.pk)  # permissions are cached per user object
    new = evidence_services.framework_save(instance=EvidenceMap(title="New", slug="new"), user=creator)
    assert MapMembership.objects.get(evidence_map=new, user=creator).role == Role.PUBLISHER


# --- The admin -------------------------------------------------------------------------------


def test_the_admin_lists_only_the_maps_where_the_user_has_a_role(team: Team, client: Client) -> None:
    url = reverse("admin:studies_study_changelist")
    client.force_login(team.users["viewer"])
    assert titles(client.get(url).context["cl"].result_list) == {"DRAFT of A", "Published of A"}
    client.force_login(team.b_publisher)
    assert titles(client.get(url).context["cl"].result_list) == {"DRAFT of B"}
    client.force_login(team.nobody)
    assert client.get(url).status_code == 403
    assert client.get(reverse("admin:studies_study_change", args=[team.draft_a.pk])).status_code in (302, 403)


def test_in_the_admin_a_viewer_reads_and_a_reviewer_cannot_publish(team: Team, client: Client) -> None:
    change = reverse("admin:studies_study_change", args=[team.draft_a.pk])
    client.force_login(team.users["viewer"])
    page = client.get(change)
    assert page.status_code == 200 and not page.context["has_change_permission"]
    client.force_login(team.users["reviewer"])
    page = client.get(change)
    assert page.context["has_change_permission"]
    assert "status" in page.context["adminform"].readonly_fields
    changelist = client.get(reverse("admin:studies_study_changelist"))
    assert "publish" not in dict(changelist.context["action_form"].fields["action"].choices)
    client.force_login(team.users["publisher"])
    assert "status" not in client.get(change).context["adminform"].readonly_fields
    response = client.post(reverse("admin:studies_study_changelist"),
                           {"action": "publish", "_selected_action": [team.draft_a.pk]}, follow=True)
    assert response.status_code == 200
    assert Study.objects.get(pk=team.draft_a.pk).status == Status.PUBLISHED


def test_a_publisher_of_another_map_cannot_publish_through_the_admin(team: Team, client: Client) -> None:
    client.force_login(team.b_publisher)
    client.post(reverse("admin:studies_study_changelist"),
                {"action": "publish", "_selected_action": [team.draft_a.pk, team.draft_b.pk]})
    # Map A's draft is not even in this user's list, so nothing of A changes.
    assert Study.objects.get(pk=team.draft_a.pk).status == Status.DRAFT


def test_the_admin_offers_only_the_maps_where_the_user_may_write(team: Team, client: Client) -> None:
    client.force_login(team.users["reviewer"])
    form = client.get(reverse("admin:studies_study_add")).context["adminform"].form
    assert list(form.fields["evidence_map"].queryset) == [team.a]
    client.force_login(team.users["viewer"])
    assert client.get(reverse("admin:studies_study_add")).status_code == 403
    client.force_login(team.users["reviewer"])
    assert client.get(reverse("admin:evidence_intervention_add")).status_code == 403
    client.force_login(team.users["editor"])
    assert client.get(reverse("admin:evidence_intervention_add")).status_code == 200
    page = client.get(reverse("admin:evidence_evidencemap_change", args=[team.a.pk]))
    assert "is_published" in page.context["adminform"].readonly_fields


# --- The API ---------------------------------------------------------------------------------


def api_as(user: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {tokens.issue(user=user, name='tests')[1]}")
    return client


def new_study(**extra: Any) -> dict[str, Any]:
    return {"map": "map-a", "authors": "Ode, A.", "year": 2020, "title": "From the API", "design": "rct",
            "confidence": "medium", "countries": ["KE"], **extra}


def test_api_writes_follow_the_role(team: Team) -> None:
    assert api_as(team.users["viewer"]).post("/api/v1/studies/", new_study(), format="json").status_code == 403
    assert api_as(team.nobody).post("/api/v1/studies/", new_study(), format="json").status_code == 403
    reviewer = api_as(team.users["reviewer"])
    assert reviewer.post("/api/v1/studies/", new_study(), format="json").status_code == 201
    refused = reviewer.post("/api/v1/studies/", new_study(title="Public", status="published"), format="json")
    assert refused.status_code == 403 and "publishers" in refused.json()["error"]["message"]
    assert reviewer.patch(f"/api/v1/studies/{team.draft_a.pk}/", {"status": "published"},
                          format="json").status_code == 403
    # Another map's draft is not even visible to this reviewer.
    assert reviewer.patch(f"/api/v1/studies/{team.draft_b.pk}/", {"title": "x"}, format="json").status_code == 404
    publisher = api_as(team.users["publisher"])
    assert publisher.patch(f"/api/v1/studies/{team.draft_a.pk}/", {"status": "published"},
                           format="json").status_code == 200
    assert not Study.objects.filter(title="Public").exists()
    assert Study.objects.get(pk=team.draft_a.pk).status == Status.PUBLISHED


def test_api_reads_show_drafts_to_members_only(team: Team) -> None:
    for user, sees in ((team.users["viewer"], True), (team.nobody, False)):
        body = api_as(user).get("/api/v1/studies/?map=map-a").json()
        assert ("DRAFT of A" in {s["title"] for s in body["results"]}) is sees


# --- The importers ---------------------------------------------------------------------------

RIS = b"TY  - JOUR\nTI  - A citation from a search\nAU  - Ode, A.\nPY  - 2020\nER  - \n"


def test_an_import_needs_the_role_its_changes_need(team: Team) -> None:
    refused = import_ris(RIS, slug="map-a", user=team.users["viewer"])
    assert not refused.written
    assert any("reviewer role" in p.message for p in refused.report.errors)
    assert not Study.objects.filter(title="A citation from a search").exists()
    assert not import_ris(RIS, slug="map-a", user=team.nobody).written
    done = import_ris(RIS, slug="map-a", user=team.users["reviewer"])
    assert done.written, done.report.errors
    assert Study.objects.get(title="A citation from a search").created_by == team.users["reviewer"]


def test_the_import_command_refuses_a_user_without_the_role(team: Team, tmp_path: Any) -> None:
    path = tmp_path / "search.ris"
    path.write_bytes(RIS)
    with pytest.raises(Exception, match="error"):
        call_command("import_ris", str(path), "--map", "map-b", "--user", "reviewer")
    assert not Study.objects.filter(title="A citation from a search").exists()
    call_command("import_ris", str(path), "--map", "map-b", "--user", "b-publisher")
    assert Study.objects.filter(title="A citation from a search", evidence_map=team.b).exists()


def test_publishing_through_an_import_needs_the_publisher_role(team: Team) -> None:
    from interchange.table.layout import STUDIES, new_workbook, workbook_bytes
    from interchange.table.pipeline import import_table

    wb = new_workbook()
    line = {"Study ID": "T1", "Authors": "Ode A", "Year": 2020, "Title": "Published by a table",
            "Countries": "Kenya", "Design": "Randomised controlled trial", "Status": "Published"}
    wb[STUDIES.name].append([line.get(h, "") for h in STUDIES.headers])
    data = workbook_bytes(wb)
    refused = import_table(data, filename="t.xlsx", slug="map-a", user=team.users["editor"])
    assert any("publisher role" in p.message for p in refused.report.errors) and not refused.written
    done = import_table(data, filename="t.xlsx", slug="map-a", user=team.users["publisher"])
    assert done.written, done.report.errors
    assert Study.objects.get(title="Published by a table").status == Status.PUBLISHED


def test_the_admin_upload_offers_the_users_maps_and_the_import_checks_the_role(team: Team, client: Client, settings: Any) -> None:
    from django.contrib.auth.models import Permission
    from django.core.files.uploadedfile import SimpleUploadedFile

    from interchange.eppi.generate import generate_eppi
    from interchange.models import ImportJob, ImportStatus

    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    viewer, reviewer = team.users["viewer"], team.users["reviewer"]
    for user in (viewer, reviewer, team.nobody):
        user.user_permissions.add(Permission.objects.get(codename="add_importjob"))
    add_url = reverse("admin:interchange_importjob_add")
    client.force_login(team.nobody)
    assert client.get(add_url).status_code == 403  # no role on any map
    client.force_login(viewer)
    assert client.get(add_url).status_code == 403  # a viewer writes nothing
    client.force_login(reviewer)
    form = client.get(add_url).context["form"]
    assert list(form.fields["evidence_map"].queryset) == [team.a]
    data = generate_eppi(references=5, outcomes=5, seed=3).to_bytes("utf-8")
    refused = client.post(add_url, {"file": SimpleUploadedFile("r.json", data), "new_slug": "mine", "new_title": "Mine"})
    assert "may not create maps" in refused.content.decode()
    client.post(add_url, {"file": SimpleUploadedFile("r.json", data), "evidence_map": team.a.pk})
    job = ImportJob.objects.get()
    choices = {"rows": ["set:1001"], "columns": ["set:1002"], "segments": "set:1003", "filters": ["set:1005"],
               "designs": "set:1003", "countries": "set:1004"}
    response = client.post(reverse("admin:interchange_importjob_run", args=[job.pk]), choices)
    assert response.status_code == 302, response.context["form"].errors if response.context else response
    job.refresh_from_db()
    # The file brings its code sets and framework rows: that needs the editor role.
    assert job.status == ImportStatus.REFUSED and "editor role" in job.report_text
    assert not Study.objects.filter(evidence_map=team.a).exclude(pk__in=[team.draft_a.pk, team.public_a.pk]).exists()
