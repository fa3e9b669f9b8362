"""What every partner API view shares: errors, parameters, pagination, conditional GET."""

from __future__ import annotations

import math
from calendar import timegm
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import Any, NoReturn

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import F, QuerySet
from django.http import Http404, HttpRequest, HttpResponseBase
from django.urls import reverse
from django.utils.cache import get_conditional_response, patch_vary_headers
from django.utils.http import http_date, quote_etag
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import MethodNotAllowed, NotAuthenticated, NotFound
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import SAFE_METHODS, AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle
from rest_framework.views import APIView

from api.authentication import TOKEN_IGNORED_HEADER, ExpiringTokenAuthentication
from api.errors import InvalidParameter, logger, model_errors, server_error_response
from api.renderers import table
from api.schema import filter_parameters
from api.serializers import MAX_INT, ErrorSerializer
from evidence import selectors
from evidence.columns import STUDY_JSON_ONLY
from evidence.filters import StudyFilters
from evidence.models import EvidenceMap, Intervention, Outcome
from evidence.releases.context import reading, streamed_within
from evidence.releases.selectors import latest_release, reads_working_copy, visible_release
from studies.models import can_see_drafts

# Bumped when a response shape changes, so that cached copies are not reused.
API_REVISION = "2"


# --- Shared pieces ---


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


READ_ERRORS = {
    400: _error("A query parameter cannot be used (unknown, or a bad `format`); `fields` names it."),
    404: _error("Not found (or not visible to this client)."),
    429: _error("Too many requests; retry after the number of seconds in Retry-After."),
}
LIST_ERRORS = {**READ_ERRORS, 400: _error("A query parameter cannot be used; `fields` names it.")}
WRITE_ERRORS = {
    400: _error("Invalid input; `fields` maps each field to its messages. Nothing was changed."),
    401: _error("No or invalid token."),
    403: _error("The user lacks the role this write needs on the map (the message names it)."),
    404: _error("Not found."),
    413: _error("The body is larger than the limit (MAX_BODY_BYTES). Nothing was changed."),
    415: _error("The body is not JSON. Nothing was changed."),
}

FILTER_PARAMETERS = filter_parameters()
MAP_PARAMETER = OpenApiParameter("map", str, description="Slug of a map.")
NODE_PARAMETERS = [
    OpenApiParameter("intervention", int, description="Intervention id (with its sub-categories)."),
    OpenApiParameter("outcome", int, description="Outcome id (with its sub-categories)."),
]
SYNC_PARAMETERS = [
    OpenApiParameter(
        "updated_since", str,
        description="Only records changed at or after this ISO 8601 date or time (UTC without an offset), "
        "e.g. 2026-01-31T12:00:00Z. Deletions are listed by /api/v1/maps/{slug}/changes/.",
    ),
    OpenApiParameter(
        "ordering", str,
        description='Comma-separated field names, "-" before one for descending; the id always breaks ties.',
    ),
]
PAGE_PARAMETERS = [
    OpenApiParameter("page", int, description="Page number (from 1)."),
    OpenApiParameter("page_size", int, description="Results per page (default 50, at most 500)."),
]


def _check_parameters(params: Mapping[str, Any]) -> None:
    """Reject characters no database accepts in a query, before any query runs."""
    for name in params:
        values = params.getlist(name) if hasattr(params, "getlist") else [params[name]]
        if any("\x00" in str(v) for v in values):
            raise InvalidParameter(name, _("contains a NUL character."))


def _id_parameter(params: Mapping[str, Any], name: str) -> int | None:
    raw = params.get(name)
    if raw in (None, ""):
        return None
    try:
        value = int(str(raw))
    except ValueError:
        raise InvalidParameter(name, _("%(value)s is not an id.") % {"value": repr(raw)}) from None
    if not 1 <= value <= MAX_INT:
        raise InvalidParameter(name, _("%(value)s is not an id.") % {"value": value})
    return value


def _nodes_below(
    model: type[Intervention] | type[Outcome], params: Mapping[str, Any], name: str, map_ids: list[int]
) -> set[int] | None:
    """The node a filter names and its sub-categories (None without the filter)."""
    node_id = _id_parameter(params, name)
    if node_id is None:
        return None
    nodes = selectors.with_descendants(model, node_id, map_ids)
    if not nodes:
        raise InvalidParameter(name, _("No %(name)s %(id)s on the visible maps.") % {"name": name, "id": node_id})
    return nodes


MAX_PAGE_SIZE = 500

