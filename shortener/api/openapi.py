"""The served OpenAPI document: ninja's, plus what every operation shares (problems, headers)
and the scope each needs, read from its authentication (shortener/api/auth.py)."""

from django.core.exceptions import ImproperlyConfigured
from ninja import NinjaAPI
from ninja.openapi.schema import OpenAPISchema

from shortener.api.auth import BearerToken, scope_of
from shortener.api.idempotency import KEY_PATTERN

PROBLEM = {
    "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}},
}
COMMON = {
    "400": "Malformed request: a parameter, the JSON body, or an unknown field.",
    "401": "No valid API token (`unauthorized`), or it has expired (`token-expired`); "
    "see WWW-Authenticate.",
    "403": "The API is switched off for this account (`api-disabled`).",
    "429": "Too many requests (`rate-limited`, the `api` rate-limit group); see Retry-After.",
}
BODY = {
    "411": "A chunked body without Content-Length.",
    "413": "The body is over 64 KB.",
    "415": "The body is not application/json.",
    "422": "A field breaks the link rules; `errors` names each field.",
}
IDEMPOTENCY = {
    "409": "A request with this Idempotency-Key is still in flight; retry shortly.",
    "422": "A field breaks the link rules, or the Idempotency-Key was used with another body.",
}
IDEMPOTENCY_HEADER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Any 1 to 255 visible ASCII characters. Retrying with the same key and "
    "body within 24 hours replays the first answer and writes nothing new.",
    "schema": {"type": "string", "pattern": f"^{KEY_PATTERN.pattern}$"},
}
PAGE_HEADERS = {
    "X-Total-Count": {
        "description": "Links in the whole collection.",
        "schema": {"type": "integer"},
    },
    "Link": {
        "description": "RFC 8288 links: first, prev, next, last.",
        "schema": {"type": "string"},
    },
}


def problem_responses(path: str, method: str, operation: dict) -> None:
    # ninja keys responses by int; JSON keys are strings: one kind, so none appears twice
    responses = {str(status): response for status, response in operation["responses"].items()}
    operation["responses"] = responses
    extra = dict(COMMON)
    if path.rstrip("/") == "/api/v1":  # the map needs no token and takes no parameters
        del extra["400"], extra["401"]
    if scope := needed_scope(operation):
        extra["403"] = (
            f"The API is switched off for this account (`api-disabled`), or the token "
            f"lacks the scope `{scope}` (`insufficient-scope`)."
        )
    if method in ("post", "patch", "delete"):
        extra["503"] = "Maintenance (`read-only`): the site is read-only for now; see Retry-After."
    if method in ("post", "patch"):
        extra |= BODY
    if method == "post":
        extra |= IDEMPOTENCY
        parameters = operation.setdefault("parameters", [])
        if IDEMPOTENCY_HEADER not in parameters:
            parameters.append(IDEMPOTENCY_HEADER)
    if "{slug}" in path:
        extra["404"] = "No such link, or it is not yours."
    for status, description in extra.items():
        responses.setdefault(status, {"description": description})
    for status, response in responses.items():
        if int(status) >= 400:
            response["content"] = PROBLEM
        elif status == "200" and method == "get" and path.rstrip("/").endswith("/links"):
            response["headers"] = PAGE_HEADERS


def created_link_links(paths: dict) -> None:
    """OpenAPI links from a created link to what can be done with its slug (for clients
    and for schemathesis's stateful tests, which follow them)."""
    created = paths["/api/v1/links"]["post"]["responses"]["201"]
    created["links"] = {
        operation["operationId"]: {
            "operationId": operation["operationId"],
            "parameters": {"slug": "$response.body#/slug"},
        }
        for path, operations in paths.items()
        if "{slug}" in path
        for operation in operations.values()
    }


def needed_scope(operation: dict) -> str | None:
    """The scope an operation of the document needs, from its `security` requirement."""
    for requirement in operation.get("security", ()):
        for scopes in requirement.values():
            return scopes[0] if scopes else None
    return None


class ScopedSchema(OpenAPISchema):
    """ninja's document, where each operation's security requirement names its scope (the
    array OpenAPI 3.1 allows for role names under any scheme) and its description says so."""

    def operation_details(self, operation) -> dict:
        details = super().operation_details(operation)
        if not operation.auth_callbacks:
            return details
        scope = scope_of(operation)
        if scope is None:
            name = operation.view_func.__name__
            raise ImproperlyConfigured(f"API operation {name} declares no scope: use needs().")
        details["security"] = [{BearerToken.__name__: [scope]}]
        said = f"Needs a token with the scope `{scope}`."
        details["description"] = f"{details.get('description', '')}\n\n{said}".strip()
        return details


class DocumentedAPI(NinjaAPI):
    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        if path_prefix is None:
            path_prefix = self.get_root_path(path_params or {})
        schema = ScopedSchema(self, path_prefix)
        for path, operations in schema["paths"].items():
            for method, operation in operations.items():
                problem_responses(path, method, operation)
        created_link_links(schema["paths"])
        return schema
