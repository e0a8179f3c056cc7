"""`make test` beside a running site changes nothing of the site.

A site serves from the data directory a checkout's `make run` uses (`./data`), with a
flag set, a custom slug and a visit-limited link part used. In that checkout, pytest
runs tests that clear every cache, flip flags and count visits, with a developer's
environment: no DATA_DIR, the site's DATABASE_URL and REDIS_URL. The site's caches and
data directory are the same afterwards, and so is everything it answers.
"""

import os
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing, nullcontext
from pathlib import Path

import pytest

from shortener.models import Link
from tests.conftest import ROOT, make_link, set_flag, test_database_url
from tests.servers import free_port, granian_process, own_redis, status_of, stop

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Tests that clear every cache, flip the API's flag, use custom slugs and count visits of
# a limited link: what a test run once did to a site sharing its ./data.
NEIGHBOURS = [
    "tests/test_api_errors.py::test_html_footer_links_the_docs_only_while_the_flag_is_on",
    "tests/test_api_links.py::test_custom_slug_needs_the_flag",
    "tests/test_redirects.py::test_max_visits_stops_exactly_at_the_limit",
    "tests/test_shared_cache.py::test_counters_increment_like_djangos_cache_api",
]
# The variables tests/isolation.py sets, and pytest's own: a developer has none of them.
NOT_A_DEVELOPERS = {"DATA_DIR", "VISIT_JOURNAL_DIR", "CACHE_KEY_PREFIX", "STATIC_ROOT"}


def checkout_copy(into: Path) -> Path:
    """The project's files, without data, .env, caches or the virtualenv: the settings find
    their BASE_DIR (and so ./data) from where they are."""
    ignored = shutil.ignore_patterns(
        ".git", ".venv", "node_modules", "data", "staticfiles", ".env", "__pycache__",
        ".pytest_cache", ".ruff_cache", ".hypothesis", ".schemathesis", "bench", "docs",
    )  # fmt: skip
    return Path(shutil.copytree(ROOT, into, ignore=ignored))


def developers_env(redis_url: str) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in NOT_A_DEVELOPERS and not name.startswith("PYTEST_")
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return {**env, "DATABASE_URL": test_database_url(), "REDIS_URL": redis_url}


def cache_contents(data_dir: Path, redis_port: int | None) -> dict[str, bytes]:
    """Every key of the site's two caches, with the bytes stored for it."""
    if redis_port is not None:
        import redis

        client = redis.Redis(port=redis_port)
        return {name.decode(): client.dump(name) for name in client.scan_iter()}
    import lmdb

    contents = {}
    for shard in sorted((data_dir / "cache").glob("*/cache.db")):  # diskcache's shards
        with closing(sqlite3.connect(f"{shard.as_uri()}?mode=ro", uri=True)) as db:
            rows = db.execute("SELECT key, expire_time, mode, filename, value FROM Cache")
            contents.update({f"cache:{row[0]}": repr(row[1:]).encode() for row in rows})
    counters = lmdb.open(str(data_dir / "counters"), max_dbs=2, readonly=True)
    try:
        values = counters.open_db(b"values", create=False)
        with counters.begin(db=values) as txn:
            contents.update({f"counters:{key.decode()}": value for key, value in txn.cursor()})
    finally:
        counters.close()
    return contents


def files_in(directory: Path) -> set[str]:
    return {str(path.relative_to(directory)) for path in directory.rglob("*")}


def location_of(url: str) -> tuple[int, str | None]:
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request("GET", parts.path)
        response = connection.getresponse()
        return response.status, response.getheader("Location")
    finally:
        connection.close()


@pytest.mark.parametrize("cache", ["embedded", "redis"])
def test_a_test_run_beside_a_running_site_changes_nothing_of_it(tmp_path, cache):
    if cache == "redis" and not os.environ.get("REDIS_URL"):
        pytest.skip("REDIS_URL is not set")
    checkout = checkout_copy(tmp_path / "checkout")
    site_data = checkout / "data"  # `make run`'s DATA_DIR in that checkout
    set_flag("api_v1", everyone=False)  # the site's API is off
    custom = make_link(slug="our-custom", target="https://example.com/ours")
    limited = make_link(target="https://example.com/limited", max_visits=3)

    redis_port = free_port() if cache == "redis" else None
    # A site of its own on its own Redis: a developer's live keys are never touched.
    redis_url = f"redis://127.0.0.1:{redis_port}/0" if redis_port else ""
    site_env = {
        "DATA_DIR": str(site_data),
        "VISIT_JOURNAL_DIR": str(site_data / "visit-journal"),
        "CACHE_KEY_PREFIX": "",  # the default, as `make run` has it
        "REDIS_URL": redis_url,
        # Visits stay in the site's buffer: its visit-limit counter is all that says
        # two of three are used. Nor does the site change its own state meanwhile: no
        # flush (the journal), no rate-limit windows ending (their keys).
        "VISIT_FLUSH_SECONDS": "3600",
        **{f"RATE_LIMIT_{group}": "off" for group in ("REDIRECT", "API", "DEFAULT")},
    }
    redis_server = own_redis(redis_port) if redis_port else nullcontext()
    with redis_server, granian_process(workers=1, env=site_env) as (url, site):
        assert status_of(f"{url}/api/v1/links") == 403
        assert [status_of(f"{url}/{limited.slug}") for _ in range(2)] == [302, 302]
        before = cache_contents(site_data, redis_port)
        assert any("link-visits" in key for key in before), before
        files_before = files_in(site_data)

        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
             *NEIGHBOURS],
            cwd=checkout, env=developers_env(redis_url),
            capture_output=True, text=True, timeout=180, check=False,
        )  # fmt: skip
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        assert f"{len(NEIGHBOURS)} passed" in run.stdout

        assert cache_contents(site_data, redis_port) == before
        assert files_in(site_data) == files_before
        assert status_of(f"{url}/api/v1/links") == 403
        assert location_of(f"{url}/our-custom") == (302, "https://example.com/ours")
        assert [status_of(f"{url}/{limited.slug}") for _ in range(3)] == [302, 410, 410]
        stop(site)  # gracefully: the buffered visits are written
    assert Link.objects.get(pk=limited.pk).visit_count == 3
    assert Link.objects.get(pk=custom.pk).slug == "our-custom"
