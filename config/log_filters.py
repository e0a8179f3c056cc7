"""Logging filters: what the server's log should say, and what it should not."""

import logging


class WithoutTraceback(logging.Filter):
    """Keep the line, drop the traceback: for refusals of bad requests (a Host header that
    is not ours), which are the client's doing, not a fault of the server's."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info = None
        record.exc_text = None
        return True
