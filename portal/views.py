"""Public pages: thin views over the selectors and the synthesis layer.

The downloads (studies as CSV and RIS, a cell's effect sizes) are interchange's views."""

from __future__ import annotations

import gzip
import json
import math
import re
from collections.abc import Callable
from dataclasses import replace
from functools import wraps
from typing import Any

from django.core.paginator import Page, Paginator
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import get_conditional_response, patch_vary_headers
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET

from config.middleware import content_security_policy
from evidence import overview, selectors, versions
from evidence.filters import FilterError, StudyFilters, StudyFilterSet
from evidence.models import EvidenceMap
from evidence.releases import selectors as release_selectors
from evidence.stats.interpret import describe_preset, describe_rules
from evidence.synthesis import Cell, MapEvidence, map_evidence, reproduce
from evidence.synthesis.presenter import direction_note, present_sensitivity
from evidence.synthesis.segments import MAP_DEFAULT, map_segments
from evidence.synthesis.sensitivity import (
    CORRELATIONS,
    LEAVE_ONE_OUT_MAX_K,
    LEAVE_ONE_OUT_MAX_STUDIES,
    TRIM_AND_FILL_MAX_K,
    TRIM_AND_FILL_MIN_K,
    cell_sensitivity,
)
from evidence.synthesis.subgroups import BUILT_IN_FACTORS, SubgroupView, explain_cell, subgroup_plot
from portal import standalone
from portal.data import (
    data_summary,
    forest_json,
    map_json,
    map_table,
    oriented_effects,
    sensitivity_json,
)
from portal.forms import FilterField, chosen_filters, described_filters, filter_fields
from portal.i18n import say
from studies.effect_sizes import G_BOUND, VAR_G_MAX, VAR_G_MIN
from studies.models import StudyDesign, can_see_drafts

View = Callable[..., HttpResponse]


def _bad_filter(request: HttpRequest, evidence_map: EvidenceMap, error: FilterError) -> HttpResponse:
    context = {"map": evidence_map, "error": error, "clear_url": request.path}
    return render(request, "portal/bad_filter.html", context, status=400)


def with_filters(view: View) -> View:
    """Resolve the map and the filters; a bad filter value gets a 400 page."""

    @wraps(view)
    def wrapper(request: HttpRequest, slug: str, **kwargs: Any) -> HttpResponse:
        evidence_map = selectors.visible_map(slug, request.user)
        try:
            filters = StudyFilters.from_query(request.GET, maps=[evidence_map])
        except FilterError as error:
            if request.path.endswith(".json"):
                return JsonResponse({"error": error.message, "field": error.field}, status=400)
            return _bad_filter(request, evidence_map, error)
        return view(request, evidence_map, filters, **kwargs)

    return require_GET(wrapper)


def _with_query(url: str, filters: StudyFilters) -> str:
    query = filters.to_query()
    return f"{url}?{query}" if query else url


def home(request: HttpRequest) -> HttpResponse:
    """The maps, each with its latest release, search dates and update plan."""
    maps = list(selectors.maps_with_counts(request.user))
    latest = release_selectors.latest_by_map([m.pk for m in maps])
    rows = [{"map": m, "release": latest.get(m.pk)} for m in maps]
    return render(request, "portal/home.html", {"maps": rows})


# The map page's view settings in its URL (portal/static/portal/js/map/view.js reads and
# writes them; README "The map's URL"). The filters (evidence.filters) ignore them, and none
# may be the name of a filter (a test checks).
VIEW_PARAMETERS = {
    "view": "bubbles (the default) or heat (a heat map)",
    "colour": "the bubbles' colour: effect (the default) or confidence",
    "shade": "the heat map's shade: studies (the default) or g (pooled effect)",
    "seg": "segment the bubbles by: design, or a code set's slug (shown only when present)",
    "fold_i": "folded intervention categories: ids, comma-separated",
    "fold_o": "folded outcome categories: ids, comma-separated",
    "changes": "previous: outline the cells changed since the previous release (portal/js/map_changes.js)",
}
SEGMENT_BY_DESIGN = "design"


