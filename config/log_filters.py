"""Logging filters: what the server's log should say, and what it should not.

They are named by dotted path in settings.LOGGING only, so the code that logs (shortener
included, which never imports config) just logs, and the log's policy lives in one place.
"""

import logging
import threading
import time


class WithoutTraceback(logging.Filter):
    """Keep the line, drop the traceback: for refusals of bad requests (a Host header that
    is not ours), which are the client's doing, not a fault of the server's."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info = None
        record.exc_text = None
        return True


class Throttle(logging.Filter):
    """At most one line per kind per `seconds` per process; the rest are counted and the
    next line of that kind to pass says how many were held back. An outage otherwise
    writes a line per request (a database away for 20 s wrote 259,499 of them).

    The kind is the record's `throttle_key` when the caller gives one, else its logger,
    level and message template (the text before its arguments are put in). A record
    logged with `extra={"unthrottled": True}` always passes (a count of lost visits)."""

    def __init__(self, seconds: float = 60.0, clock=time.monotonic) -> None:
        super().__init__()
        self.seconds = seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._kinds: dict[object, list] = {}  # kind → [passed at, held back since]

    def forget(self) -> None:
        """As at the process's start (tests)."""
        with self._lock:
            self._kinds.clear()

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "unthrottled", False):
            return True
        kind = getattr(record, "throttle_key", None) or (record.name, record.levelno, record.msg)
        now = self.clock()
        with self._lock:
            seen = self._kinds.get(kind)
            if seen is not None and now - seen[0] < self.seconds:
                seen[1] += 1
                return False
            held = seen[1] if seen is not None else 0
            since = now - seen[0] if seen is not None else 0.0
            if len(self._kinds) > 1000:  # kinds are few; an unbounded key must not grow this
                self._kinds.clear()
            self._kinds[kind] = [now, 0]
        if held:
            record.msg = f"{record.msg} [{held} more like this held back in the last {since:.0f} s]"
        return True


class ExplainedRefusals(logging.Filter):
    """For `django.request`, which logs every 4xx and 5xx answer: drop the 503 of a
    limited link whose visits cannot be counted. The counters' own logger has said so
    already (throttled, above); a line for every refused click would bury it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) != 503:
            return True
        from shortener.redirect.claims import Claim  # logging is configured before apps

        context = getattr(getattr(record, "request", None), "torii", None)
        return context is None or context.claim is not Claim.UNCOUNTABLE
