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
    # Visits are flushed explicitly by the tests that count them (see flush_visits).
    settings.VISIT_FLUSH_SECONDS = 0
    # No visit journal: the buffer is shared, and tests/test_visit_journal.py turns it on
    # in a directory of its own.
    settings.VISIT_JOURNAL_DIR = None
    # Hashing passwords properly is slow on purpose; tests only need it to work.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Short URLs as without a port: `make test` exports the Makefile's PORT, which would
    # otherwise put :8000 in them (tests/test_short_urls.py sets ports of its own).
    settings.SITE_URL = f"http://{settings.SITE_HOST}"
    # Asking waffle for a flag nobody registered raises, as it does with DEBUG on.
    settings.FLAGS_STRICT_NAMES = True
    # No country file unless a test writes one (tests/geoip.py): answers must not depend
    # on whether npm installed the shipped database (tests/test_countries.py reads it).
    settings.GEOIP_PATH = None
    # The test client's host, which Django's test set-up adds to ALLOWED_HOSTS; that is
    # "*" here, and the Host is checked against CONFIGURED_HOSTS (domains/served.py).
    settings.CONFIGURED_HOSTS = [*settings.CONFIGURED_HOSTS, "testserver"]


@pytest.fixture(autouse=True)
def _clean_cache():
    from django.core.cache import caches

    from shortener.domains.served import forget_domains
    from shortener.redirect.lookup import forget_lookups
    from shortener.visits import orphans, recording

    def clean():
        for cache in caches.all():
            cache.clear()
        forget_lookups()
        forget_domains()
        recording.buffer.discard()
        orphans.discard()  # 404s of an earlier test are no visits to no link of this one
        # The day's salt is remembered in the process as well as in the database, which
        # each test rolls back: a salt kept from an earlier test would split one visitor.
        recording._salts.clear()

    clean()
    yield
    clean()


@pytest.fixture(autouse=True)
def log_throttles():
    """The log throttles of settings.LOGGING (config/log_filters.Throttle), empty for
    every test: a line one test logged must not hold back the next test's. A test moves
    their clock to see the line come again."""
    import logging

    from config.log_filters import Throttle

    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    throttles = {
        f
        for logger in loggers
        if isinstance(logger, logging.Logger)
        for f in logger.filters
        if isinstance(f, Throttle)
    }
    for throttle in throttles:
        throttle.forget()
    return throttles


def flush_visits() -> int:
    """Write the visits buffered by redirects so far, as the flush thread would."""
    from shortener.visits.recording import buffer

    return buffer.flush()


@pytest.fixture(autouse=True)
def _immediate_tasks(settings):
    """Background tasks run at once, inside the request or call that enqueues them.

    Through the `settings` fixture, whose setting_changed signal makes django.tasks
    drop the backends it built when the task modules were imported.
    """
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}


def run_manage(*args: str, env: dict[str, str] | None = None, timeout: int = 60):
    """Run manage.py in a fresh process with the given environment changes."""
    full_env = {**os.environ, **(env or {})}
    # tests/e2e/conftest.py sets this for Playwright's event loop; a manage.py
    # process must not inherit it (check --deploy rightly fails on it: async.E001).
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


DAY = 86400


def per_day(limit: int):
    """A rate for tests that count up to a limit: at most `limit` a day.

    django-ratelimit's windows end at a fixed second per key, and a window that ends
    mid-test starts the count again: with 60 s windows a test spanning one second
    fails about once in sixty runs (an e2e test did, in CI). A day-long window
    makes that a one-in-tens-of-thousands chance.
    """
    from config.ratelimit.rates import Rate

    return Rate(limit, DAY)


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


def make_link(**overrides):
    """A link row as the core stores one (with its first history row and tags); override
    any field, including states the core would refuse to create (a past expiry)."""
    from shortener.models import DestinationChange, Link, Tag
    from shortener.policy import slugs

    visits = overrides.pop("visit_count_to", None)
    delete = overrides.pop("delete", False)
    tags = overrides.pop("tags", ())
    fields = {"target": "https://example.com/some/long/path", **overrides}
    fields["slug"] = fields.get("slug") or slugs.generate_slug()
    link = Link.objects.create(**fields)
    DestinationChange.objects.create(link=link, new_target=link.target, changed_by=link.owner)
    link.tags.set([Tag.objects.get_or_create(name=name)[0] for name in tags])
    if visits is not None:
        Link.objects.filter(pk=link.pk).update(visit_count=visits)
        link.refresh_from_db()
    if delete:
        link.delete_softly()
    return link


def make_domain(host: str, *, groups=(), **fields):
    """A short domain (active, https unless told); `groups` restricts who may use it."""
    from shortener.models import Domain

    domain = Domain.objects.create(host=host, **fields)
    domain.groups.set(groups)
    return domain


def set_flag(name: str, **fields):
    """A feature flag saved with these fields, created if missing (on for nobody by default)."""
    from waffle import get_waffle_flag_model

    flag, _ = get_waffle_flag_model().objects.get_or_create(
        name=name, defaults={"superusers": False}
    )
    for field, value in fields.items():
        setattr(flag, field, value)
    flag.save()
    return flag


def make_visits(link, count: int = 1, *, days_ago: int = 0, **fields):
    """Visit rows as a flush stores them, with the link's rollups rebuilt from them (as
    `rollup_visits` would); for tests that need chosen fields rather than real requests."""
    from datetime import timedelta

    from django.utils import timezone

    from shortener.models import Visit
    from shortener.visits import rebuild

    at = fields.pop("at", None) or timezone.now() - timedelta(days=days_ago)
    defaults = {"browser": "Firefox", "os": "Linux", "device": "desktop", "visitor": "v1"}
    Visit.objects.bulk_create(
        Visit(link=link, at=at, **{**defaults, **fields}) for _ in range(count)
    )
    rebuild.rebuild_locked(rebuild.Scope((link.pk,)))


@pytest.fixture
def loopback(settings):
    """The safe fetcher may reach these receivers (loopback, plain http): tests only."""
    settings.OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS = True
    settings.WEBHOOKS_ALLOW_HTTP = True


@pytest.fixture
def receiver():
    """`receiver(behaviour)` starts a webhook receiver on loopback (tests/receivers.py);
    all stop with the test."""
    made = []

    def start(behaviour=None):
        from tests.receivers import Receiver

        made.append(Receiver(behaviour))
        return made[-1]

    yield start
    for one in made:
        one.stop()
