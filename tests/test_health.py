"""GET /healthz reports whether the database and the shared caches answer."""

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


@pytest.mark.parametrize("alias, name", [("default", "cache"), ("counters", "counters")])
@pytest.mark.django_db
def test_healthz_names_the_cache_that_fails(client, monkeypatch, alias, name):
    class BrokenCache:
        def set(self, *args, **kwargs):
            raise ConnectionError("cache down")

    working = health.caches

    class OneBroken:
        def __getitem__(self, wanted):
            return BrokenCache() if wanted == alias else working[wanted]

    monkeypatch.setattr(health, "caches", OneBroken())
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "failed": [name]}


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


@pytest.mark.django_db
def test_healthz_answers_over_plain_http_behind_tls(settings):
    """With SECURE_SSL every page redirects to HTTPS, but a probe asking from inside (the
    container's HEALTHCHECK, a load balancer) over plain HTTP gets the answer itself."""
    from django.test import Client

    settings.SECURE_SSL_REDIRECT = True
    client = Client()  # built after the setting: SecurityMiddleware reads it at start
    assert client.get("/healthz").status_code == 200
    page = client.get("/accounts/login/")
    assert page.status_code == 301
    assert page["Location"].startswith("https://")


@pytest.mark.django_db
def test_healthz_names_the_journal_when_its_directory_takes_nothing(client, settings, tmp_path):
    """A volume gone read-only or full: a killed process would lose the visits it held."""
    (tmp_path / "a-file").write_text("")
    settings.VISIT_JOURNAL_DIR = tmp_path / "a-file" / "journal"
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "failed": ["journal"]}


@pytest.mark.django_db
def test_healthz_writes_nothing_to_the_journal_directory(client, settings, tmp_path):
    settings.VISIT_JOURNAL_DIR = tmp_path / "journal"
    assert client.get(reverse("healthz")).status_code == 200
    assert list((tmp_path / "journal").iterdir()) == []


def test_livez_touches_no_database(client):
    """No django_db mark: a query here would fail the test."""
    response = client.get(reverse("livez"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
