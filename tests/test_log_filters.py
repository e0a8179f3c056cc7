"""The log's own policy (config/log_filters.py, named in settings.LOGGING)."""

import logging

from config.log_filters import Throttle


def record(name: str, msg: str, *args) -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, args, None)


def test_the_throttle_holds_back_repeats_per_logger_and_message_and_says_how_many():
    now = [0.0]
    throttle = Throttle(seconds=60)
    throttle.clock = lambda: now[0]
    passed = lambda r: throttle.filter(r) and r.getMessage()  # noqa: E731

    assert passed(record("a", "down (%s)", "timeout")) == "down (timeout)"
    # The same format string with other arguments is the same line: held back.
    assert passed(record("a", "down (%s)", "refused")) is False
    # Another message, or the same message from another logger, is news.
    assert passed(record("a", "other %d", 1)) == "other 1"
    assert passed(record("b", "down (%s)", "timeout")) == "down (timeout)"
    now[0] = 59.99
    assert passed(record("a", "down (%s)", "timeout")) is False
    now[0] = 60.0
    assert (
        passed(record("a", "down (%s)", "x"))
        == "down (x) [2 more like this held back in the last 60 s]"
    )
    now[0] = 200.0
    assert passed(record("a", "down (%s)", "y")) == "down (y)"  # nothing held back since


def test_settings_throttle_the_outage_loggers_and_nothing_else():
    from django.conf import settings

    throttled = {
        name
        for name, config in settings.LOGGING["loggers"].items()
        if "once_a_minute" in config.get("filters", [])
    }
    # Rejections (config.ratelimit.middleware) are de-duplicated per key through the
    # cache, and must never be held back by another key's line.
    assert "config.ratelimit.middleware" not in throttled
    for name in throttled:
        assert any(isinstance(f, Throttle) for f in logging.getLogger(name).filters)
