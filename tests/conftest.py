from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.factories import UserFactory


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)")
        for item in items:
            if "postgres" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    """Each test starts with an empty cache: SQLite reuses the ids of rolled-back rows, so a
    result cached under a map's id and version in one test must not reach the next."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def grant(user: object, evidence_map: object, role: str) -> None:
    """Give `user` `role` (viewer, reviewer, editor, publisher) on `evidence_map`."""
    from evidence.models import MapMembership, Role

    MapMembership.objects.update_or_create(evidence_map=evidence_map, user=user, defaults={"role": Role.named(role)})


@pytest.fixture
def reviewer(db):  # type: ignore[no-untyped-def]
    """A staff user (not a superuser) who is a publisher, the role that may do everything on a
    map, of every map the test has or creates; tests of the roles themselves use `member`."""
    from django.db.models.signals import post_save

    from evidence.models import EvidenceMap

    user = UserFactory(username="reviewer", is_staff=True)
    for evidence_map in EvidenceMap.objects.all():
        grant(user, evidence_map, "publisher")

    def on_new_map(sender: object, instance: EvidenceMap, created: bool, **kwargs: object) -> None:
        if created:
            grant(user, instance, "publisher")

    post_save.connect(on_new_map, sender=EvidenceMap, weak=False, dispatch_uid="test-reviewer-maps")
    yield user
    post_save.disconnect(sender=EvidenceMap, dispatch_uid="test-reviewer-maps")


@pytest.fixture
def member(db):  # type: ignore[no-untyped-def]
    """Make a staff user (not a superuser) with a role on a map: member("editor", a_map)."""
    def make(role: str | None, evidence_map: object = None, username: str | None = None) -> object:
        user = UserFactory(username=username or f"{role or 'nobody'}-{UserFactory._meta.model.objects.count()}", is_staff=True)
        if role is not None:
            grant(user, evidence_map, role)
        return user

    return make


@pytest.fixture
def admin_user(db):  # type: ignore[no-untyped-def]
    return UserFactory(username="boss", is_staff=True, is_superuser=True)


@pytest.fixture
def demo_map(db):  # type: ignore[no-untyped-def]
    from interchange.demo import load_demo

    return load_demo()


@pytest.fixture(scope="session")
def require_browser() -> bool:
    return os.environ.get("REQUIRE_BROWSER") == "1"
