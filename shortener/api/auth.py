"""ninja's bearer authentication: the token the gate found (shortener.tokens.personal)."""

from django.http import HttpRequest
from ninja.security import HttpBearer

from shortener.tokens import personal as tokens


class BearerToken(HttpBearer):
    """`Authorization: Bearer <token>` (for ninja and the OpenAPI security scheme)."""

    def authenticate(self, request: HttpRequest, token: str):
        found = tokens.from_request(request)  # the gate has looked it up: no query again
        return found.user if found else None
