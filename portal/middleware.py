"""Readers' responses of a published map, kept whole under the map's version.

The map page and its data.json are what every reader of a map asks for first, and for a
published map they are the same for every anonymous reader (data.json: for every reader,
since its numbers rest on published studies only) until the map's version changes. This
middleware keeps such a response, as it left the views and the middleware below this one,
under the map's id and version, the query string and the encoding asked for, and answers
the next request for it with one query (the map's version) and one cache read, skipping the
sessions, authentication, CSRF and the view. A write moves the version, so the next request
misses and goes through the full stack; every process reads the version from the database,
so a write through one process is seen at once by all. For a released map, anonymous readers'
responses (which show its latest release, portal.releases) are kept under the release's
number too, and signed-in readers', which may show the working copy, are not kept.

It stays out of the way whenever the response might differ: a reader with a session cookie
or credentials asking for the map page, a map that is not published, a response that is not
a 200, that sets a cookie or that varies on anything but the encoding.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.cache import cache
from django.db.models import Max
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseNotModified
from django.urls import Resolver404, resolve
from django.utils.cache import patch_vary_headers
from django.utils.http import parse_etags
from django.utils.translation import get_language_from_request

from evidence import versions
from evidence.models import EvidenceMap

# The views whose responses are kept, and whether they are the same for signed-in readers.
KEPT = {"portal:map_data": True, "portal:map": False}
# Response headers kept with the body (the outer middleware adds the security headers).
HEADERS = ("Content-Type", "Content-Encoding", "Content-Language", "ETag", "Cache-Control", "Vary", "X-Frame-Options",
           "Cross-Origin-Opener-Policy", "Referrer-Policy", "X-Content-Type-Options")


@functools.cache
def static_fingerprint() -> str:
    """A digest of the static files' hashed names (the manifest; empty without one).

    Part of every kept page's key: a page names its scripts and styles by their hashed names,
    and a deployment with new static files removes the old ones, so a page kept by the
    previous deployment must not be served by this one.
    """
    hashed = getattr(staticfiles_storage, "hashed_files", None) or {}
    return hashlib.sha256(repr(sorted(hashed.items())).encode()).hexdigest()[:16]


def _accepts_gzip(request: HttpRequest) -> bool:
    return bool(re.search(r"\bgzip\b", request.headers.get("Accept-Encoding", "")))


class ReaderCacheMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        key = self._key(request)
        if key is None:
            return self.get_response(request)
        kept: dict[str, Any] | None = cache.get(key)
        if kept is not None:
            return self._replay(request, kept)
        response = self.get_response(request)
        if self._keepable(response):
            assert isinstance(response, HttpResponse)
            kept = {"body": response.content, "headers": {h: response[h] for h in HEADERS if h in response}}
            cache.set(key, kept, versions.CACHE_SECONDS)
        return response

    @staticmethod
    def _key(request: HttpRequest) -> str | None:
        if request.method != "GET":
            return None
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return None
        everyone = KEPT.get(match.view_name)
        if everyone is None:
            return None
        signed_in = settings.SESSION_COOKIE_NAME in request.COOKIES or "Authorization" in request.headers
        if signed_in and not everyone:
            return None
        found = EvidenceMap.objects.filter(slug=match.kwargs["slug"], is_published=True).order_by()
        row = next(iter(found.annotate(release=Max("releases__number")).values_list("pk", "version", "release")[:1]), None)
        if row is None:
            return None  # not published (or no such map): the view decides who sees what
        if row[2] is not None and signed_in:
            return None  # a released map: its members read the working copy, others the release
        encoding = "gzip" if _accepts_gzip(request) else "identity"
        query = request.META.get("QUERY_STRING", "")
        # Anonymous readers of a released map read its latest release (portal.releases).
        release = f"|release:{row[2]}" if row[2] is not None else ""
        # The language LocaleMiddleware (below) will choose: the language cookie, else Accept-Language.
        language = get_language_from_request(request)
        return versions.response_key(
            match.view_name, row[0], row[1], f"{query}|{encoding}|{language}|{static_fingerprint()}{release}"
        )

    @staticmethod
    def _keepable(response: HttpResponseBase) -> bool:
        if response.status_code != 200 or response.cookies or response.streaming:
            return False
        # Cookie: the session was looked at (for the user), and a reader without a session
        # cookie, the only one a page is replayed to, is the anonymous reader it was for.
        # Accept-Language: the key holds the language chosen from it (and the language cookie).
        vary = {v.strip().lower() for v in response.get("Vary", "").split(",") if v.strip()}
        return vary <= {"accept-encoding", "cookie", "accept-language"}

    @staticmethod
    def _replay(request: HttpRequest, kept: dict[str, Any]) -> HttpResponseBase:
        etag = kept["headers"].get("ETag")
        asked = {tag.removeprefix("W/") for tag in parse_etags(request.headers.get("If-None-Match", ""))}
        if etag and (etag.removeprefix("W/") in asked or "*" in asked):
            not_modified = HttpResponseNotModified()
            for name in ("ETag", "Cache-Control", "Vary", "Content-Language"):
                if name in kept["headers"]:
                    not_modified[name] = kept["headers"][name]
            return not_modified
        response = HttpResponse(kept["body"])
        for name, value in kept["headers"].items():
            response[name] = value
        patch_vary_headers(response, ("Accept-Encoding",))
        return response
