"""GET /healthz reports whether the database and the shared cache answer."""

import pytest
from django.urls import reverse

from config import health


@pytest.mark.django_db
def test_healthz_ok_when_database_and_cache_answer(client):
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "sessionid" not in response.cookies
    assert "csrftoken" not in response.cookies


@pytest.mark.django_db
def test_healthz_names_the_cache_when_it_fails(client, monkeypatch):
    class BrokenCache:
        def set(self, *args, **kwargs):
            raise ConnectionError("cache down")

    monkeypatch.setattr(health, "cache", BrokenCache())
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "failed": ["cache"]}


@pytest.mark.django_db
def test_healthz_names_the_database_when_it_fails(client, monkeypatch):
    class BrokenConnection:
        def cursor(self):
            raise RuntimeError("database down")

    monkeypatch.setattr(health, "connection", BrokenConnection())
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json()["failed"] == ["database"]


@pytest.mark.django_db
def test_healthz_refuses_post(client):
    response = client.post(reverse("healthz"))
    assert response.status_code == 405
