"""What the visit buffer counts for /metrics (config/metrics/, docs/operations.md).

prometheus_client's multi-process files, as every process writes them. The redirect itself
pays nothing here: it adds one to a plain integer under the buffer's lock, and the flushing
thread hands the sum over once a flush (`buffered`), so the figure trails the redirects
by at most VISIT_FLUSH_SECONDS.
"""

from prometheus_client import Counter, Histogram

BUFFERED = Counter(
    "torii_visits_buffered", "Visits taken into a worker's buffer (memory and journal)."
)
WRITTEN = Counter("torii_visits_written", "Visits written to the database.")
DROPPED = Counter(
    "torii_visits_dropped",
    "Visits dropped, by reason: buffer_full (past VISIT_BUFFER_MAX while the database was "
    "away) or refused (rows the database refused).",
    ["reason"],
)
FLUSH_SECONDS = Histogram(
    "torii_visit_flush_duration_seconds",
    "Time one batch of buffered (or recovered) visits took to write.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
BUFFER_FULL = DROPPED.labels("buffer_full")
REFUSED = DROPPED.labels("refused")


def buffered(visits: int) -> None:
    if visits:
        BUFFERED.inc(visits)


def batch_written(written: int, refused: int, seconds: float) -> None:
    if written:
        WRITTEN.inc(written)
    if refused:
        REFUSED.inc(refused)
    FLUSH_SECONDS.observe(seconds)


def dropped_full() -> None:
    BUFFER_FULL.inc()
