"""The flush under faults: rows the database refuses are split out and dropped alone, an
unavailable database keeps every visit for the next flush, and the buffer is bounded."""

import logging
import os
from collections import Counter

import pytest
from django.db import IntegrityError, OperationalError
from django.test import RequestFactory

from shortener.models import Link, Visit
from shortener.visits import recording
from shortener.visits.batches import write_splitting
from tests.conftest import flush_visits, make_link, run_manage

BAD = {"b1", "b2", "b3"}


def refusing(written: list, transactions: list | None = None):
    """A write that refuses any part holding a bad row, all or nothing, as a transaction."""

    def write(part):
        if transactions is not None:
            transactions.append(len(part))
        if BAD & set(part):
            raise IntegrityError("FOREIGN KEY constraint failed")
        written.extend(part)

    return write


@pytest.mark.parametrize(
    "rows",
    [
        ["b1", "g1", "g2", "g3", "g4"],  # bad first
        ["g1", "g2", "g3", "g4", "b1"],  # bad last
        ["g1", "g2", "b1", "g3", "g4"],  # bad in the middle
        ["b1", "b2", "b3"],  # all bad
        ["g1", "b1", "g2", "g3", "b2", "g4", "g5", "b3"],  # several bad
        ["b1"],  # one row, bad
        ["g1", "g2", "g3"],  # none bad: one transaction
        [f"g{n}" for n in range(500)] + ["b1"] + [f"h{n}" for n in range(500)],
    ],
    ids=["first", "last", "middle", "all", "several", "alone", "none", "one-in-1001"],
)
def test_only_the_refused_rows_are_dropped_and_the_rest_is_written_in_order(rows):
    written, transactions = [], []
    outcome = write_splitting(refusing(written, transactions), rows)
    good = [row for row in rows if row not in BAD]
    assert written == good
    assert outcome.written == len(good)
    assert outcome.dropped == len(rows) - len(good)
    assert outcome.refused == (
        {"IntegrityError: FOREIGN KEY constraint failed": outcome.dropped}
        if outcome.dropped
        else {}
    )
    assert outcome.left == [] and outcome.error is None
    if not outcome.dropped:
        assert transactions == [len(rows)]
    # A bad row costs a path of halvings, not a transaction a row.
    assert len(transactions) <= 1 + 2 * max(outcome.dropped, 1) * len(rows).bit_length()


def test_an_unavailable_database_drops_nothing_and_keeps_the_batch():
    def unavailable(part):
        raise OperationalError("database is locked")

    rows = ["g1", "b1", "g2"]
    outcome = write_splitting(unavailable, rows)
    assert (outcome.written, outcome.dropped, outcome.left) == (0, 0, rows)
    assert isinstance(outcome.error, OperationalError)


def test_a_database_lost_in_the_middle_of_a_split_keeps_the_unwritten_tail():
    written = []
    refuse = refusing(written)

    def lost_after_two_transactions(part, calls=[]):
        calls.append(part)
        if len(calls) > 3:
            raise OperationalError("server closed the connection unexpectedly")
        refuse(part)

    rows = ["g1", "g2", "b1", "g3", "g4", "g5", "g6", "g7"]
    outcome = write_splitting(lost_after_two_transactions, rows)
    # Whole batch refused, [g1 g2 b1 g3] refused, [g1 g2] written, then the database went.
    assert written == ["g1", "g2"] and outcome.dropped == 0
    assert outcome.left == ["b1", "g3", "g4", "g5", "g6", "g7"]  # the tail, in order