def _segment_choices(evidence_map: EvidenceMap) -> list[tuple[int, str, str]]:
    return versions.cached(
        versions.cache_key("segment-choices", evidence_map), lambda: selectors.segment_choices(evidence_map)
    )


def _segment_set(request: HttpRequest, evidence_map: EvidenceMap) -> tuple[str, int | None]:
    """The `seg` parameter of data.json, normalised ("" the map's default), and the code set it
    names (None: by study design); raise FilterError for a set the map does not offer."""
    asked = str(request.GET.get("seg", ""))
    if not asked:
        return "", MAP_DEFAULT
    if asked == SEGMENT_BY_DESIGN:
        return asked, None
    choices = _segment_choices(evidence_map)
    for pk, slug, _name in choices:
        if slug == asked:
            return ("" if pk == evidence_map.segment_code_set_id else slug), pk
    offered = ", ".join([SEGMENT_BY_DESIGN, *(slug for _, slug, _ in choices)])
    raise FilterError("seg", _("“%(asked)s” is not a code set this map segments by; choose from %(offered)s.") % {
        "asked": asked, "offered": offered})


def data_document(evidence_map: EvidenceMap, filters: StudyFilters, seg: str, code_set_id: int | None) -> bytes:
    """data.json's body, computed once per map version, filters and segmenting set: the map
    page reads its table view from the same cached document."""

    def document() -> bytes:
        evidence = map_evidence(evidence_map, filters)
        slug = {"slug": evidence_map.slug}
        urls = {
            "page": _with_query(reverse("portal:map", kwargs=slug), filters),
            "studies_csv": _with_query(reverse("interchange:studies_csv", kwargs=slug), filters),
            "studies_ris": _with_query(reverse("interchange:studies_ris", kwargs=slug), filters),
            "download": _with_query(reverse("portal:map_download", kwargs=slug), filters),
            "embed": _with_query(reverse("portal:map_embed", kwargs=slug), filters),
        }
        data = map_json(
            evidence, cell_url=_cell_url_template(evidence_map), urls=urls,
            segments=map_segments(evidence, code_set_id),
        )
        return json.dumps(data, cls=DjangoJSONEncoder, separators=(",", ":")).encode()

    return versions.cached(_data_key(evidence_map, filters, seg), document)


def _data_key(evidence_map: EvidenceMap, filters: StudyFilters, seg: str) -> str:
    query = filters.to_query()
    return versions.cache_key("data.json", evidence_map, f"{query}|seg={seg}" if seg else query)


def _filter_fields(request: HttpRequest, evidence_map: EvidenceMap, filters: StudyFilters) -> list[FilterField]:
    members = can_see_drafts(request.user, evidence_map)
    options = versions.cached(
        versions.cache_key("filter-options", evidence_map, members=members),
        lambda: selectors.map_filter_options(evidence_map, request.user),
    )
    filterset = StudyFilterSet(queryset=selectors.map_studies(evidence_map, request.user), options=options)
    return filter_fields(filterset, filters)


@with_filters
def map_page(request: HttpRequest, evidence_map: EvidenceMap, filters: StudyFilters) -> HttpResponse:
    """The filters form, the table view of every cell with studies (readable without script)
    and the grid, which the map script draws from map_data.

    Queries (beyond the session's): the map; on a cache miss, the filter options', the
    segmenting choices' and map_data's."""
    slug = {"slug": evidence_map.slug}
    choices = _segment_choices(evidence_map)
    default = next((slug for pk, slug, _ in choices if pk == evidence_map.segment_code_set_id), SEGMENT_BY_DESIGN)
    table_key = _data_key(evidence_map, filters, "") + ":table"
    table = versions.cached(table_key, lambda: _map_table(evidence_map, filters))
    context = {
        "map": evidence_map,
        "filters": filters,
        "filter_fields": _filter_fields(request, evidence_map, filters),
        "segment_choices": [(slug, name) for _, slug, name in choices],
        "segment_default": default,
        "table": table,
        "data_url": reverse("portal:map_data", kwargs=slug),
        "download_url": _with_query(reverse("portal:map_download", kwargs=slug), filters),
        # The HTML a partner pastes (the map script points it at the filters as they change).
        "embed_snippet": render_to_string("portal/embed_snippet.html", {
            "map": evidence_map,
            "embed_url": request.build_absolute_uri(_with_query(reverse("portal:map_embed", kwargs=slug), filters)),
        }),
    }
    return render(request, "portal/map.html", context)


