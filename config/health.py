"""/healthz and /readyz for load balancers and container health checks.

Answered by the first middleware, before the host check, the HTTPS redirect, sessions and
throttles, since a probe comes from inside the network, by address and over plain HTTP:

* /healthz: the process is up and serving (touches neither the database nor the cache);
* /readyz: the database (every configured one) and the cache answer; 503 naming what does not.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from django.core.cache import cache
from django.db import connections
from django.http import HttpRequest, HttpResponseBase, JsonResponse

logger = logging.getLogger(__name__)

PATHS = ("/healthz", "/readyz")


def _check_databases() -> str:
    for alias in connections:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    return "ok"


def _check_cache() -> str:
    key, value = "egm:readyz", uuid.uuid4().hex
    cache.set(key, value, 30)
    if cache.get(key) != value:
        raise RuntimeError("the cache did not return what was written")
    return "ok"


def readiness() -> tuple[int, dict[str, str]]:
    checks = {"database": _check_databases, "cache": _check_cache}
    report: dict[str, str] = {}
    for name, check in checks.items():
        try:
            report[name] = check()
        except Exception as error:  # any failure means not ready
            logger.warning("readyz: the %s is not reachable: %s", name, error)
            report[name] = f"unreachable ({type(error).__name__})"
    status = 200 if all(v == "ok" for v in report.values()) else 503
    return status, {"status": "ok" if status == 200 else "unavailable", **report}


class HealthCheckMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        path = request.path_info.rstrip("/")
        if path not in PATHS or request.method not in ("GET", "HEAD"):
            return self.get_response(request)
        if path == "/healthz":
            status, body = 200, {"status": "ok"}
        else:
            status, body = readiness()
        response = JsonResponse(body, status=status)
        response["Cache-Control"] = "no-store"
        return response
