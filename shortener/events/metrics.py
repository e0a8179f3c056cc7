"""What webhooks count for /metrics (config/metrics/, docs/operations.md): deliveries
received by the receiver and attempts at deliveries sent by the task worker, by outcome.
prometheus_client's multi-process files, as every process writes them."""

from prometheus_client import Counter

RECEIVED = Counter(
    "torii_webhooks_received",
    "Webhook deliveries received, by outcome (accepted, duplicate, bad_signature, "
    "unknown_source, too_large, malformed, rate_limited, other).",
    ["outcome"],
)
SENT = Counter(
    "torii_webhook_attempts",
    "Attempts at delivering outbound webhooks, by outcome (delivered, retrying, failed, "
    "refused by the target policy).",
    ["outcome"],
)

RECEIVED_OF_STATUS = {
    202: "accepted",
    200: "duplicate",
    401: "bad_signature",
    404: "unknown_source",
    413: "too_large",
    400: "malformed",
    429: "rate_limited",
}


def received(status: int) -> None:
    RECEIVED.labels(RECEIVED_OF_STATUS.get(status, "other")).inc()


def attempted(*, delivered: bool, refused: bool, given_up: bool) -> None:
    if delivered:
        outcome = "delivered"
    elif refused:
        outcome = "refused"
    else:
        outcome = "failed" if given_up else "retrying"
    SENT.labels(outcome).inc()