@with_filters
def overview_page(request: HttpRequest, evidence_map: EvidenceMap, filters: StudyFilters) -> HttpResponse:
    """The shape of the (filtered) evidence: charts of the studies by year, design, region,
    confidence, appraisal and country, each with its data table and CSV.

    Queries: the map; on a cache miss, overview.compute_overview's four (and the code filter's).
    """
    summary = overview.map_overview(evidence_map, filters, request.user)
    query = filters.to_query()
    slug = evidence_map.slug
    charts = [
        {"chart": chart, "csv_url": _with_query(
            reverse("interchange:overview_csv", kwargs={"slug": slug, "chart": chart.name}), filters)}
        for chart in summary.charts
    ]
    context = {
        "map": evidence_map,
        "filters": filters,
        "active_filters": chosen_filters(_filter_fields(request, evidence_map, filters)),
        "overview": summary,
        "charts": charts,
        "overview_data": summary.as_json(),
        "map_url": _with_query(reverse("portal:map", kwargs={"slug": slug}), filters),
        "clear_url": request.path if query else "",
    }
    return render(request, "portal/overview.html", context)


def _map_table(evidence_map: EvidenceMap, filters: StudyFilters) -> dict[str, Any]:
    """The table view as the page prints it, from data.json's cached document."""
    data = _map_data(evidence_map, filters)
    return {**map_table(data), "summary": data_summary(data)}


def _cell_url_template(evidence_map: EvidenceMap) -> str:
    url = reverse("portal:cell", kwargs={"slug": evidence_map.slug, "intervention_id": 1, "outcome_id": 2})
    return url.replace("/1/2/", "/{i}/{o}/")


@with_filters
def map_data(request: HttpRequest, evidence_map: EvidenceMap, filters: StudyFilters) -> HttpResponse:
    """Every cell of the filtered map as JSON, cached under the map's version, the filters and
    the segmenting code set (`seg`; by default the map's).

    Queries: the map (for its version); on a cache miss, also map_evidence's, and with a
    segmenting code set the set's codes and codings (with `seg`, first the sets offered).
    """
    try:
        seg, code_set_id = _segment_set(request, evidence_map)
    except FilterError as error:
        return JsonResponse({"error": error.message, "field": error.field}, status=400)
    query = filters.to_query()
    # Weak: the same JSON goes out compressed or not.
    tag = "W/" + versions.etag("data.json", evidence_map, f"{query}|seg={seg}" if seg else query)
    not_modified = get_conditional_response(request, etag=tag)
    if not_modified is None:
        key = _data_key(evidence_map, filters, seg)
        response: HttpResponse
        if _accepts_gzip(request):
            # Compressed once per version, not once per request, and kept on its own so that a
            # request fetches only the form it sends.
            compressed = versions.cached(
                key + ":gzip",
                lambda: gzip.compress(data_document(evidence_map, filters, seg, code_set_id), compresslevel=6, mtime=0),
            )
            response = HttpResponse(compressed, content_type="application/json")
            response["Content-Encoding"] = "gzip"
        else:
            response = HttpResponse(data_document(evidence_map, filters, seg, code_set_id), content_type="application/json")
        patch_vary_headers(response, ("Accept-Encoding",))
    else:
        response = not_modified
    response["ETag"] = tag
    response["Cache-Control"] = "no-cache"
    return response


