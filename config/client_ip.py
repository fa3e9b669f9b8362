"""The client's address for the login lock-out, as the API's throttle finds it: DRF's
`get_ident`, the address REST_FRAMEWORK["NUM_PROXIES"] trusted proxies saw (X-Forwarded-For),
else the connection's, so that a client's own X-Forwarded-For counts for nothing without them."""

from __future__ import annotations

from django.http import HttpRequest
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle


def client_ip(request: HttpRequest) -> str:
    return BaseThrottle().get_ident(Request(request))
