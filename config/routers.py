"""Reads of anonymous readers on a PostgreSQL replica, when DATABASE_REPLICA_URL is set.

ReplicaReadsMiddleware marks a request as a public read (GET or HEAD, no session cookie, no
credentials); while it runs, ReplicaRouter sends the ORM's reads to the "replica" database.
Everything else stays on the primary ("default"): writes, reads inside a transaction (a
write's own checks and its version bump), and every request of a signed-in reviewer, who
must see their own writes at once. A replica lags its primary by its replication delay, so
an anonymous reader may see a write that long after it is made.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.db import connections
from django.http import HttpRequest, HttpResponseBase

REPLICA = "replica"
_public_read: ContextVar[bool] = ContextVar("public_read", default=False)


class ReplicaRouter:
    def db_for_read(self, model: type[Any], **hints: Any) -> str | None:
        if _public_read.get() and not connections["default"].in_atomic_block:
            return REPLICA
        return None

    def db_for_write(self, model: type[Any], **hints: Any) -> str | None:
        return "default"

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        return True  # the replica holds the same rows as the primary

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool | None:
        return db == "default"


def is_public_read(request: HttpRequest) -> bool:
    return (
        request.method in ("GET", "HEAD")
        and settings.SESSION_COOKIE_NAME not in request.COOKIES
        and "Authorization" not in request.headers
    )


class ReplicaReadsMiddleware:
    """Marks anonymous reads for ReplicaRouter (and does nothing without a replica)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self.enabled = REPLICA in settings.DATABASES

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if not (self.enabled and is_public_read(request)):
            return self.get_response(request)
        token = _public_read.set(True)
        try:
            return self.get_response(request)
        finally:
            _public_read.reset(token)
