"""Helpers for API tests: a signed token and JSON requests through Django's test client."""

import json

from shortener.tokens import personal as tokens
from tests.conftest import make_user


class ApiClient:
    """Django's test client speaking JSON with a bearer token, as a script would."""

    def __init__(self, client, user=None, raw: str | None = None):
        self.client = client
        self.user = user or make_user("script")
        self.raw = raw or tokens.issue(self.user, "tests")[1]

    def headers(self, extra: dict | None = None) -> dict:
        return {"Authorization": f"Bearer {self.raw}", **(extra or {})}

    def get(self, path: str, **params):
        return self.client.get(path, params, headers=self.headers())

    def send(self, method: str, path: str, body=None, headers: dict | None = None, **kwargs):
        data = body if isinstance(body, str | bytes) or body is None else json.dumps(body)
        kwargs.setdefault("content_type", "application/json")
        return getattr(self.client, method)(path, data, headers=self.headers(headers), **kwargs)

    def post(self, path: str, body=None, **kwargs):
        return self.send("post", path, body, **kwargs)

    def patch(self, path: str, body=None, **kwargs):
        return self.send("patch", path, body, **kwargs)

    def delete(self, path: str):
        return self.client.delete(path, headers=self.headers())


def assert_problem(response, status: int, kind: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    doc = response.json()
    assert doc["type"] == f"urn:torii:problem:{kind}"
    assert doc["status"] == status
    assert doc["title"] and doc["detail"]
    return doc
