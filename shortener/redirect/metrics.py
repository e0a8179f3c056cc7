"""What the redirect counts for /metrics itself (config/metrics/, docs/operations.md); its
answers are counted by the stack, which sees every one of them."""

from prometheus_client import Counter

LAST_KNOWN = Counter(
    "torii_redirect_last_known_lookups",
    "Lookups answered from a link's last known state while the database was away (each "
    "answers its slug for a LOOKUP_TTL).",
)