def _map_data(evidence_map: EvidenceMap, filters: StudyFilters) -> dict[str, Any]:
    """data.json's document, from the cache that map_data fills."""
    loaded: dict[str, Any] = json.loads(data_document(evidence_map, filters, "", MAP_DEFAULT))
    return loaded


def _absolute_links(request: HttpRequest, data: dict[str, Any]) -> dict[str, Any]:
    """data.json with its links made absolute: a file opened from disk has no site to resolve
    "/maps/..." against."""
    site = request.build_absolute_uri("/").rstrip("/")
    return {**data, "cell_url": site + data["cell_url"], "urls": {k: site + v for k, v in data["urls"].items()}}


@with_filters
def map_embed(request: HttpRequest, evidence_map: EvidenceMap, filters: StudyFilters) -> HttpResponse:
    """The grid alone, for partners' pages: framed only by the origins the map allows (its
    policy's frame-ancestors), and by none when it allows none (X-Frame-Options: DENY too)."""
    origins = evidence_map.embed_origin_list
    context = {
        "map": evidence_map,
        "filters": filters,
        "data": _map_data(evidence_map, filters),
        "filters_text": described_filters(_filter_fields(request, evidence_map, filters)),
        "map_url": request.build_absolute_uri(_with_query(evidence_map.get_absolute_url(), filters)),
    }
    response = render(request, "portal/embed.html", context)
    response["Content-Security-Policy"] = content_security_policy(frame_ancestors=origins)
    # X-Frame-Options cannot name origins: it goes (Django's middleware adds it otherwise).
    response.xframe_options_exempt = bool(origins)
    return response


@with_filters
def map_download(request: HttpRequest, evidence_map: EvidenceMap, filters: StudyFilters) -> HttpResponse:
    """The map as shown, as one HTML file that draws it offline: the data, the map's script and
    styles inside, and its own policy allowing exactly those (portal.standalone)."""
    script = standalone.inline_safe(standalone.link_modules(), "script")
    style = standalone.inline_safe(standalone.map_style(), "style")
    made = timezone.now()
    context = {
        "map": evidence_map,
        "data": _absolute_links(request, _map_data(evidence_map, filters)),
        "filters_text": described_filters(_filter_fields(request, evidence_map, filters)),
        "map_url": request.build_absolute_uri(_with_query(evidence_map.get_absolute_url(), filters)),
        "made": made,
        "script": script,
        "style": style,
        "policy": standalone.standalone_policy(script=script, style=style),
        "segment_code_set": evidence_map.segment_code_set,
    }
    response = render(request, "portal/standalone.html", context)
    name = f"{evidence_map.slug}-map-{made:%Y-%m-%d}.html"
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=name)
    return response


def _accepts_gzip(request: HttpRequest) -> bool:
    """The rule Django's GZipMiddleware applies to every other response."""
    return bool(re.search(r"\bgzip\b", request.headers.get("Accept-Encoding", "")))


def _cell_evidence(
    evidence_map: EvidenceMap, filters: StudyFilters, intervention_id: int, outcome_id: int
) -> MapEvidence:
    evidence = versions.cell_evidence(evidence_map, filters, (intervention_id, outcome_id))
    if intervention_id not in evidence.interventions or outcome_id not in evidence.outcomes:
        raise Http404("No such cell on this map.")
    return evidence


