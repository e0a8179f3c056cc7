"""The whole server SIGKILLed and restarted: the visits its dead processes journaled are
written within 10 seconds of the restart, with no traffic at all (issue 33, item 4).

Before, a dead process's journal was recovered by the flushing thread, which started on
a worker's first redirect: a quiet link's stats stayed short until someone clicked.
"""

import os
import signal
import tempfile
import time

import pytest

from shortener.models import Link, Visit
from tests.conftest import make_link
from tests.servers import granian_process, statuses
from tests.test_web_worker_crash import is_granian, workers_of

REDIRECTS = 60
WHOLE_WITHIN = 10.0  # seconds after the restart, the figure


def kill_everything(server) -> None:
    """Every worker first, then the main process: all by SIGKILL, so no graceful stop (and
    no flush) anywhere, as a power-less crash of the container would do it."""
    workers = workers_of(server.pid)
    assert len(workers) == 2
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    os.kill(server.pid, signal.SIGKILL)
    server.wait(timeout=10)
    deadline = time.monotonic() + 10
    while any(is_granian(pid) for pid in workers):
        assert time.monotonic() < deadline, "killed workers still alive"
        time.sleep(0.05)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_whole_server_killed_and_restarted_writes_its_visits_with_no_traffic():
    link = make_link(target="https://example.com/quiet")
    journal = tempfile.TemporaryDirectory(prefix="torii-crash-journal-")
    # Never flushed by the clock: every visit is in the journal only, when the kill comes.
    first = {"VISIT_JOURNAL_DIR": journal.name, "VISIT_FLUSH_SECONDS": "3600"}
    try:
        with granian_process(workers=2, env=first) as (url, server):
            assert set(statuses([f"{url}/{link.slug}"] * REDIRECTS, processes=2)) == {302}
            kill_everything(server)
        assert Visit.objects.filter(link=link).count() == 0  # nothing written before
        assert any(name.endswith(".journal") for name in os.listdir(journal.name))

        restarted_at = time.monotonic()
        second = {"VISIT_JOURNAL_DIR": journal.name, "VISIT_FLUSH_SECONDS": "1"}
        # Only /healthz is asked (by the start-up wait): no link is visited.
        with granian_process(workers=2, env=second) as (_, server):
            # Counted from the server answering: starting granian and Django takes seconds
            # of its own on a loaded machine, whatever recovers the journals.
            up_at = time.monotonic()
            while (stored := Visit.objects.filter(link=link).count()) < REDIRECTS:
                elapsed = time.monotonic() - up_at
                assert elapsed < WHOLE_WITHIN, f"{stored} of {REDIRECTS} visits after {elapsed} s"
                time.sleep(0.1)
            whole_after = time.monotonic() - up_at
            time.sleep(1.5)  # a second recovery pass, by the other worker, adds nothing
            assert Visit.objects.filter(link=link).count() == REDIRECTS
        print(
            f"visits whole {whole_after:.1f} s after the server answered, "
            f"{up_at - restarted_at + whole_after:.1f} s after the restart began"
        )
        assert Link.objects.get(pk=link.pk).visit_count == REDIRECTS
        assert not any(name.endswith(".journal") for name in os.listdir(journal.name))
    finally:
        journal.cleanup()
