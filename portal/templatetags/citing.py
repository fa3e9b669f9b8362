"""{% cell_citation intervention outcome as name %}: a cell page's citation in its release."""

from __future__ import annotations

from typing import Any

from django import template

from portal.release_views import cell_citation as cite

register = template.Library()


@register.simple_tag(takes_context=True)
def cell_citation(context: template.Context, intervention: Any, outcome: Any) -> dict[str, Any] | None:
    request = context.get("request")
    return None if request is None else cite(request, intervention, outcome)
