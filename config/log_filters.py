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
    """One line per logger and message every `seconds`, for outages that would otherwise
    say the same thing on every request (a cache that is down, a broken GeoIP file).

    "The same message" is the format string before its arguments, so a line whose
    error text changes is still one line a minute. Per process: it is the shared cache
    that is failing, so the processes cannot agree through it. The next line that gets
    through says how many were held back since the last one.
    """

    clock = staticmethod(time.monotonic)  # tests replace it: time is injected

    def __init__(self, seconds: float = 60.0) -> None:
        super().__init__()
        self.seconds = float(seconds)
        self._lock = threading.Lock()
        # (logger, format string) -> [when the last line went out, lines held back since]
        self._seen: dict[tuple[str, object], list] = {}

    def reset(self) -> None:
        with self._lock:
            self._seen.clear()

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.msg)
        now = self.clock()
        with self._lock:
            seen = self._seen.get(key)
            if seen is not None and now - seen[0] < self.seconds:
                seen[1] += 1
                return False
            held = seen[1] if seen is not None else 0
            self._seen[key] = [now, 0]
        if held:
            record.msg = f"{record.getMessage()} ({held} more like it held back since the last)"
            record.args = None
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
