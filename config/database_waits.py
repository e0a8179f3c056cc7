"""Bounded waits on PostgreSQL for the web server's requests (issue 33: a database that is
slow rather than gone).

`DATABASE_CONNECT_TIMEOUT` bounds every connection attempt (libpq's `connect_timeout`;
without it an unreachable host holds a request for minutes of TCP retries). In the web
server (config/wsgi.py calls `bound_requests`), each request thread's connection sets
`statement_timeout` to `DATABASE_STATEMENT_TIMEOUT`: a statement that waits longer, on a
lock or a slow server, is cancelled (an `OperationalError`), so a redirect is answered
from its link's last known state and a page with the outage's 503, instead of waiting.

The visit flusher's thread, the task worker and every management command (backup,
restore, migrate) keep no statement limit: their statements are long by nature, and a
flush cancelled each time would never write its backlog.
"""

import threading

from django.conf import settings
from django.db.backends.signals import connection_created

UNBOUNDED_THREADS = frozenset({"visit-flusher"})


def limit_statements(sender, connection, **kwargs) -> None:
    if connection.vendor != "postgresql" or not settings.DATABASE_STATEMENT_TIMEOUT:
        return
    if threading.current_thread().name in UNBOUNDED_THREADS:
        return
    milliseconds = int(settings.DATABASE_STATEMENT_TIMEOUT * 1000)
    with connection.cursor() as cursor:
        cursor.execute(f"SET statement_timeout = {milliseconds}")


def bound_requests() -> None:
    connection_created.connect(limit_statements, dispatch_uid="torii-statement-timeout")
