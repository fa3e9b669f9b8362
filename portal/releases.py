"""Reading a map's releases on the public pages and downloads.

`ReleaseMiddleware` decides, for every request under /maps/<slug>/, which copy of the map the
views read: the release named by the URL (/maps/<slug>/releases/<n>/…); otherwise the map's
latest release for anyone who is not one of its members, and the working copy for its members
(or for a map without releases, as before releases existed). The views themselves are the
working copy's: the middleware enters evidence.releases.context.reading() around them, so their
reads go to the release's copy, and gives a release's requests a URL configuration in which
every map URL points into that release, so every link of a release's page stays in it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponseBase, StreamingHttpResponse
from django.urls import URLPattern, URLResolver, path, reverse
from django.urls.resolvers import RoutePattern
from django.utils.cache import patch_vary_headers

from evidence.models import Release
from evidence.releases.context import reading, streamed_within
from evidence.releases.selectors import latest_release, reads_working_copy, visible_release

MAP_PATH = re.compile(r"^/maps/(?P<slug>[-a-zA-Z0-9_]+)/(?:releases/(?P<number>[0-9]{1,9})/)?")
MAP_ROUTE = "maps/<slug:slug>/"


@dataclass(frozen=True)
class ReleaseNotice:
    """What the pages say about the copy they show (base.html)."""

    release: Release
    working_copy: bool  # the working copy of a released map; `release` is its latest

    @property
    def list_url(self) -> str:
        return reverse("portal:releases", kwargs={"slug": self.release.evidence_map.slug})

    @property
    def url(self) -> str:
        return reverse("portal:release", kwargs={"slug": self.release.evidence_map.slug, "number": self.release.number})


def _in_release(pattern: URLPattern | URLResolver, number: int) -> URLPattern | URLResolver:
    """`pattern` moved into release `number` when it is a map's URL (and not the releases')."""
    if isinstance(pattern, URLResolver):
        patterns = [_in_release(p, number) for p in pattern.url_patterns]
        return URLResolver(
            pattern.pattern, patterns, pattern.default_kwargs,
            app_name=pattern.app_name, namespace=pattern.namespace,
        )
    route = str(pattern.pattern)
    if not isinstance(pattern.pattern, RoutePattern) or not route.startswith(MAP_ROUTE) \
            or route.startswith(f"{MAP_ROUTE}releases/"):
        return pattern
    moved = f"{MAP_ROUTE}releases/{number}/{route.removeprefix(MAP_ROUTE)}"
    return path(moved, pattern.callback, pattern.default_args, name=pattern.name)


class ReleaseURLConf:
    """The site's URLs with every map URL inside release `number` (see the module's docstring)."""

    def __init__(self, number: int) -> None:
        root = __import__(settings.ROOT_URLCONF, fromlist=["urlpatterns"])
        self.urlpatterns = [_in_release(p, number) for p in root.urlpatterns]
        self.handler400 = getattr(root, "handler400", None)
        self.handler500 = getattr(root, "handler500", None)
        self.number = number

    def __repr__(self) -> str:  # names the URLconf in Django's messages
        return f"<URLs of release {self.number}>"


@functools.lru_cache(maxsize=256)
def release_urlconf(number: int) -> ReleaseURLConf:
    return ReleaseURLConf(number)


class ReleaseMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        match = MAP_PATH.match(request.path_info)
        if match is None or request.method not in ("GET", "HEAD"):
            return self.get_response(request)
        slug, number = match["slug"], match["number"]
        if number is not None:
            release = visible_release(slug, int(number), request.user)
            if release is None:
                raise Http404("No such release of this map.")
            # Django takes any object with `urlpatterns` as a URLconf, though typed as a name.
            request.urlconf = release_urlconf(release.number)  # type: ignore[assignment]
            request.release_notice = ReleaseNotice(release, working_copy=False)  # type: ignore[attr-defined]
            reads: Release | None = release
        else:
            latest = latest_release(slug, request.user)
            if latest is None:
                return self.get_response(request)
            working = reads_working_copy(request.user, latest)
            request.release_notice = ReleaseNotice(latest, working_copy=working)  # type: ignore[attr-defined]
            reads = None if working else latest
        with reading(reads):
            response = self.get_response(request)
        if reads is not None and isinstance(response, StreamingHttpResponse):
            content: Any = response.streaming_content  # a WSGI server's: synchronous
            response.streaming_content = streamed_within(reads, iter(content))
        # Who reads which copy depends on the session; the URL alone does not say.
        patch_vary_headers(response, ("Cookie",))
        return response