# Query parameters that every view takes, and those of paginated lists and of sync.
COMMON_PARAMETERS = frozenset({"format"})
PAGE_NAMES = frozenset({"page", "page_size"})
SYNC_NAMES = frozenset({"updated_since", "ordering"})
FILTER_NAMES = StudyFilters.parameter_names()


def _whole_number(params: Mapping[str, Any], name: str, *, low: int, high: int) -> int | None:
    raw = params.get(name)
    if raw is None:
        return None
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise InvalidParameter(name, _("%(value)s is not a whole number.") % {"value": repr(raw)}) from None
    if not low <= value <= high:
        raise InvalidParameter(name, _("%(value)s is out of range: %(low)s to %(high)s.") % {
            "value": value, "low": low, "high": high})
    return value


def updated_since(params: Mapping[str, Any], name: str = "updated_since") -> datetime | None:
    """An ISO 8601 date or date and time (UTC when it has no offset); unparseable is a 400."""
    raw = params.get(name)
    if raw is None:
        return None
    text = str(raw).strip()
    if "T" in text and " " in text:  # an unencoded "+01:00" arrives as " 01:00"
        text = text.replace(" ", "+")
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidParameter(
            name, _("%(value)s is not an ISO 8601 date or time (e.g. 2026-01-31 or 2026-01-31T12:00:00Z).") % {
                "value": repr(raw)}
        ) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _ordering_fields(params: Mapping[str, Any], allowed: Mapping[str, str]) -> list[tuple[str, bool]]:
    """`ordering=year,-id` as (field, descending) pairs of whitelisted names."""
    raw = params.get("ordering")
    if raw is None or not str(raw).strip():
        return []
    fields: list[tuple[str, bool]] = []
    for name in str(raw).split(","):
        name = name.strip()
        key = name.removeprefix("-")
        if key not in allowed:
            raise InvalidParameter("ordering", _("%(value)s is not one of: %(allowed)s.") % {
                "value": repr(key), "allowed": ", ".join(sorted(allowed))})
        fields.append((allowed[key], name.startswith("-")))
    return fields


def ordering(params: Mapping[str, Any], allowed: Mapping[str, str], default: tuple[Any, ...]) -> tuple[Any, ...]:
    """The `ordering` asked for (nulls last on every database), then the id so that pages
    are stable; `default` without one."""
    fields = _ordering_fields(params, allowed)
    if not fields:
        return default
    order: list[Any] = [F(name).desc(nulls_last=True) if descending else F(name).asc(nulls_last=True)
                        for name, descending in fields]
    if "pk" not in {name for name, _ in fields}:
        order.append("pk")
    return tuple(order)


def sorted_rows(params: Mapping[str, Any], rows: list[Any], allowed: Mapping[str, str]) -> list[Any]:
    """`rows` (objects or dicts, in their default order) sorted by `ordering`, nulls last;
    the same names and errors as `ordering`."""

    def value(row: Any, name: str) -> Any:
        return row.get(name) if isinstance(row, Mapping) else getattr(row, name)

    for name, descending in reversed(_ordering_fields(params, allowed)):
        present = [r for r in rows if value(r, name) is not None]
        missing = [r for r in rows if value(r, name) is None]
        rows = [*sorted(present, key=lambda r: value(r, name), reverse=descending), *missing]
    return rows


