"""The served OpenAPI document: ninja's, plus what every operation shares (problems, headers)."""

from ninja import NinjaAPI

from shortener.api.idempotency import KEY_PATTERN

PROBLEM = {
    "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}},
}
COMMON = {
    "400": "Malformed request: a parameter, the JSON body, or an unknown field.",
    "401": "No valid API token.",
    "403": "The API is switched off for this account (`api_v1` flag).",
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


class DocumentedAPI(NinjaAPI):
    def get_openapi_schema(self, *args, **kwargs):
        schema = super().get_openapi_schema(*args, **kwargs)
        for path, operations in schema["paths"].items():
            for method, operation in operations.items():
                problem_responses(path, method, operation)
        created_link_links(schema["paths"])
        return schema
