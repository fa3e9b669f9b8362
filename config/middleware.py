"""A Content-Security-Policy for every HTML response: scripts and styles from our own origin only,
and no framing except of a map's embed page by the origins the map allows (portal.views.map_embed)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.http import HttpRequest, HttpResponse


# No 'unsafe-inline' anywhere: our templates carry no inline script, style attribute or
# event handler. Plotly is told not to inject its <style> element (portal/templates/base.html links
# portal/css/plotly.css with id="plotly.js-style-global" class="no-inline-styles" instead) and
# sets the remaining styles through the CSSOM, which style-src does not restrict.
def content_security_policy(*, frame_ancestors: Iterable[str] = ()) -> str:
    """The portal's policy; only a map's embed page names the origins that may frame it (and
    sends no X-Frame-Options: DENY), every other page may be framed by none."""
    ancestors = " ".join(frame_ancestors) or "'none'"
    return "; ".join([
        "default-src 'self'",
        "img-src 'self' data: blob:",
        "style-src 'self'",
        "script-src 'self'",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        f"frame-ancestors {ancestors}",
        "base-uri 'self'",
        "form-action 'self'",
    ])


CONTENT_SECURITY_POLICY = content_security_policy()


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # Every HTML page, the API's documentation included; JSON, CSV and files need no
        # policy. A view that sets its own policy keeps it.
        if not response.get("Content-Type", "").startswith("text/html"):
            return response
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response
