"""What a real server answers with Redis away, and with Redis and the database away
together (docs/operations.md, "Outages"): granian started with its REDIS_URL (and its
DATABASE_URL) pointing where nothing listens."""

import json

import pytest
from django.db import connection

from shortener.models import Visit
from tests.conftest import flush_visits, make_link
from tests.servers import answer, free_port, granian_process


def nowhere_database() -> str:
    if connection.vendor == "sqlite":
        return "sqlite:////nonexistent-torii-dir/db.sqlite3"
    return f"postgres://postgres@127.0.0.1:{free_port()}/torii"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_with_redis_away_links_redirect_pages_answer_and_health_names_the_caches():
    link = make_link(target="https://example.com/through")
    env = {"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0", "VISIT_FLUSH_SECONDS": "0.2"}
    with granian_process(workers=1, env=env, ready="/livez") as (url, _):
        status, headers, body = answer(url, f"/{link.slug}")
        assert (status, headers["Location"]) == (302, "https://example.com/through"), body
        assert answer(url, "/")[0] == 200
        assert answer(url, "/nosuchlink")[0] == 404
        status, headers, body = answer(url, "/api/v1/links")
        assert status == 401 and headers["Content-Type"] == "application/problem+json"
        status, _, body = answer(url, "/healthz")
        assert status == 503
        assert json.loads(body)["failed"] == ["cache", "counters"]
        assert answer(url, "/livez")[0] == 200
    # The visit is written (its salt is in the database): nothing waits for Redis.
    assert Visit.objects.filter(link=link).count() + flush_visits() == 1


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_with_redis_and_the_database_away_everything_answers_503_and_livez_200():
    env = {
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        "DATABASE_URL": nowhere_database(),
    }
    with granian_process(workers=1, env=env, ready="/livez") as (url, server):
        for path, kind in [("/somelink", "text/html"), ("/", "text/html")]:
            status, headers, body = answer(url, path)
            assert status == 503 and headers["Retry-After"] == "30", (path, body[:300])
            assert headers["Content-Type"].startswith(kind)
        status, headers, body = answer(url, "/api/v1/links")
        assert status == 503 and headers["Content-Type"] == "application/problem+json"
        assert json.loads(body)["type"] == "urn:torii:problem:service-unavailable"
        status, _, body = answer(url, "/healthz")
        assert status == 503
        assert json.loads(body)["failed"] == ["database", "cache", "counters"]
        assert answer(url, "/livez")[0] == 200
        for _ in range(20):
            assert answer(url, "/")[0] == 503
        server.log.seek(0)
        log = server.log.read().decode(errors="replace")
    assert "Traceback" not in log
    assert log.count("The database is unavailable") == 1, log
    assert " 500 " not in log
