"""ninja's bearer authentication, and the one declaration of what each operation needs:
`auth=needs(scope)` on an operation is read both here (a token without the scope is
refused before its body is parsed or anything is written) and by the OpenAPI description
(shortener/api/openapi.py), which documents each operation's scope."""

from django.http import HttpRequest
from ninja.security import HttpBearer

from shortener.links import access
from shortener.tokens import personal as tokens
from shortener.tokens.scopes import SCOPES


class MissingScope(Exception):
    """The token is live but lacks the operation's scope (a 403 problem)."""

    def __init__(self, scope: str | None):
        super().__init__(scope)
        self.scope = scope


class LeftWorkspace(Exception):
    """The token acts for a workspace its user is no longer a member of (a 403 problem)."""


class BearerToken(HttpBearer):
    """`Authorization: Bearer <token>` holding `scope` (for ninja and the OpenAPI security
    scheme). Without a scope it admits nobody: an operation that forgot to declare one is
    closed, not open, and its OpenAPI description fails to build."""

    openapi_description = (
        "A personal API token from the site's API tokens page. Each operation names the "
        "one scope it needs; a token holds those chosen when it was made: "
        + "; ".join(f"`{name}`: {scope.grants.rstrip('.')}" for name, scope in SCOPES.items())
        + "."
    )

    def __init__(self, scope: str | None = None):
        super().__init__()
        self.scope = scope

    def authenticate(self, request: HttpRequest, token: str):
        found = tokens.from_request(request)  # the gate has looked it up: no query again
        if found is None:
            return None  # 401 (problems.install says whether it expired)
        if found.workspace_id is not None and not access.may_enter(found.user, found.workspace):
            raise LeftWorkspace  # its user left the workspace it acts for: it stops at once
        if self.scope is None or not found.may(self.scope):
            raise MissingScope(self.scope)
        return found.user


def needs(scope: str) -> BearerToken:
    """An operation's authentication: a live token that holds `scope`."""
    return BearerToken(scope)


def scope_of(operation) -> str | None:
    """The scope a ninja Operation needs, or None when it needs no token."""
    for callback in operation.auth_callbacks:
        if isinstance(callback, BearerToken):
            return callback.scope
    return None