def test_rows_known_to_be_refused_are_left_out_with_one_question_before_any_split():
    written, transactions = [], []

    def vanished(rows):  # as a query for the links that still exist answers
        return [row for row in rows if row != "b1"], Counter({"a link that no longer exists": 1})

    rows = ["g1", "b1", "g2", "b2", "g3"]
    outcome = write_splitting(refusing(written, transactions), rows, narrow=vanished)
    assert written == ["g1", "g2", "g3"]
    assert outcome.refused == {
        "a link that no longer exists": 1,
        "IntegrityError: FOREIGN KEY constraint failed": 1,
    }
    # The batch, the batch without b1, then splits for b2 alone.
    assert transactions[:2] == [5, 4] and len(transactions) <= 2 + 2 * 3


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (OperationalError("database is locked"), (0, 0, 3)),  # unavailable: keep it all
        (OverflowError("int too large"), (2, 1, 0)),  # it cannot tell: split instead
    ],
)
def test_a_question_that_fails_keeps_the_batch_or_falls_back_to_splitting(failure, expected):
    written = []

    def failing(rows):
        raise failure

    outcome = write_splitting(refusing(written), ["g1", "b1", "g2"], narrow=failing)
    assert (outcome.written, outcome.dropped, len(outcome.left)) == expected


@pytest.mark.django_db(transaction=True)
def test_a_whole_batch_of_a_vanished_link_costs_one_query_not_a_split(
    django_assert_max_num_queries,
):
    link = make_link()
    batch = [good_raw(link.pk + 1000, n) for n in range(2000)] + [good_raw(link.pk)]
    # Two writes of a handful of statements each and one query: not the ~4,000
    # transactions a split down to every row would take.
    with django_assert_max_num_queries(60):
        outcome = recording.write_batch(batch)
    assert (outcome.written, outcome.dropped) == (1, 2000)
    assert Visit.objects.filter(link=link).count() == 1


def good_raw(link_id: int, n: int = 0) -> tuple:
    return (1_780_000_000.0 + n, link_id, "192.0.2.1", "Mozilla/5.0 (X11; Linux x86_64)", "", "")


@pytest.mark.django_db(transaction=True)  # the foreign key is checked at a real commit
def test_a_visit_of_a_link_that_does_not_exist_no_longer_blocks_the_others(
    client, caplog, settings, tmp_path
):
    # The case: a good visit, one of a link that is gone, a good one.
    settings.VISIT_JOURNAL_DIR = tmp_path / "journal"
    link = make_link()
    client.get(f"/{link.slug}")
    recording.buffer.add(link.pk + 1000, {"REMOTE_ADDR": "192.0.2.7"})
    client.get(f"/{link.slug}")
    try:
        with caplog.at_level(logging.WARNING, logger="shortener.visits.recording"):
            assert flush_visits() == 2
        assert Visit.objects.filter(link=link).count() == 2
        assert Link.objects.get(pk=link.pk).visit_count == 2
        assert recording.buffer.pending() == 0
        assert (
            "Dropped 1 of 3 visits the database refused: 1 for a link that no longer exists"
            in caplog.text
        )
        assert os.listdir(settings.VISIT_JOURNAL_DIR) == [
            f"{recording.buffer._journal.owner}.lease"
        ]
        client.get(f"/{link.slug}")  # and the next flush writes as before
        assert flush_visits() == 1
        assert Link.objects.get(pk=link.pk).visit_count == 3
    finally:
        recording.buffer.discard()


