"""Rate strings (`600/m`, `5000/h`, `off`): the groups that have one, and a strict parser."""

import re
from dataclasses import dataclass

GROUPS = (
    "redirect",
    "create",
    "login",
    "api",
    "webhook",
    "auth-failures",
    "link-password",
    "report",
    "default",
)

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

# Whole-string match: django-ratelimit's own pattern matches a prefix, so it
# reads `10/fortnight` as ten a second. An optional multiplier gives `100/5m`.
_RATE = re.compile(r"(?P<count>[0-9]{1,9})/(?P<multiplier>[0-9]{0,6})(?P<unit>[smhd])")
OFF = "off"


@dataclass(frozen=True, slots=True)
class Rate:
    """At most `limit` requests per `seconds`-long window."""

    limit: int
    seconds: int

    def as_tuple(self) -> tuple[int, int]:
        # django-ratelimit takes (count, seconds) as well as its own strings.
        return (self.limit, self.seconds)

    def __str__(self) -> str:
        return f"{self.limit}/{self.seconds}s"


class InvalidRate(ValueError):
    pass


def parse_rate(value: str) -> Rate | None:
    """`600/m` → Rate(600, 60); `off` → None. Anything else raises InvalidRate."""
    text = value.strip().lower()
    if text == OFF:
        return None
    match = _RATE.fullmatch(text)
    if not match:
        raise InvalidRate(
            f"{value!r} is not a rate: use <count>/<unit> with unit s, m, h or d "
            "(e.g. 600/m, 5000/h, 100/5m), or 'off'."
        )
    count = int(match["count"])
    multiplier = int(match["multiplier"] or 1)
    if count < 1 or multiplier < 1:
        raise InvalidRate(f"{value!r} allows nothing: the count and window must be at least 1.")
    return Rate(limit=count, seconds=multiplier * UNITS[match["unit"]])
