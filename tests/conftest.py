from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from django.contrib.auth.models import Permission

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


@pytest.fixture
def reviewer(db):  # type: ignore[no-untyped-def]
    """A staff user with the model permissions a reviewer needs (not a superuser)."""
    user = UserFactory(username="reviewer", is_staff=True)
    codenames = [
        f"{action}_{model}"
        for model in ("study", "effectsize", "appraisalitem", "cellsummary")
        for action in ("add", "change", "delete", "view")
    ] + ["view_evidencemap", "view_intervention", "view_outcome", "view_codeset", "view_code"]
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


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