@pytest.mark.django_db(transaction=True)
def test_rows_that_cannot_even_be_prepared_are_refused_alone(caplog):
    # A journal line parses as any number: a time no datetime holds poisons only itself.
    link = make_link()
    batch = [good_raw(link.pk, 0), (1e20, link.pk, "", "", "", ""), good_raw(link.pk, 1)]
    outcome = recording.write_batch(batch)
    assert (outcome.written, outcome.dropped) == (2, 1)
    assert "1 for OverflowError: timestamp out of range" in caplog.text
    assert Visit.objects.filter(link=link).count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_poisoned_visit_in_a_dead_process_journal_is_dropped_and_the_rest_recovered(
    settings, tmp_path
):
    from tests.test_visit_journal import killed_writer

    settings.VISIT_JOURNAL_DIR = tmp_path / "journal"
    link = make_link()
    recording.buffer.add(link.pk, {"REMOTE_ADDR": "192.0.2.7"})  # this process's journal lives
    try:
        killed_writer(settings.VISIT_JOURNAL_DIR, link.pk, 3)
        dead = next(
            name
            for name in os.listdir(settings.VISIT_JOURNAL_DIR)
            if name.endswith(".journal")
            if not name.startswith(recording.buffer._journal.owner)
        )
        with open(settings.VISIT_JOURNAL_DIR / dead, "r+b") as journal:
            data = journal.read()
            cut = data.rindex(b"\n") + 1  # after the last whole line: drop the torn one
            journal.seek(0)
            journal.truncate()
            poison = b'[1e20,%d,"","",""]\n[1.0,%d,"","",""]\n' % (link.pk, 2**70)
            journal.write(data[:cut] + poison + data[:cut])
        assert recording.buffer.recover() == 8  # read and handled: none left to retry
        assert Visit.objects.filter(link=link).count() == 6
        assert not [n for n in os.listdir(settings.VISIT_JOURNAL_DIR) if n == dead]
        assert flush_visits() == 1
    finally:
        recording.buffer.discard()


@pytest.mark.django_db
def test_an_unavailable_database_keeps_everything_and_one_line_a_flush_says_so(
    client, monkeypatch, caplog
):
    link = make_link()
    client.get(f"/{link.slug}")

    def locked(raws):
        raise OperationalError("database is locked")

    monkeypatch.setattr(recording, "write", locked)
    assert flush_visits() == 0
    assert flush_visits() == 0
    assert recording.buffer.pending() == 1
    failures = [r for r in caplog.records if "failed" in r.getMessage()]
    assert [bool(r.exc_info) for r in failures] == [True, False]  # the traceback once
    assert "failed again (OperationalError: database is locked)" in failures[1].getMessage()
    monkeypatch.undo()
    assert flush_visits() == 1


def test_past_the_bound_visits_are_counted_as_dropped_and_logged_once_a_minute(
    settings, caplog, monkeypatch
):
    settings.VISIT_BUFFER_MAX = 10
    meta = RequestFactory().get("/x").META
    buffer = recording.VisitBuffer()
    clock = [1000.0]
    monkeypatch.setattr(recording.time, "monotonic", lambda: clock[0])
    with caplog.at_level(logging.ERROR, logger="shortener.visits.recording"):
        for _ in range(25):
            buffer.add(1, meta)
        clock[0] += 30
        buffer.add(1, meta)  # within the minute: counted, not logged
        clock[0] += 31
        buffer.add(1, meta)
    assert buffer.pending() == 10 and buffer.dropped() == 17
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "Dropped 1 visits past VISIT_BUFFER_MAX=10: the database is not taking them",
        "Dropped 16 visits past VISIT_BUFFER_MAX=10 in the last 61 s: "
        "the database is not taking them",
    ]


@pytest.mark.django_db
def test_visits_taken_by_a_flush_still_count_against_the_bound(client, settings, monkeypatch):
    # A flush that hangs (a database that does not answer) holds its batch: the requests
    # meanwhile may fill the buffer only to the bound, batch included.
    settings.VISIT_BUFFER_MAX = 5
    link = make_link()
    for _ in range(3):
        client.get(f"/{link.slug}")

    def hanging_then_down(raws):
        for _ in range(4):
            assert client.get(f"/{link.slug}").status_code == 302  # answered all the same
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(recording, "write", hanging_then_down)
    assert flush_visits() == 0
    assert recording.buffer.pending() == 5 and recording.buffer.dropped() == 2
    monkeypatch.undo()
    assert flush_visits() == 5


@pytest.mark.parametrize(
    ("value", "message"), [("lots", "not a whole number"), ("0", "at least 1")]
)
def test_a_malformed_buffer_bound_fails_at_start_naming_the_variable(value, message):
    done = run_manage("check", env={"VISIT_BUFFER_MAX": value})
    assert done.returncode != 0
    assert f"VISIT_BUFFER_MAX='{value}'" in done.stderr and message in done.stderr