class Pagination(PageNumberPagination):
    """Pages of a list; `page` and `page_size` out of range are a 400 naming them."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> list[Any] | None:
        params = request.query_params
        page = _whole_number(params, "page", low=1, high=MAX_INT) or 1
        self.page_size = _whole_number(params, "page_size", low=1, high=MAX_PAGE_SIZE) or self.page_size
        self.request = request
        paginator = self.django_paginator_class(queryset, self.page_size)
        last = max(1, math.ceil(paginator.count / self.page_size))
        if page > last:
            raise InvalidParameter("page", _("%(page)s is past the last page (%(last)s).") % {"page": page, "last": last})
        self.page = paginator.page(page)
        return list(self.page)

    def get_page_size(self, request: Any) -> int:
        return self.page_size


def _rate_limit(throttles: list[BaseThrottle]) -> tuple[int, int, int] | None:
    """Limit, remaining and seconds until a request is freed, of the tightest throttle that
    counted this request (whichever SimpleRateThrottle subclasses the view uses)."""
    tightest: tuple[int, int, int] | None = None
    for throttle in throttles:
        history = getattr(throttle, "history", None)
        num_requests = getattr(throttle, "num_requests", None)
        if not isinstance(throttle, SimpleRateThrottle) or history is None or not num_requests:
            continue
        limit, duration = int(num_requests), int(getattr(throttle, "duration", 0) or 0)
        remaining = max(0, limit - len(history))
        oldest = history[-1] if history else throttle.now
        reset = max(0, math.ceil(oldest + duration - throttle.now))
        if tightest is None or remaining < tightest[1]:
            tightest = (limit, remaining, reset)
    return tightest


class ApiView(APIView):
    """JSON views with strict query parameters, conditional GET (ETag and Last-Modified),
    rate-limit headers, and errors in the one JSON error format whatever format was asked."""

    renderer_classes = [JSONRenderer]
    authentication_classes = [ExpiringTokenAuthentication, SessionAuthentication]
    # The query parameters the view takes besides `format` (FILTER_NAMES, PAGE_NAMES, ...).
    query_parameters: frozenset[str] = frozenset()
    # Whether a map's GET reads its releases (`release`; by default the latest for non-members).
    reads_releases = True

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # A method the resource does not have is a 405 for everyone, before permissions
        # (which would answer an anonymous DELETE with 401).
        method = (request.method or "").lower()
        if method not in self.http_method_names or not hasattr(self, method):
            raise MethodNotAllowed(request.method or "")
        super().initial(request, *args, **kwargs)
        self.check_query_parameters(request)
        self.read_release(request)

    def release_map_slug(self, request: Request) -> str | None:
        """The map whose releases this GET reads: its URL's, or a list's `map` parameter's."""
        if not self.reads_releases or request.method not in SAFE_METHODS:
            return None
        slug = self.kwargs.get("slug")
        if slug is None and "map" in self.query_parameters:
            slug = request.query_params.get("map") or None
        return str(slug) if slug is not None else None

    def read_release(self, request: Request) -> None:
        """Read the release asked for (`release`), else the map's latest one unless the client
        is one of its members; the response is built from it (evidence.releases)."""
        slug = self.release_map_slug(request)
        if slug is None:
            return
        number = _whole_number(request.query_params, "release", low=1, high=MAX_INT)
        if number is not None:
            release = visible_release(slug, number, request.user)
            if release is None:
                raise NotFound(f"This map has no release {number}.")
        else:
            release = latest_release(slug, request.user)
            if release is None or reads_working_copy(request.user, release):
                return
        self._release = release
        self._release_stack = ExitStack()
        self._release_stack.enter_context(reading(release))

    def check_query_parameters(self, request: Request) -> None:
        allowed = COMMON_PARAMETERS | self.query_parameters
        if self.reads_releases and ("slug" in self.kwargs or "map" in self.query_parameters):
            allowed |= {"release"}
        if request.method not in SAFE_METHODS:
            allowed = COMMON_PARAMETERS
        for name in request.query_params:
            if name not in allowed:
                known = ", ".join(sorted(allowed))
                raise InvalidParameter(name, _("Unknown query parameter; this resource takes: %(known)s.") % {"known": known})

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        try:
            return super().perform_content_negotiation(request, force)
        except Http404:
            formats = ", ".join(sorted({r.format for r in self.get_renderers()}))
            raise InvalidParameter("format", _("%(value)s is not one of: %(allowed)s.") % {
                "value": repr(request.query_params.get("format")), "allowed": formats}) from None

    def get_throttles(self) -> list[BaseThrottle]:
        # Kept, so that the response can say how much of the rate is left.
        self._throttles: list[BaseThrottle] = super().get_throttles()
        return self._throttles

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        """A write runs in one transaction with its answer, rendered inside it: the request
        either commits and answers 2xx, or answers an error and commits nothing (so a client
        that retries after an error never creates a duplicate)."""
        if request.method in SAFE_METHODS:
            return super().dispatch(request, *args, **kwargs)
        with transaction.atomic():
            response = super().dispatch(request, *args, **kwargs)
            try:
                if isinstance(response, Response) and not response.is_rendered:
                    response.render()
            except Exception:
                logger.exception("Internal Server Error: %s", request.path)
                response = server_error_response()
            if response.status_code >= 400:
                transaction.set_rollback(True)
        return response

    def conditional(
        self, request: Request, maps: list[EvidenceMap], build: Callable[[], Response]
    ) -> HttpResponseBase:
        """304 when the client's copy is current; otherwise `build()` with validators attached."""
        # A member's responses hold the drafts of their own maps: their validators are theirs.
        drafts = can_see_drafts(request.user)
        salt = "|".join([
            API_REVISION, request.get_full_path(), request.accepted_renderer.format or "",
            f"drafts:{request.user.pk}" if drafts else "public",
        ])
        version = selectors.version_of(maps, salt=salt, members=drafts)
        etag = quote_etag(version.tag)
        last_modified = timegm(version.last_modified.utctimetuple()) if version.last_modified else None
        response: HttpResponseBase | None = get_conditional_response(
            request._request, etag=etag, last_modified=last_modified
        )
        if response is None:
            response = build()
        response["ETag"] = etag
        if last_modified is not None:
            response["Last-Modified"] = http_date(last_modified)
        response["Cache-Control"] = "private, no-cache" if drafts else "no-cache"
        return response

    def permission_denied(self, request: Request, message: str | None = None, code: str | None = None) -> NoReturn:
        # A resource that needs a signed-in client, asked with a token that was ignored (see
        # api.authentication): the 401 says what was wrong with the token.
        ignored = getattr(request._request, "token_ignored", None)
        if ignored and not request.user.is_authenticated:
            raise NotAuthenticated(ignored)
        super().permission_denied(request, message, code)

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        stack: ExitStack | None = getattr(self, "_release_stack", None)
        if stack is not None:  # the response's data is built: the release is read no more
            stack.close()
            if getattr(response, "streaming", False):
                response.streaming_content = streamed_within(self._release, iter(response.streaming_content))
        if isinstance(response, Response) and response.status_code >= 400:
            # Errors are JSON whatever format was asked for (a CSV client gets a JSON 400).
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        response = super().finalize_response(request, response, *args, **kwargs)
        patch_vary_headers(response, ("Accept", "Authorization", "Cookie"))
        limits = _rate_limit(getattr(self, "_throttles", []))
        if limits is not None:
            response["RateLimit-Limit"], response["RateLimit-Remaining"], response["RateLimit-Reset"] = map(str, limits)
        ignored = getattr(request._request, "token_ignored", None)
        if ignored:
            response[TOKEN_IGNORED_HEADER] = f"{ignored} Answered as for an anonymous client."
        return response

    def page(self, request: Request, rows: QuerySet[Any], serializer: type[Any]) -> Response:
        """A page of `rows` in JSON, or all of them as CSV."""
        if self.is_csv(request):
            columns = [name for name in serializer().fields if name not in STUDY_JSON_ONLY]
            return Response(table(columns, serializer(rows, many=True).data))
        paginator = Pagination()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(serializer(page, many=True).data)

    def is_csv(self, request: Request) -> bool:
        return getattr(request.accepted_renderer, "format", "") == "csv"

    def map_or_404(self, request: Request, slug: str, *, counts: bool = False) -> EvidenceMap:
        """The visible map (its versions included); with `counts`, its number of studies too."""
        maps = selectors.visible_maps(request.user)
        found = (selectors.with_counts(maps) if counts else maps).filter(slug=slug).first()
        if found is None:
            raise NotFound()
        return found


