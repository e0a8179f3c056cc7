"""Schemathesis against the served OpenAPI document: no 5xx, conforming replies, 4xx for bad input.

schemathesis's own pytest integration (`parametrize`, `from_fixture`) relies on pytest
internals that pytest 9 removed, so each operation's strategy runs under hypothesis here.
"""

from pathlib import Path

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode, checks
from schemathesis.config import SchemathesisConfig
from waffle.testutils import override_flag

from shortener.tokens import personal as tokens
from tests.conftest import make_link, make_user

EXAMPLES = 60  # per operation and mode: the whole file stays well under a minute
CONFIG = Path(__file__).resolve().parent.parent / "schemathesis.toml"  # also the CLI's
CHECKS = [
    checks.not_a_server_error,
    checks.positive_data_acceptance,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
    checks.negative_data_rejection,
    checks.missing_required_header,
]
# The batch answers each item on its own: items that break the document are refused in a
# 200's `results` (docs/api.md, Batch create), so a bad item is not a rejected request.
PER_ITEM = {"POST /api/v1/links/batch"}
BATCH_CHECKS = [check for check in CHECKS if check is not checks.negative_data_rejection]


@pytest.fixture
def served_schema(db, settings):
    # Hundreds of requests a minute: the limiter has its own tests; this one fuzzes the API.
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "create": None, "api": None}
    # As Django's test client does: keep the test's connection (and its transaction)
    # open across the WSGI requests schemathesis makes.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        with override_flag("api_v1", active=True), override_flag("custom_slugs", active=True):
            schema = schemathesis.openapi.from_wsgi(
                "/api/v1/openapi.json",
                get_wsgi_application(),
                config=SchemathesisConfig.from_path(CONFIG),
            )
            # Unknown query parameters are ignored, as on the HTML pages; not a bug to find.
            schema.config.generation.update(allow_extra_parameters=False)
            yield schema
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def bearer(db):
    user = make_user("fuzzer")
    for slug in ("fuzz-one", "fuzz-two"):  # real slugs, so some paths reach a link
        make_link(owner=user, slug=slug)
    return {"Authorization": f"Bearer {tokens.issue(user, 'schemathesis')[1]}"}


def operations(schema):
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_conforms_to_its_document(served_schema, bearer, mode):
    seen = []
    seen_statuses = []
    for operation in operations(served_schema):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def exercise(case):
            chosen = BATCH_CHECKS if case.operation.label in PER_ITEM else CHECKS
            # A negative case may be one whose only fault is the missing bearer token
            # (the security scheme as a required header): sent with ours, it is a valid
            # request, and its 200 no finding. Without Authorization it goes without.
            sent = bearer if mode == GenerationMode.POSITIVE or has_token(case) else {}
            response = case.call_and_validate(headers=sent, checks=chosen)
            seen_statuses.append((mode, bool(sent), response.status_code))

        try:
            exercise()
        except Unsatisfiable:
            # Nothing to make invalid: an operation without parameters or body.
            assert mode == GenerationMode.NEGATIVE and operation.label == "GET /api/v1/"
        seen.append(operation.label)
    assert len(seen) == 11, seen
    # Both kinds of negative case were sent: with the token (its other faults reach the
    # API's own checks) and without it.
    assert {with_token for _, with_token, _ in seen_statuses} == {True, False} or (
        mode == GenerationMode.POSITIVE
    )


def has_token(case) -> bool:
    return any(name.lower() == "authorization" for name in (case.headers or {}))


def test_the_document_is_openapi_3_1_with_every_operation(client, db):
    with override_flag("api_v1", active=True):
        document = client.get("/api/v1/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) == {
        "/api/v1/",
        "/api/v1/links",
        "/api/v1/links/batch",
        "/api/v1/export",
        "/api/v1/links/{slug}",
        "/api/v1/links/{slug}/disable",
        "/api/v1/links/{slug}/enable",
        "/api/v1/links/{slug}/stats",
    }
