"""Site-looking bodies for error responses that views return empty (405 in particular)."""

from django.http import HttpRequest, HttpResponse
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