def _saved(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except DjangoValidationError as exc:
        raise model_errors(exc) from None



def _requested_maps(request: Request, params: Any) -> list[EvidenceMap]:
    """The maps a list covers (with their versions): the `map` parameter's, or all visible."""
    maps_qs = selectors.visible_maps(request.user)
    if params.get("map"):
        maps_qs = maps_qs.filter(slug=params["map"])
    maps = list(maps_qs)
    if params.get("map") and not maps:
        raise InvalidParameter("map", _("No map %(map)s.") % {"map": repr(params["map"])})
    return maps


@extend_schema(exclude=True)
class ApiRootView(ApiView):
    """/api/v1/: where each resource is, for a client that starts here."""

    permission_classes = [AllowAny]

    def get(self, request: Request) -> HttpResponseBase:
        def url(name: str) -> str:
            return request.build_absolute_uri(reverse(f"api:{name}"))

        # Validators from the visible maps: the body does not depend on them, but one
        # convention for every GET keeps clients simple.
        maps = list(selectors.visible_maps(request.user))
        return self.conditional(request, maps, lambda: Response({
            "version": "v1",
            "maps": url("maps"),
            "studies": url("studies"),
            "effect_sizes": url("effect-sizes"),
            "schema": url("schema"),
            "docs": url("docs"),
            "map_resources": {
                "map": "maps/{slug}/", "interventions": "maps/{slug}/interventions/",
                "outcomes": "maps/{slug}/outcomes/", "code_sets": "maps/{slug}/code-sets/",
                "cells": "maps/{slug}/cells/",
                "cell": "maps/{slug}/cells/{intervention_id}/{outcome_id}/",
                "changes": "maps/{slug}/changes/", "dump": "maps/{slug}/dump/",
            },
        }))


@extend_schema(exclude=True)
class NotFoundView(ApiView):
    """Anything else under /api/v1/: a 404 in the API's error format."""

    permission_classes = [AllowAny]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        raise NotFound()  # whatever the method and the parameters

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise NotFound()

    post = put = patch = delete = get

