"""Reads of anonymous readers go to the replica when one is configured; writes, reads inside a
transaction and every request of a signed-in reader stay on the primary."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from config import routers
from evidence.models import EvidenceMap


def seen_by_router(request: HttpRequest, *, enabled: bool = True) -> list[str | None]:
    """Where the router sends a read (outside and inside a transaction) while the request runs."""
    router = routers.ReplicaRouter()
    seen: list[str | None] = []

    def view(_: HttpRequest) -> HttpResponse:
        seen.append(router.db_for_read(EvidenceMap))
        with transaction.atomic():
            seen.append(router.db_for_read(EvidenceMap))
        return HttpResponse()

    middleware = routers.ReplicaReadsMiddleware(view)
    middleware.enabled = enabled
    middleware(request)
    return seen


@pytest.mark.django_db(transaction=True)  # not inside the test's own transaction
def test_an_anonymous_read_goes_to_the_replica_outside_transactions(rf: RequestFactory) -> None:
    assert seen_by_router(rf.get("/maps/x/")) == ["replica", None]
    assert seen_by_router(rf.head("/maps/x/data.json")) == ["replica", None]


@pytest.mark.django_db
@pytest.mark.parametrize("make", [
    lambda rf: rf.post("/admin/"),
    lambda rf: rf.get("/maps/x/", HTTP_COOKIE="sessionid=abc"),
    lambda rf: rf.get("/api/v1/maps/", HTTP_AUTHORIZATION="Token abc"),
])
def test_writes_and_signed_in_readers_stay_on_the_primary(rf: RequestFactory, make: Any) -> None:
    assert seen_by_router(make(rf)) == [None, None]


@pytest.mark.django_db
def test_without_a_replica_nothing_changes(rf: RequestFactory) -> None:
    assert seen_by_router(rf.get("/maps/x/"), enabled=False) == [None, None]


def test_the_router_writes_and_migrates_on_the_primary_only() -> None:
    router = routers.ReplicaRouter()
    assert router.db_for_write(EvidenceMap) == "default"
    assert router.allow_migrate("default", "evidence") is True
    assert router.allow_migrate("replica", "evidence") is False
    # Outside a marked request, reads are the default database's.
    assert router.db_for_read(EvidenceMap) is None