@with_filters
def cell_page(
    request: HttpRequest, evidence_map: EvidenceMap, filters: StudyFilters, intervention_id: int, outcome_id: int
) -> HttpResponse:
    evidence = _cell_evidence(evidence_map, filters, intervention_id, outcome_id)
    cell = evidence.cell(intervention_id, outcome_id)
    intervention = evidence.interventions[intervention_id]
    outcome = evidence.outcomes[outcome_id]
    page: Page[Any]
    if len(cell.study_ids) <= STUDIES_PER_PAGE:
        page_studies = selectors.studies_by_ids(evidence_map, cell.study_ids)
        page = Paginator(page_studies, STUDIES_PER_PAGE).get_page(1)
    else:
        # A big cell: page through the ids in citation order, then load that page's studies
        # only (a busy aggregate holds thousands, abstracts and all).
        ordered = selectors.study_ids_in_citation_order(cell.study_ids)
        page = Paginator(ordered, STUDIES_PER_PAGE).get_page(request.GET.get("page"))
        page_studies = selectors.studies_by_ids(evidence_map, list(page.object_list))
    # The effect sizes of this page's studies (a big cell's funnel plot takes every effect
    # size's g and SE from the cell itself, so the page stays small).
    on_page = None if page.paginator.num_pages == 1 else {s.pk for s in page_studies}
    effects = oriented_effects(selectors.effect_sizes_by_ids(cell.effect_ids, studies=on_page), cell)
    citations = {s.pk: s.short_citation for s in page_studies}
    effects_by_study: dict[int, list[Any]] = {}
    for row in effects:
        effects_by_study.setdefault(row["es"].study_id, []).append(row)
    note = direction_note(evidence, cell)
    others = selectors.outcomes_of_studies(cell.study_ids)
    other_outcomes = [
        {"node": node, "n_studies": len(others[node.id]),
         "url": _with_query(reverse("portal:cell", kwargs={
             "slug": evidence_map.slug, "intervention_id": intervention_id, "outcome_id": node.id}), filters)}
        for node in evidence.outcomes.values()
        if node.id in others and node.id not in outcome.ancestors and outcome_id not in node.ancestors
    ]
    result = cell.result
    # "Why do the studies differ?", computed once per map version, filters, cell and choice.
    factor = str(request.GET.get("differ", ""))
    if factor not in BUILT_IN_FACTORS and not factor.startswith("code:"):
        factor = ""  # the default, under one key
    where = f"{filters.to_query()}|{intervention_id}|{outcome_id}|{factor}"
    differ = _said_differ(versions.cached(
        versions.cache_key("differ", evidence_map, where), lambda: explain_cell(evidence_map, cell, factor or None)
    ))
    context = {
        **_cell_texts(cell),
        **_sensitivity(evidence_map, filters, cell, citations, paged=page.paginator.num_pages > 1),
        "differ": differ,
        "differ_plot": subgroup_plot(differ),
        "map": evidence_map,
        "filters": filters,
        "query": filters.to_query(),
        "intervention": intervention,
        "outcome": outcome,
        "intervention_path": [evidence.interventions[a] for a in intervention.ancestors[:-1]],
        "outcome_path": [evidence.outcomes[a] for a in outcome.ancestors[:-1]],
        "cell": cell,
        "result": result,
        "model": _model_description(evidence_map, result),
        "summary": selectors.cell_summary(evidence_map, intervention_id, outcome_id),
        "studies": [{"study": s, "effects": effects_by_study.get(s.pk, [])} for s in page_studies],
        "page": page,
        "page_numbers": list(page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1)),
        "ellipsis": page.paginator.ELLIPSIS,
        "designs": [(say(StudyDesign(d).label), n) for d, n in cell.designs.items()],
        "direction_note": note,
        **_confidence_texts(cell),
        "forest": forest_json(effects, cell, citations=citations, egger_min_k=evidence_map.egger_min_k, note=note),
        "show_funnel": result is not None and cell.n_effects >= evidence_map.egger_min_k,
        "other_outcomes": other_outcomes,
        "map_url": _with_query(evidence_map.get_absolute_url(), filters),
        "effects_csv_url": _with_query(
            reverse("interchange:cell_effects_csv", kwargs={
                "slug": evidence_map.slug, "intervention_id": intervention_id, "outcome_id": outcome_id}),
            filters,
        ),
    }
    return render(request, "portal/cell.html", context)


def _said_differ(view: SubgroupView | None) -> SubgroupView | None:
    """The comparison's words in the reader's language (the API keeps them in English)."""
    if view is None:
        return None
    return replace(
        view, factor_label=say(view.factor_label), choices=[(value, say(label)) for value, label in view.choices],
        rule=say(view.rule), reason=say(view.reason), test=say(view.test), text=say(view.text),
        levels=[replace(level, label=say(level.label)) for level in view.levels],
    )


