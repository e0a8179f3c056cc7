"""Wait, at a container's start, for the database (`database`) or for its migrations too
(`migrations`), up to TORII_WAIT_SECONDS; run by config/container/entrypoint.sh.

A compose file starts every service at once, so the database may not answer yet, and a
worker may start before the web container has migrated. A configuration error is no
reason to wait: Django's system checks run first and stop the start at once.
"""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the project, as manage.py's

import django


def pending_migrations(connection) -> list:
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    return executor.migration_plan(executor.loader.graph.leaf_nodes())


def main(what: str) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.db.utils import OperationalError

    call_command("check")  # raises SystemCheckError on a bad setting
    seconds = float(os.environ.get("TORII_WAIT_SECONDS", "60"))
    deadline = time.monotonic() + seconds
    while True:
        try:
            connection.ensure_connection()
            if what == "database" or not pending_migrations(connection):
                return 0
            reason = "migrations not applied yet (the web role applies them)"
        except OperationalError as error:
            reason = f"the database does not answer: {error}".strip()
        connection.close()
        if time.monotonic() >= deadline:
            print(f"torii: gave up after {seconds:g}s: {reason}", file=sys.stderr)
            return 1
        time.sleep(1)


if __name__ == "__main__":
    if sys.argv[1:] not in (["database"], ["migrations"]):
        sys.exit("usage: wait.py database|migrations")
    sys.exit(main(sys.argv[1]))
