"""ninja's bearer authentication: the token the gate found (shortener.tokens.personal)."""

from django.http import HttpRequest
from ninja.security import HttpBearer


class BearerToken(HttpBearer):
    """`Authorization: Bearer <token>` (for ninja and the OpenAPI security scheme)."""

    def authenticate(self, request: HttpRequest, token: str):
        found = getattr(request, "api_token", None)  # the gate has looked the token up
        return found.user if found else None