# Studies shown on one cell page, with their effect sizes in the table and the forest plot.
STUDIES_PER_PAGE = 50


# What the cell and methods pages say about which cells get which sensitivity analysis.
SENSITIVITY_LIMITS = {
    "studies": LEAVE_ONE_OUT_MAX_STUDIES, "effects": LEAVE_ONE_OUT_MAX_K, "min_k": TRIM_AND_FILL_MIN_K,
    "max_k": TRIM_AND_FILL_MAX_K, "correlations": CORRELATIONS,
}


def _sensitivity(
    evidence_map: EvidenceMap, filters: StudyFilters, cell: Cell, citations: dict[int, str], *, paged: bool
) -> dict[str, Any]:
    """The cell's sensitivity analyses in words and the leave-one-out plot's data, computed once
    per map version, filters and cell. A cell whose studies do not all fit on one page names
    the others with one query more, when leave-one-out is run for it."""
    if cell.result is None:
        return {"sensitivity": None}
    where = f"{filters.to_query()}|{cell.intervention_id}|{cell.outcome_id}"
    key = versions.cache_key("sensitivity", evidence_map, where)
    found = versions.cached(key, lambda: cell_sensitivity(evidence_map, cell))
    if found is None:
        return {"sensitivity": None}
    if paged and found.leave_one_out is not None:
        citations = {**selectors.short_citations(cell.study_ids), **citations}
    view = present_sensitivity(evidence_map, cell, found, citations=citations)
    return {
        "sensitivity": view,
        "sensitivity_plot": sensitivity_json(view, cell),
        "sensitivity_limits": SENSITIVITY_LIMITS,
    }


def _fmt(value: float | None, digits: int = 3) -> str:
    return f"{value:.{digits}f}" if value is not None and math.isfinite(value) else _("not estimable")


def _p(value: float | None) -> str:
    """A p-value as printed: "= 0.256", "< 0.001"."""
    if value is None or not math.isfinite(value):
        return _("not estimable")
    return "< 0.001" if value < 0.001 else f"= {value:.3f}"


def _confidence_texts(cell: Cell) -> dict[str, Any]:
    """The cell's confidence rating and its reasons in the reader's language."""
    confidence = cell.confidence
    if confidence is None:
        return {"confidence_reasons": []}
    return {
        "confidence_reasons": [say(reason) for reason in confidence.reasons],
        "confidence_level": say(confidence.level),
        "confidence_computed_level": say(confidence.computed_level),
    }


def _cell_texts(cell: Cell) -> dict[str, Any]:
    """The cell's headline numbers as the page prints them, e.g. "Moderate effect (g = 0.139)"."""
    studies = ngettext("%(n)s study", "%(n)s studies", cell.n_studies) % {"n": cell.n_studies}
    counts = _("%(studies)s; %(effects)s ES") % {"studies": studies, "effects": cell.n_effects}
    texts: dict[str, Any] = {"counts_text": counts, "effect_text": "", "ci_text": "", "confidence_text": ""}
    result = cell.result
    if result is not None and cell.label is not None:
        texts["effect_text"] = _("%(label)s (g = %(g)s)") % {"label": say(cell.label.text), "g": f"{result.estimate:.3f}"}
        texts["ci_text"] = _("95%% confidence interval %(low)s to %(high)s") % {
            "low": _fmt(result.ci_low), "high": _fmt(result.ci_high)}
        texts["pi_text"] = _("95%% prediction interval %(low)s to %(high)s") % {
            "low": _fmt(result.pi_low), "high": _fmt(result.pi_high)}
        texts["heterogeneity"] = {
            "tau2": _fmt(result.tau2),
            "i2": f"{result.i2:.0f}%" if math.isfinite(result.i2) else _("not estimable"),
            "q": _fmt(result.q, 2),
            "q_df": result.q_df,
            "q_p": _p(result.q_p),
            "omega2": _fmt(getattr(result, "omega2", None)),
            "has_omega2": getattr(result, "omega2", None) is not None,
        }
    if cell.confidence is not None:
        level = say(f"{cell.confidence.level.capitalize()} confidence")
        texts["confidence_text"] = _("%(level)s (%(counts)s)") % {"level": level, "counts": counts}
    if cell.egger_p is not None:
        texts["egger_text"] = _("Egger's test for small-study effects: p %(p)s") % {"p": _p(cell.egger_p)}
    return texts


