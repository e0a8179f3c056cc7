"""The visit journal: every answered redirect is on disk until its visit is written, and
the journal of a process that was killed is written once, by another process."""

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from shortener.models import Link, Visit
from shortener.visits import journal as visit_journal
from shortener.visits import recording
from shortener.visits.journal import Journal, encode, records
from tests.conftest import ROOT, flush_visits, make_link

STRANGE_AGENT = 'Mozilla/5.0 "quoted"\n\r\x00 é 漢字 \u2028 {"json": [1]}'
# A lone surrogate cannot come through WSGI (headers are Latin-1), but the journal keeps one.
SURROGATE_AGENT = STRANGE_AGENT + "\udcff"


@pytest.fixture
def journal_dir(settings, tmp_path):
    """The shared buffer journals into a directory of this test's own."""
    settings.VISIT_JOURNAL_DIR = tmp_path / "journal"
    yield settings.VISIT_JOURNAL_DIR
    recording.buffer.discard()


def journal_files(directory: Path) -> list[str]:
    return sorted(name for name in os.listdir(directory) if name.endswith(".journal"))


def journaled(directory: Path) -> list[tuple]:
    found = []
    for name in journal_files(directory):
        found += [raw for _, raw in records((directory / name).read_bytes())]
    return found


def raw_visit(link_id: int, n: int = 0) -> tuple:
    referrer = f"https://r.example/{n}"
    return (1_780_000_000.0 + n, link_id, "203.0.113.9", SURROGATE_AGENT, referrer, "JP")


# A process that journals visits as a worker does, tears its last record as a kill
# mid-write would, and dies by SIGKILL. argv: directory, link id, how many.
KILLED_WRITER = """
import os, signal, sys
from shortener.visits.journal import Journal, encode
journal = Journal(__import__("pathlib").Path(sys.argv[1]))
for n in range(int(sys.argv[3])):
    journal.append(encode((1780000000.0 + n, int(sys.argv[2]), "198.51.100.7", "ua", "", "")))
os.write(journal._fd, encode((1.0, int(sys.argv[2]), "", "", "", ""))[:9])
print(journal.owner, flush=True)
if len(sys.argv) > 4:
    sys.stdin.read()  # alive until the test closes our stdin
os.kill(os.getpid(), signal.SIGKILL)
"""


