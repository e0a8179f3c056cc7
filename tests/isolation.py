"""A pytest plugin (`-p tests.isolation` in pyproject's addopts): every test run keeps its
state in a data directory and under cache key names of its own, never a running site's.

The settings put everything in DATA_DIR, ./data by default, where `make run` keeps the
site's database, caches and counters; and tests clear every cache between tests. A test
run beside `make run` once flipped the site's flags and reset its visit limits.
pytest-django loads the settings in its pytest_load_initial_conftests hook, before any
conftest.py is read, so the variables are set here, in a plugin that runs ahead of it.
Processes the tests start (granian, manage.py) inherit them through os.environ.
"""

import os
import shutil
import sys
import tempfile
import uuid

import pytest

_data_dir = pytest.StashKey[str]()


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config):
    data_dir = tempfile.mkdtemp(prefix="torii-tests-")
    early_config.stash[_data_dir] = data_dir
    # Set, never defaulted: a DATA_DIR in the environment (or in .env, which the real
    # environment overrides) is the site's.
    os.environ["DATA_DIR"] = data_dir
    os.environ["VISIT_JOURNAL_DIR"] = os.path.join(data_dir, "visit-journal")
    # The site's metrics files (a PROMETHEUS_MULTIPROC_DIR in .env) are the site's too.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = os.path.join(data_dir, "metrics")
    # On a Redis shared with a site (REDIS_URL), this run's keys are its own, and
    # clear() deletes only them (config/caches.py).
    os.environ["CACHE_KEY_PREFIX"] = f"torii-test-{uuid.uuid4().hex[:12]}"


def pytest_unconfigure(config):
    data_dir = config.stash.get(_data_dir, None)
    if data_dir is None:
        return
    _delete_redis_keys()
    shutil.rmtree(data_dir, ignore_errors=True)


def _delete_redis_keys() -> None:
    """Keys without an expiry (visit limits) would stay in Redis after the run."""
    from django.conf import settings

    if not settings.configured or not getattr(settings, "REDIS_URL", None):
        return
    from django.core.cache import caches

    for alias in settings.CACHES:
        try:
            caches[alias].clear()
        except Exception as error:  # Redis gone by now: say so, the run's result stands
            print(f"Could not delete this test run's {alias} keys: {error}", file=sys.stderr)