def _model_description(evidence_map: EvidenceMap, result: Any) -> str:
    """How this cell's pooled effect was computed, in words."""
    if result is None:
        return ""
    model = getattr(result, "model", "")
    if model == "CHE":
        if result.df is not None:
            return _(
                "Correlated and hierarchical effects (CHE) working model with ρ = %(rho)s, %(n)s studies; "
                "cluster-robust (%(vcov)s) inference, %(df)s df."
            ) % {"rho": f"{result.rho:g}", "n": result.n_clusters, "vcov": result.vcov, "df": f"{result.df:.1f}"}
        return _(
            "Correlated and hierarchical effects (CHE) working model with ρ = %(rho)s, %(n)s studies; "
            "cluster-robust (%(vcov)s) inference."
        ) % {"rho": f"{result.rho:g}", "n": result.n_clusters, "vcov": result.vcov}
    if model == "univariate":
        return _(
            "Random-effects model, one effect size per study (%(k)s studies): between-study "
            "variance by %(method)s, %(test)s."
        ) % {"k": result.k, "method": say(evidence_map.get_pooling_method_display()),
             "test": say(evidence_map.get_pooling_test_display())}
    if model:
        return _("%(model)s model, %(vcov)s inference, %(n)s studies.") % {
            "model": model, "vcov": result.vcov, "n": getattr(result, "n_clusters", result.k)}
    return _("Random-effects model (%(method)s), %(test)s test.") % {
        "method": say(evidence_map.get_pooling_method_display()), "test": result.test}


def study_page(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    evidence_map = selectors.visible_map(slug, request.user)
    study = selectors.visible_study(evidence_map, pk, request.user)
    effects = [{"es": es, "inputs": es.reported_inputs()} for es in study.effect_sizes.all()]
    context = {
        "map": evidence_map,
        "study": study,
        "effects": effects,
        "doi_url": study.doi_url,
    }
    return render(request, "portal/study.html", context)


def methods_page(request: HttpRequest, slug: str) -> HttpResponse:
    evidence_map = selectors.visible_map(slug, request.user)
    context = {
        "map": evidence_map,
        "bands": say(describe_preset(evidence_map.effect_label_preset)),
        "rules": say(describe_rules(evidence_map.confidence_rules)),
        "pooling_method": say(evidence_map.get_pooling_method_display()),
        "pooling_test": say(evidence_map.get_pooling_test_display()),
        "lower_is_better": selectors.lower_is_better(evidence_map),
        "sensitivity_limits": SENSITIVITY_LIMITS,
        **reproduce.examples(request.build_absolute_uri(reverse("api:cells", kwargs={"slug": evidence_map.slug}))),
        "bounds": {
            "g": f"{G_BOUND:g}", "var_min": f"{VAR_G_MIN:g}", "var_max": f"{VAR_G_MAX:g}",
            "se_min": f"{math.sqrt(VAR_G_MIN):g}", "se_max": f"{math.sqrt(VAR_G_MAX):g}",
        },
    }
    return render(request, "portal/methods.html", context)


def releases_page(request: HttpRequest, slug: str) -> HttpResponse:
    """The map's releases, newest first, with their notes and search dates."""
    evidence_map = selectors.visible_map(slug, request.user)
    context = {"map": evidence_map, "releases": list(release_selectors.map_releases(evidence_map))}
    return render(request, "portal/releases.html", context)


def release_moved(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    """Never reached while portal.releases.ReleaseMiddleware runs: it serves a release's
    URLs from the release's own URL configuration (release_urlconf)."""
    raise Http404("Releases are served through portal.releases.ReleaseMiddleware.")
