"""What every partner API view shares: errors, parameters, pagination, conditional GET."""

from __future__ import annotations

from calendar import timegm
from collections.abc import Callable, Mapping
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseBase
from django.urls import reverse
from django.utils.cache import get_conditional_response, patch_vary_headers
from django.utils.http import http_date, quote_etag
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import SAFE_METHODS, AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.errors import InvalidParameter, logger, model_errors, server_error_response
from api.renderers import table
from api.schema import filter_parameters
from api.serializers import MAX_INT, ErrorSerializer
from evidence import selectors
from evidence.models import EvidenceMap, Intervention, Outcome
from studies.models import can_see_drafts

# Bumped when a response shape changes, so that cached copies are not reused.
API_REVISION = "2"


# --- Shared pieces ---


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


READ_ERRORS = {
    404: _error("Not found (or not visible to this client)."),
    429: _error("Too many requests; retry after the number of seconds in Retry-After."),
}
LIST_ERRORS = {400: _error("A query parameter cannot be used; `fields` names it."), **READ_ERRORS}
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
PAGE_PARAMETERS = [
    OpenApiParameter("page", int, description="Page number (from 1)."),
    OpenApiParameter("page_size", int, description="Results per page (default 50, at most 500)."),
]


def _check_parameters(params: Mapping[str, Any]) -> None:
    """Reject characters no database accepts in a query, before any query runs."""
    for name in params:
        values = params.getlist(name) if hasattr(params, "getlist") else [params[name]]
        if any("\x00" in str(v) for v in values):
            raise InvalidParameter(name, "contains a NUL character.")


def _id_parameter(params: Mapping[str, Any], name: str) -> int | None:
    raw = params.get(name)
    if raw in (None, ""):
        return None
    try:
        value = int(str(raw))
    except ValueError:
        raise InvalidParameter(name, f"{raw!r} is not an id.") from None
    if not 1 <= value <= MAX_INT:
        raise InvalidParameter(name, f"{value} is not an id.")
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
        raise InvalidParameter(name, f"No {name} {node_id} on the visible maps.")
    return nodes


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class ApiView(APIView):
    """JSON views with conditional GET (ETag and Last-Modified)."""

    renderer_classes = [JSONRenderer]

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

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        patch_vary_headers(response, ("Accept", "Authorization", "Cookie"))
        return response

    def page(self, request: Request, rows: QuerySet[Any], serializer: type[Any]) -> Response:
        """A page of `rows` in JSON, or all of them as CSV."""
        if self.is_csv(request):
            return Response(table(list(serializer().fields), serializer(rows, many=True).data))
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
        raise InvalidParameter("map", f"No map {params['map']!r}.")
    return maps


@extend_schema(exclude=True)
class ApiRootView(ApiView):
    """/api/v1/: where each resource is, for a client that starts here."""

    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        def url(name: str) -> str:
            return request.build_absolute_uri(reverse(f"api:{name}"))

        return Response({
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
            },
        })


@extend_schema(exclude=True)
class NotFoundView(ApiView):
    """Anything else under /api/v1/: a 404 in the API's error format."""

    permission_classes = [AllowAny]

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise NotFound()

    post = put = patch = delete = get

