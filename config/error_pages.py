"""Site-looking bodies for error responses that views return empty (405 in particular),
and the page of a form refused by the CSRF check."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string

PAGES = {405: "405.html"}


class ErrorPageMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        template = PAGES.get(response.status_code)
        if template and not response.content and not response.streaming:
            response.content = render_to_string(template, request=request)
            response["Content-Type"] = "text/html; charset=utf-8"
        return response


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: a form refused for its missing or stale CSRF token gets the
    site's 403 page saying what to do, never Django's own (unstyled under our CSP, and it
    names DEBUG and settings). `reason` is Django's wording for developers: logged only."""
    return render(request, "403_csrf.html", status=403)
