"""A Content-Security-Policy for every response: scripts and styles from our own origin only."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

# No 'unsafe-inline' anywhere: our templates carry no inline script, style attribute or
# event handler. Plotly is told not to inject its <style> element (templates/base.html links
# static/css/plotly.css with id="plotly.js-style-global" class="no-inline-styles" instead) and
# sets the remaining styles through the CSSOM, which style-src does not restrict.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "img-src 'self' data: blob:",
    "style-src 'self'",
    "script-src 'self'",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "frame-ancestors 'none'",
    "base-uri 'self'",
    "form-action 'self'",
])


# The API's interactive documentation (Swagger UI) brings its own inline bootstrap script;
# JSON responses need no policy, so the API keeps whatever headers its views set.
EXEMPT_PREFIXES = ("/api/",)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path.startswith(EXEMPT_PREFIXES):
            return response
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response
