"""The JSON API v1 for programs: django-ninja operations, tokens, idempotency, problems."""
