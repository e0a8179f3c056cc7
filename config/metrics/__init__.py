"""Prometheus metrics for the operator (docs/operations.md, "Metrics").

Every process (each granian worker, the task worker) writes its figures to its own files
in PROMETHEUS_MULTIPROC_DIR, prometheus_client's multi-process mode; `GET /metrics`
(`config.metrics.scrape`) adds them up. The stack's own figures (requests, redirects,
rate limits, caches) are counted in `config.metrics.counting`; the rooms count theirs in
modules of their own (`shortener/visits/metrics.py`, `shortener/events/metrics.py`,
`shortener/redirect/metrics.py`), since
they never import config.
"""
