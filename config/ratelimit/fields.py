"""A counter's state after a request, and the IETF RateLimit header fields that report it.

Fields follow draft-ietf-httpapi-ratelimit-headers (-09/-10): Structured Field
lists, one member per policy, e.g. `RateLimit-Policy: "default";q=300;w=60` and
`RateLimit: "default";r=12;t=41`.
"""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Usage:
    policy: str
    limit: int
    window: int  # seconds
    count: int  # requests in this window, this one included
    reset: int  # seconds until a new window starts

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.count)

    @property
    def exceeded(self) -> bool:
        return self.count > self.limit


def policy_field(usages: list[Usage]) -> str:
    return ", ".join(f'"{u.policy}";q={u.limit};w={u.window}' for u in usages)


def ratelimit_field(usages: list[Usage]) -> str:
    return ", ".join(f'"{u.policy}";r={u.remaining};t={u.reset}' for u in usages)


def retry_after(usages: list[Usage]) -> int:
    """Seconds until every exceeded counter has started a new window."""
    return max((u.reset for u in usages if u.exceeded), default=1)


def add_fields(response, usages: list[Usage]):
    response["RateLimit-Policy"] = policy_field(usages)
    response["RateLimit"] = ratelimit_field(usages)
    return response
