"""The throttle of anonymous readers of the costly public responses: a map's data.json and the
downloads (the offline map file among them) (portal's and interchange's views, which are not the API's and have no DRF throttle).

One middleware applies it to the views named in THROTTLED, with the API's idea of a client
(DRF's `get_ident`: the address `NUM_PROXIES` trusted proxies report, else the socket's) and
the API's counters (the default cache: Redis with CACHE_URL, so every process and machine
counts together). Its rate, READER_ANON_RATE, is one no person reading the map meets.

Responses the reader cache (portal.middleware) replays never reach it, so they do not count:
a replay costs one query and one cache read, as much as the throttle's own check, and a
client that varies the query string to get past the cache reaches the views and is counted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from rest_framework.throttling import AnonRateThrottle

THROTTLED = frozenset({
    "portal:map_data",
    "portal:map_download",
    "interchange:studies_csv",
    "interchange:studies_ris",
    "interchange:map_eppi_json",
    "interchange:map_xlsx",
    "interchange:cell_effects_csv",
})


class ReaderRateThrottle(AnonRateThrottle):
    """Anonymous clients only (a signed-in reviewer is not counted), at READER_ANON_RATE."""

    scope = "reader"

    def get_rate(self) -> str:
        return str(settings.READER_ANON_RATE)


class ReaderThrottleMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponseBase | None:
        match = request.resolver_match
        if match is None or match.view_name not in THROTTLED:
            return None
        throttle = ReaderRateThrottle()
        if throttle.allow_request(request, None):  # type: ignore[arg-type]  # reads META and user only
            return None
        wait = max(1, round(throttle.wait() or 1))
        message = f"Too many requests; retry in {wait} seconds."
        response: HttpResponse
        if request.path.endswith(".json"):
            response = JsonResponse({"error": message, "retry_after": wait}, status=429)
        else:
            response = HttpResponse(message + "\n", status=429, content_type="text/plain; charset=utf-8")
        response["Retry-After"] = str(wait)
        return response
