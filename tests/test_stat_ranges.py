"""The days a stats request asks for: accepted ranges and refusals, as a table."""

from datetime import date

import pytest

from shortener.visits.ranges import MAX_DAYS, DateRange, RangeRefused, parse

TODAY = date(2026, 12, 2)


@pytest.mark.parametrize(
    ("days", "start", "end", "expected"),
    [
        (None, None, None, DateRange(date(2026, 11, 3), TODAY, 30)),
        ("", None, None, DateRange(date(2026, 11, 3), TODAY, 30)),
        # An empty parameter is one not sent (`?to=`, an empty form field).
        (None, "", "", DateRange(date(2026, 11, 3), TODAY, 30)),
        (None, None, "", DateRange(date(2026, 11, 3), TODAY, 30)),
        ("", "2026-02-01", "2026-02-28", DateRange(date(2026, 2, 1), date(2026, 2, 28))),
        ("7", "", "", DateRange(date(2026, 11, 26), TODAY, 7)),
        ("1", None, None, DateRange(TODAY, TODAY, 1)),
        ("7", None, None, DateRange(date(2026, 11, 26), TODAY, 7)),
        ("90", None, None, DateRange(date(2026, 9, 4), TODAY, 90)),
        ("366", None, None, DateRange(date(2025, 12, 2), TODAY, 366)),
        ("007", None, None, DateRange(date(2026, 11, 26), TODAY, 7)),
        (None, "2026-02-01", "2026-02-28", DateRange(date(2026, 2, 1), date(2026, 2, 28))),
        (None, "2026-12-02", "2026-12-02", DateRange(TODAY, TODAY)),
        (None, "1990-01-01", "1990-12-31", DateRange(date(1990, 1, 1), date(1990, 12, 31))),
        (None, "2030-01-01", "2030-01-31", DateRange(date(2030, 1, 1), date(2030, 1, 31))),
        (None, "0001-01-01", "0001-01-01", DateRange(date(1, 1, 1), date(1, 1, 1))),
        (None, "9999-12-31", "9999-12-31", DateRange(date(9999, 12, 31), date(9999, 12, 31))),
        (None, "2024-01-01", "2024-12-31", DateRange(date(2024, 1, 1), date(2024, 12, 31))),
    ],
)
def test_ranges_that_are_answered(days, start, end, expected):
    assert parse(days, start, end, TODAY) == expected


@pytest.mark.parametrize(
    ("days", "start", "end", "field", "reason"),
    [
        ("0", None, None, "days", f"days must be a whole number from 1 to {MAX_DAYS}."),
        ("-5", None, None, "days", "days must be a whole number"),
        ("367", None, None, "days", "days must be a whole number"),
        ("100000", None, None, "days", "days must be a whole number"),
        ("9" * 400, None, None, "days", "days must be a whole number"),
        ("7.5", None, None, "days", "days must be a whole number"),
        ("abc", None, None, "days", "days must be a whole number"),
        ("\uff17", None, None, "days", "days must be a whole number"),  # a full-width 7
        ("30", "2026-01-01", "2026-01-31", "days", "Ask for either days or from and to"),
        (None, "2026-01-01", None, "to", "A custom range needs both from and to."),
        (None, None, "2026-01-01", "from", "A custom range needs both from and to."),
        (None, "2026-02-01", "2026-01-01", "to", "to must not be before from."),
        (None, "2026-02-30", "2026-03-01", "from", "from must be a date written YYYY-MM-DD."),
        (None, "2026-1-1", "2026-03-01", "from", "from must be a date written YYYY-MM-DD."),
        (None, "2026-01-01", "20260301", "to", "to must be a date written YYYY-MM-DD."),
        (None, "2026-01-01T00:00", "2026-03-01", "from", "from must be a date"),
        (None, "2026-01-01", "", "to", "A custom range needs both from and to."),
        (None, "2024-01-01", "2025-01-01", "to", f"A range may span at most {MAX_DAYS} days."),
        (None, "0001-01-01", "9999-12-31", "to", "A range may span at most"),
    ],
)
def test_ranges_that_are_refused(days, start, end, field, reason):
    with pytest.raises(RangeRefused) as refused:
        parse(days, start, end, TODAY)
    assert refused.value.field == field and refused.value.reason.startswith(reason)


def test_a_range_asks_for_itself_again():
    assert parse("7", None, None, TODAY).query() == {"days": "7"}
    custom = parse(None, "2026-02-01", "2026-02-03", TODAY)
    assert custom.query() == {"from": "2026-02-01", "to": "2026-02-03"}
    assert custom.dates() == [date(2026, 2, 1), date(2026, 2, 2), date(2026, 2, 3)]
    assert custom.describe() == "2026-02-01 to 2026-02-03"