def killed_writer(directory: Path, link_id: int, count: int) -> str:
    """Run KILLED_WRITER to its death; the owner name of the journal it left."""
    done = subprocess.run(
        [sys.executable, "-c", KILLED_WRITER, str(directory), str(link_id), str(count)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    return done.stdout.strip()


def test_a_record_survives_any_text_and_a_torn_last_record_is_skipped():
    raw = raw_visit(7)
    line = encode(raw)
    assert line.endswith(b"\n") and line.count(b"\n") == 1 and line.isascii()
    data = line + encode(raw_visit(8)) + b"not json\n" + b"[1, 2]\n" + encode(raw_visit(9))[:-1]
    assert [visit for _, visit in records(data)] == [raw, raw_visit(8), None, None]
    assert [end for end, _ in records(data)][-1] == data.rindex(b"\n") + 1


@pytest.mark.django_db
def test_every_redirect_is_journaled_before_it_is_answered_and_a_flush_removes_it(
    client, journal_dir
):
    link = make_link()
    for _ in range(3):
        response = client.get(f"/{link.slug}", headers={"User-Agent": STRANGE_AGENT})
        assert response.status_code == 302
        # One line per visit, already on disk as the answer leaves.
    assert [raw[1:4] for raw in journaled(journal_dir)] == [
        (link.pk, "127.0.0.1", STRANGE_AGENT)
    ] * 3
    (first,) = journal_files(journal_dir)

    assert flush_visits() == 3
    assert journal_files(journal_dir) == []
    assert Visit.objects.filter(link=link).count() == 3

    client.get(f"/{link.slug}")  # the next visit starts a new file
    (second,) = journal_files(journal_dir)
    assert second != first and len(journaled(journal_dir)) == 1


@pytest.mark.django_db
def test_a_failed_flush_keeps_the_files_and_the_next_one_writes_each_visit_once(
    client, journal_dir, monkeypatch
):
    link = make_link()
    client.get(f"/{link.slug}")
    client.get(f"/{link.slug}")

    def broken(raws):
        raise RuntimeError("database unavailable")

    monkeypatch.setattr(recording, "write", broken)
    assert recording.buffer.flush() == 0
    client.get(f"/{link.slug}")  # after the failed flush: a second file
    assert len(journal_files(journal_dir)) == 2 and len(journaled(journal_dir)) == 3
    assert recording.buffer.pending() == 3
    monkeypatch.undo()

    assert recording.buffer.flush() == 3
    assert journal_files(journal_dir) == []
    assert Link.objects.get(pk=link.pk).visit_count == 3
    assert Visit.objects.filter(link=link).count() == 3


@pytest.mark.django_db
def test_discard_forgets_the_journal_too(client, journal_dir):
    link = make_link()
    client.get(f"/{link.slug}")
    assert journal_files(journal_dir)
    recording.buffer.discard()
    assert os.listdir(journal_dir) == []
    assert flush_visits() == 0


@pytest.mark.django_db
def test_the_journal_of_a_killed_process_is_written_once_by_another(client, journal_dir, caplog):
    link = make_link()
    client.get(f"/{link.slug}")  # this process journals too: its lease is live
    owner = killed_writer(journal_dir, link.pk, 40)
    assert any(name.startswith(owner) for name in journal_files(journal_dir))

    assert recording.buffer.recover() == 40  # the torn 41st record is no visit
    assert "Recovered 40 visits journaled by a process that died" in caplog.text
    assert not [name for name in os.listdir(journal_dir) if name.startswith(owner)]
    assert Visit.objects.filter(link=link).count() == 40
    assert Link.objects.get(pk=link.pk).visit_count == 40
    assert recording.buffer.recover() == 0  # once
    assert flush_visits() == 1  # our own visit, still ours


@pytest.mark.django_db
def test_the_journal_of_a_live_process_is_left_alone(client, journal_dir):
    link = make_link()
    client.get(f"/{link.slug}")
    writer = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(journal_dir), str(link.pk), "5", "wait"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        owner = writer.stdout.readline().strip()
        assert recording.buffer.recover() == 0
        assert any(name.startswith(owner) for name in journal_files(journal_dir))
    finally:
        writer.stdin.close()
        assert writer.wait(timeout=60) == -signal.SIGKILL
    assert recording.buffer.recover() == 5


@pytest.mark.django_db
def test_visits_of_a_link_this_database_lacks_are_left_out_of_the_recovery(client, journal_dir):
    # Links are never destroyed; a journal from another database (a shared directory) is
    # the way to one, and must not fail, and stay, for ever.
    link = make_link()
    client.get(f"/{link.slug}")
    killed_writer(journal_dir, link.pk + 1000, 3)
    killed_writer(journal_dir, link.pk, 2)
    assert recording.buffer.recover() == 5  # read and handled: none left to retry
    assert Visit.objects.filter(link=link).count() == 2
    assert Visit.objects.count() == 2
    assert recording.buffer.recover() == 0


def test_two_recoverers_racing_for_the_same_journals_write_each_visit_once(tmp_path):
    for _ in range(6):
        killed_writer(tmp_path, 1, 30)
    left = Journal(tmp_path)
    dead_files = journal_files(tmp_path)
    assert len(dead_files) == 6
    recoverers = [Journal(tmp_path) for _ in range(4)]
    written: list[list[tuple]] = [[] for _ in recoverers]
    start = threading.Barrier(len(recoverers))

    def recover(index: int) -> None:
        start.wait()
        recoverers[index].claim_orphans()
        recoverers[index].replay(written[index].extend)

    threads = [threading.Thread(target=recover, args=(i,)) for i in range(len(recoverers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    everything = [raw for batch in written for raw in batch]
    assert len(everything) == 6 * 30
    assert journal_files(tmp_path) == []
    # Only the recoverers' own leases are left (each is live: this process holds them).
    assert sorted(os.listdir(tmp_path)) == sorted(f"{r.owner}.lease" for r in recoverers)
    assert left.claim_orphans() == 0
    for journal in [left, *recoverers]:
        journal.close(remove_own=True)


def test_a_big_journal_is_written_in_batches_that_are_never_repeated(tmp_path, monkeypatch):
    monkeypatch.setattr(visit_journal, "REPLAY_BATCH", 3)
    killed_writer(tmp_path, 1, 8)
    recoverer = Journal(tmp_path)
    assert recoverer.claim_orphans() == 1
    written: list[tuple] = []

    def fails_on_the_second_batch(batch):
        if written:
            raise RuntimeError("database unavailable")
        written.extend(batch)

    assert recoverer.replay(fails_on_the_second_batch) == 0  # the file failed: retried later
    assert len(written) == 3
    (progress,) = journal_files(tmp_path)  # its name says how far it was written
    assert recoverer.replay(written.extend) == 5
    assert [raw[0] for raw in written] == [1_780_000_000.0 + n for n in range(8)]
    assert journal_files(tmp_path) == [] and progress


def test_many_small_journals_are_written_together_a_batch_a_transaction(tmp_path, monkeypatch):
    """An outage leaves a file a flush interval per process; recovery writes them in a few
    transactions, not one each, and each visit once even when a batch fails."""
    monkeypatch.setattr(visit_journal, "REPLAY_BATCH", 10)
    for _ in range(7):
        killed_writer(tmp_path, 1, 3)  # seven dead processes, three visits each
    recoverer = Journal(tmp_path)
    assert recoverer.claim_orphans() == 7
    batches: list[list[tuple]] = []

    def fails_once(batch):
        if len(batches) == 1 and not getattr(fails_once, "failed", False):
            fails_once.failed = True
            raise RuntimeError("database unavailable")
        batches.append(list(batch))

    assert recoverer.replay(fails_once) == 12  # files 1-3 and 7; 4-6 failed together
    assert recoverer.replay(fails_once) == 9  # they, next time, once
    assert [len(batch) for batch in batches] == [9, 3, 9]
    assert len({raw for batch in batches for raw in batch}) == 3  # the writers' three visits
    assert sum(len(batch) for batch in batches) == 21
    assert journal_files(tmp_path) == []


@pytest.mark.django_db
def test_a_clean_exit_writes_everything_and_leaves_no_file(journal_dir):
    from django.test import RequestFactory

    link = make_link()
    buffer = recording.VisitBuffer()
    request = RequestFactory().get(f"/{link.slug}")
    for _ in range(4):
        buffer.add(link.pk, request.META)
    assert journal_files(journal_dir)
    buffer.shutdown()
    assert os.listdir(journal_dir) == []
    assert Visit.objects.filter(link=link).count() == 4


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, "data/visit-journal"), ("", None), ("spool/j", "spool/j"), ("/abs/j", "/abs/j")],
)
def test_the_journal_directory_setting(value, expected, monkeypatch, tmp_path):
    from config import environment

    monkeypatch.setattr(Path, "mkdir", lambda self, **kwargs: None)
    if value is None:
        monkeypatch.delenv("VISIT_JOURNAL_DIR", raising=False)
    else:
        monkeypatch.setenv("VISIT_JOURNAL_DIR", value)
    found = environment.directory(
        "VISIT_JOURNAL_DIR", Path("/base/data/visit-journal"), Path("/base")
    )
    if expected is None:
        assert found is None
    else:
        assert found == Path("/base") / expected


@pytest.mark.django_db
def test_a_forked_child_journals_into_files_of_its_own(client, journal_dir):
    link = make_link()
    client.get(f"/{link.slug}")
    pid = os.fork()
    if pid == 0:  # the child, as a granian worker just forked: none of the parent's state
        code = 1
        try:
            if recording.buffer.pending() == 0 and recording.buffer._journal is None:
                recording.buffer.add(link.pk, {"REMOTE_ADDR": "192.0.2.1"})
                owner = recording.buffer._journal.owner
                code = 0 if owner.startswith(f"{os.getpid()}-") else 2
        finally:
            os._exit(code)  # as a kill would: no flush, its journal left behind
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert recording.buffer.pending() == 1  # the parent's own, still in its journal
    assert recording.buffer.recover() == 1  # the child's
    assert flush_visits() == 1
    assert Visit.objects.filter(link=link).count() == 2
    assert journal_files(journal_dir) == []


def test_a_journal_directory_that_cannot_be_made_fails_at_start_naming_the_variable(
    monkeypatch, tmp_path
):
    from django.core.exceptions import ImproperlyConfigured

    from config import environment

    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("VISIT_JOURNAL_DIR", str(tmp_path / "a-file" / "journal"))
    with pytest.raises(ImproperlyConfigured, match=r"VISIT_JOURNAL_DIR=.*cannot be made"):
        environment.directory("VISIT_JOURNAL_DIR", tmp_path, tmp_path)


def test_journal_lines_carry_the_country_and_old_lines_still_read():
    from shortener.visits.journal import encode, parse

    raw = (1780000000.5, 7, "192.0.2.1", "ua", "https://r.example/", "DE")
    assert parse(encode(raw).rstrip(b"\n")) == raw
    old = b'[1780000000.5,7,"192.0.2.1","ua","https://r.example/"]'
    assert parse(old) == (1780000000.5, 7, "192.0.2.1", "ua", "https://r.example/", "")
    assert parse(b'[1780000000.5,7,"192.0.2.1","ua","","DEU"]') is None
