"""The client's address for the login lock-out, as the API's throttle finds it: the address
REST_FRAMEWORK["NUM_PROXIES"] trusted proxies saw (X-Forwarded-For), else the connection's."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    remote = str(request.META.get("REMOTE_ADDR", ""))
    proxies: Any = settings.REST_FRAMEWORK.get("NUM_PROXIES")
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if not proxies or not forwarded:
        return remote  # without trusted proxies a client's own X-Forwarded-For counts for nothing
    addresses = [part.strip() for part in str(forwarded).split(",") if part.strip()]
    return addresses[-min(int(proxies), len(addresses))] if addresses else remote
