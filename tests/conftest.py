"""Shared test set-up: plain static storage (no collectstatic needed) and a clean cache."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def pytest_configure(config):
    from django.conf import settings

    # The manifest storage needs `collectstatic`; tests serve files from the finders.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _clean_cache():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def run_manage(*args: str, env: dict[str, str] | None = None, timeout: int = 60):
    """Run manage.py in a fresh process with the given environment changes."""
    full_env = {**os.environ, **(env or {})}
    # tests/e2e/conftest.py sets this for Playwright's event loop; a manage.py
    # process must not inherit it (Django's deploy check refuses it: async.E001).
    full_env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def make_user(username: str = "alice", password: str = "correct-horse-battery", **extra):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user(username=username, password=password, **extra)


def test_database_url() -> str:
    """A DATABASE_URL for the test database, for processes a test starts."""
    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


test_database_url.__test__ = False  # a helper, not a test


# waffle's first migration creates its own flag tables even though WAFFLE_FLAG_MODEL
# swaps the model out, so Django's flush (which skips swapped models) leaves
# waffle_flag_users/groups pointing at auth_user/auth_group, and PostgreSQL refuses
# to TRUNCATE those for transactional tests. The tables are never used: drop them
# from the test database only.
SWAPPED_OUT_TABLES = ("waffle_flag_users", "waffle_flag_groups", "waffle_flag")


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    from django.db import connection

    if connection.vendor == "postgresql":
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {', '.join(SWAPPED_OUT_TABLES)} CASCADE")
