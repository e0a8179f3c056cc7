"""A counter's state after a request, and the IETF RateLimit header fields that report it.

Fields follow draft-ietf-httpapi-ratelimit-headers (-09/-10): Structured Field
lists, one member per policy, e.g. `RateLimit-Policy: "default";q=300;w=60` and
`RateLimit: "default";r=12;t=41`.
"""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Usage:
    policy: str
    limit: int  # the rate's count, which is also the burst a quiet client may spend
    window: int  # the rate's seconds
    remaining: int  # requests that would still pass now
    reset: int  # seconds until one more would (GCRA refills steadily: config/ratelimit/gcra.py)
    exceeded: bool


def policy_field(usages: list[Usage]) -> str:
    return ", ".join(f'"{u.policy}";q={u.limit};w={u.window}' for u in usages)


def ratelimit_field(usages: list[Usage]) -> str:
    return ", ".join(f'"{u.policy}";r={u.remaining};t={u.reset}' for u in usages)


def retry_after(usages: list[Usage]) -> int:
    """Seconds until every exceeded counter admits a request again."""
    return max((u.reset for u in usages if u.exceeded), default=1)


def add_fields(response, usages: list[Usage]):
    response["RateLimit-Policy"] = policy_field(usages)
    response["RateLimit"] = ratelimit_field(usages)
    return response
