"""Idempotency-Key for API POSTs: one outcome per key and user, replayed for 24 hours.

The row is inserted (and committed) before the operation runs, so the unique
constraint on (user, key) decides races: the loser sees the row and answers 409
while it is in flight, or replays it once it is done. Only 2xx outcomes are kept;
a refused request releases its key, since it wrote nothing.
"""

import hashlib
import json
import re
from functools import wraps

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse

from shortener.api.problems import TYPES, problem
from shortener.tokens.models import IdempotencyKey

HEADER = "Idempotency-Key"
# Visible ASCII, spaces only inside (servers strip them at the ends), 1 to 255 characters.
KEY_PATTERN = re.compile(r"[!-~](?:[ -~]{0,253}[!-~])?")


def fingerprint(request: HttpRequest) -> str:
    """Method, path and body; a JSON body is compared by meaning, not by its spacing."""
    try:
        body = json.dumps(json.loads(request.body), sort_keys=True, separators=(",", ":"))
    except ValueError:
        body = request.body.decode("utf-8", "replace")
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def replay(record: IdempotencyKey) -> HttpResponse:
    response = HttpResponse(record.body, status=record.status, content_type="application/json")
    if record.location:
        response["Location"] = record.location
    response["Idempotent-Replayed"] = "true"
    return response


def earlier_outcome(user, key: str, print_: str) -> HttpResponse:
    record = IdempotencyKey.objects.filter(user=user, key=key).first()
    if record is None or record.status is None:
        response = problem(409, "idempotency-key-in-flight", TYPES["idempotency-key-in-flight"])
        response["Retry-After"] = "1"
        return response
    if record.fingerprint != print_:
        return problem(422, "idempotency-key-reused", TYPES["idempotency-key-reused"])
    return replay(record)


def idempotent(operation):
    """Decorate a POST operation (after authentication) to honour Idempotency-Key."""

    @wraps(operation)
    def run(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        key = request.headers.get(HEADER)
        if key is None:
            return operation(request, *args, **kwargs)
        if not KEY_PATTERN.fullmatch(key):
            return problem(400, "invalid-idempotency-key", TYPES["invalid-idempotency-key"])
        print_ = fingerprint(request)
        IdempotencyKey.objects.prune(user=request.user)
        try:
            with transaction.atomic():
                record = IdempotencyKey.objects.create(
                    user=request.user, key=key, fingerprint=print_
                )
        except IntegrityError:
            return earlier_outcome(request.user, key, print_)
        try:
            with transaction.atomic():
                response = operation(request, *args, **kwargs)
                if 200 <= response.status_code < 300:
                    IdempotencyKey.objects.filter(pk=record.pk).update(
                        status=response.status_code,
                        body=response.content.decode(),
                        location=response.get("Location", ""),
                    )
        except BaseException:
            record.delete()
            raise
        if not 200 <= response.status_code < 300:
            record.delete()
        return response

    return run
