"""The days a stats request asks for: `?days=N`, or `?from=YYYY-MM-DD&to=YYYY-MM-DD`.

Pure rules, shared by the stats page and the API so both accept and refuse alike.
"""

import re
from dataclasses import dataclass
from datetime import date, timedelta

PERIODS = (7, 30, 90)  # offered as links; any number of days up to MAX_DAYS is accepted
DEFAULT_DAYS = 30
MAX_DAYS = 366  # a year, leap day included: the chart draws one bar per day
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DIGITS = re.compile(r"[0-9]{1,7}")


class RangeRefused(ValueError):
    """A range that cannot be answered: which parameter, and why in a sentence."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class DateRange:
    """UTC days from `start` to `end`, both included; `days` is set when asked as ?days=N."""

    start: date
    end: date
    days: int | None = None

    @property
    def length(self) -> int:
        return (self.end - self.start).days + 1

    def dates(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range(self.length)]

    def describe(self) -> str:
        if self.days is not None:
            return "today" if self.days == 1 else f"last {self.days} days"
        return f"{self.start.isoformat()} to {self.end.isoformat()}"

    def query(self) -> dict[str, str]:
        """The query parameters that ask for this range again."""
        if self.days is not None:
            return {"days": str(self.days)}
        return {"from": self.start.isoformat(), "to": self.end.isoformat()}


def last_days(days: int, today: date) -> DateRange:
    return DateRange(today - timedelta(days=days - 1), today, days)


def parse(days: str | None, start: str | None, end: str | None, today: date) -> DateRange:
    """The range asked for (the last DEFAULT_DAYS days when nothing is), or RangeRefused.

    A parameter sent empty (`?to=`, as a form with an empty field sends it, and as the
    OpenAPI description allows) is one not sent."""
    days, start, end = (None if value == "" else value for value in (days, start, end))
    if start is None and end is None:
        if days is None:
            return last_days(DEFAULT_DAYS, today)
        if not _DIGITS.fullmatch(days) or not 1 <= int(days) <= MAX_DAYS:
            raise RangeRefused("days", f"days must be a whole number from 1 to {MAX_DAYS}.")
        return last_days(int(days), today)
    if days is not None:
        raise RangeRefused("days", "Ask for either days or from and to, not both.")
    if start is None or end is None:
        missing = "from" if start is None else "to"
        raise RangeRefused(missing, "A custom range needs both from and to.")
    first, last = _date("from", start), _date("to", end)
    if last < first:
        raise RangeRefused("to", "to must not be before from.")
    if (last - first).days + 1 > MAX_DAYS:
        raise RangeRefused("to", f"A range may span at most {MAX_DAYS} days.")
    return DateRange(first, last)


def _date(field: str, text: str) -> date:
    if _ISO_DATE.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    raise RangeRefused(field, f"{field} must be a date written YYYY-MM-DD.")
