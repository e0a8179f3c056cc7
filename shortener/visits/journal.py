"""The visit journal: every buffered visit is on disk too, so a killed process loses none.

Before a redirect is answered, the process appends its visit to a journal file of its
own: one JSON line (ASCII only, so any header text is safe) in one os.write on an
O_APPEND descriptor. The kernel keeps it when the process is killed; there is no fsync,
so a power cut can still lose what the page cache held (docs/operations.md).

A flush takes the pending visits and the files that hold them, both under the buffer's
lock, so later visits go to a new file; the files are removed as soon as the flush's
transaction has committed, and kept with the visits when it fails.

Only a dead process leaves files behind. Each process holds an exclusive flock on its
lease `<owner>.lease` for its life (`<owner>` is its pid and a random token, so a reused
pid is no one's); its journals are `<owner>.<n>.journal`, made after the lease and
removed before it. The kernel drops the lock with the process, so a lease whose lock can
be taken is a dead owner's: another process claims each of its journals by renaming it
into its own name (atomic: one claimant wins), writes the visits, then removes the file.
A kill between a commit and that removal writes the file again; the window is one unlink.

A journal that cannot be written (its volume read-only or full) hands over to a spare
directory on another file system (VISIT_JOURNAL_SPARE_DIR; the buffer does it,
shortener/visits/recording.py): the visits still pending are journaled there again, and
the files they were in are named in the spare's `<owner>.supersedes` (so are files whose
visits are written but that could not be removed). Recovery writes the spare's journals
first; a dead owner's journal named there is deleted, not written, so a volume repaired
after the outage counts none of its visits twice.
"""

import contextlib
import fcntl
import itertools
import json
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from json.encoder import encode_basestring_ascii as quote
from pathlib import Path

logger = logging.getLogger(__name__)

RawVisit = tuple[float, int, str, str, str, str]  # as in shortener.visits

# `<owner>.<n>.journal`, or `<owner>.<n>.<done>.journal` once the first `done` bytes of
# a dead process's journal are written (a big one is written a batch at a time).
JOURNAL_NAME = re.compile(r"^(?P<owner>\d+-[0-9a-f]+)\.(?P<n>\d+)(?:\.(?P<done>\d+))?\.journal$")
LEASE_SUFFIX = ".lease"
SUPERSEDES_SUFFIX = ".supersedes"  # a spare's list of another directory's journal names
NEW_LEASE_SUFFIX = ".lease.new"  # made and locked under this name, then renamed
REPLAY_BATCH = 5000  # visits per transaction when writing a dead process's journal
STALE_SECONDS = 60  # a lease still being set up is younger than this


def encode(raw: RawVisit) -> bytes:
    """One JSON line, ASCII only. Formatted by hand around json's own string quoting:
    twice as fast as json.dumps, on the redirect's path."""
    when, link_id, address, user_agent, referrer, country = raw
    return (
        f"[{when!r},{link_id:d},{quote(address)},{quote(user_agent)},{quote(referrer)},"
        f"{quote(country)}]\n"
    ).encode("ascii")


def parse(line: bytes) -> RawVisit | None:
    """The visit a journal line holds, or None for one that is not a visit. Lines written
    before visits had a country (five fields) read as visits from an unknown country."""
    try:
        fields = json.loads(line)
        if isinstance(fields, list) and len(fields) == 5:
            fields.append("")
        when, link_id, address, agent, referrer, country = fields
    except (ValueError, TypeError):
        return None
    if (
        isinstance(when, bool)
        or not isinstance(when, int | float)
        or type(link_id) is not int
        or not all(isinstance(text, str) for text in (address, agent, referrer, country))
        or len(country) > 2
    ):
        return None
    return (float(when), link_id, address, agent, referrer, country)


def records(data: bytes, start: int = 0) -> Iterator[tuple[int, RawVisit | None]]:
    """(offset after the line, its visit or None) for each whole line from `start`.

    A line ends with its newline, written in the same os.write: a last line without one
    is a record the kill cut short, never acknowledged, and is left out.
    """
    position = start
    while (end := data.find(b"\n", position)) >= 0:
        yield end + 1, parse(data[position:end])
        position = end + 1


class Journal:
    """This process's journal files in `directory`, and the ones it claimed from the dead."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.owner = ""
        self._lease: int | None = None
        self._fd: int | None = None
        self._lease_lock = threading.Lock()
        # next() on a count is atomic: the flusher's claims and the requests' new files
        # take numbers at once, and a rename onto a taken name would replace that file.
        self._numbers = itertools.count(1)
        self._files: list[Path] = []  # own journals, holding visits still pending
        # Dead owners' journals, renamed ours and not yet written → the name they had.
        self._claimed: dict[Path, str] = {}
        self.unremovable: list[Path] = []  # claimed files written and not removable
        self._written_to: dict[Path, int] = {}  # progress a read-only volume kept out of a name
        self._failing = False

    # --- this process's visits (every method here runs under the buffer's lock) ---

    def append(self, record: bytes) -> bool:
        """Journal one visit; False when it could not be. A failure (a full or read-only
        disk) is logged once and leaves the visit in memory only (or for the buffer to
        journal in its spare); the next one goes to a new file, after no torn record."""
        try:
            if self._fd is None:
                self._open_next()
            written = os.write(self._fd, record)
            while written < len(record):  # only a full disk or a signal cuts one short
                written += os.write(self._fd, record[written:])
        except OSError:
            if not self._failing:
                logger.exception(
                    "Cannot journal visits in %s: until it works again, a killed process "
                    "loses the visits it buffered",
                    self.directory,
                )
            self._failing = True
            self._close_current()
            return False
        self._failing = False
        return True

    def rotate(self) -> list[Path]:
        """The files holding every visit pending now; the next visit starts a new file."""
        files, self._files = self._files, []
        self._close_current()
        return files

    def restore(self, files: list[Path]) -> None:
        """A flush failed: its files hold pending visits again, before the newer ones."""
        self._files[:0] = files

    def remove(self, files: list[Path]) -> list[Path]:
        """Remove the files; those that could not be (a read-only volume)."""
        kept = []
        for path in files:
            try:
                path.unlink(missing_ok=True)
            except OSError:
                kept.append(path)
        return kept

    def pending_files(self) -> list[Path]:
        """This process's files holding visits still pending."""
        return list(self._files)

    def supersede(self, files: list[Path]) -> None:
        """Name `files` (another directory's) as held here or written: recovery deletes
        them rather than writing them. Raises OSError when this directory fails too."""
        if not files:
            return
        if self._lease is None:
            self._take_lease()
        line = json.dumps([path.name for path in files]).encode("ascii") + b"\n"
        fd = os.open(
            self.directory / f"{self.owner}{SUPERSEDES_SUFFIX}",
            os.O_WRONLY | os.O_APPEND | os.O_CREAT,
            0o600,
        )
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

    def superseded(self) -> set[str]:
        """Every journal name this directory's lists supersede."""
        names: set[str] = set()
        for path in self.directory.glob(f"*{SUPERSEDES_SUFFIX}"):
            try:
                lines = path.read_bytes().splitlines()
            except FileNotFoundError:
                continue
            for line in lines:
                try:
                    names.update(name for name in json.loads(line) if isinstance(name, str))
                except (ValueError, TypeError):
                    continue  # a line a kill cut short named nothing it could have held
        return names

    def forget_superseded(self, elsewhere: Path) -> None:
        """Remove the lists of dead owners once none of the files they name is left."""
        for path in self.directory.glob(f"*{SUPERSEDES_SUFFIX}"):
            owner = path.name.removesuffix(SUPERSEDES_SUFFIX)
            if owner == self.owner:
                continue
            lease = self.directory / f"{owner}{LEASE_SUFFIX}"
            fd = self._lock_if_dead(lease)
            if fd is None and lease.exists():
                continue  # its owner lives and may name more
            try:
                names = [json.loads(line) for line in path.read_bytes().splitlines() if line]
                left = any((elsewhere / name).exists() for group in names for name in group)
            except (ValueError, TypeError, OSError):
                left = True
            if not left:
                path.unlink(missing_ok=True)
                lease.unlink(missing_ok=True)
            if fd is not None:
                os.close(fd)

    def close(self, *, remove_own: bool) -> None:
        """Stop journaling here. This process's files go when `remove_own` (their visits
        are written, or kept in memory only); files left stay, with the lease, for
        another process to recover once this one has let go of it."""
        self._close_current()
        if remove_own:
            self.remove(self._files)
            self._files = []
        if self._lease is not None:
            if not (self._files or self._claimed):
                # A read-only volume keeps it: a dead owner's lease, claimed when it mends.
                with contextlib.suppress(OSError):
                    (self.directory / f"{self.owner}{LEASE_SUFFIX}").unlink(missing_ok=True)
            os.close(self._lease)
            self._lease = None

    def discard(self) -> None:
        """Forget every file, visits and all (tests start each from nothing)."""
        self.remove(list(self._claimed))
        self._claimed = {}
        self.close(remove_own=True)

    def abandon(self) -> None:
        """In a forked child: the descriptors are the parent's, and so are the files."""
        for fd in (self._fd, self._lease):
            if fd is not None:
                os.close(fd)
        self._fd = self._lease = None
        self._files, self._claimed = [], {}

    def _open_next(self) -> None:
        if self._lease is None:
            self._take_lease()
        path = self.directory / f"{self.owner}.{next(self._numbers)}.journal"
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL
        self._fd = os.open(path, flags, 0o600)
        self._files.append(path)

    def _close_current(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _take_lease(self) -> None:
        """Made under a name recovery ignores, locked, then renamed into place: a recoverer
        never sees this lease unlocked while its owner lives."""
        with self._lease_lock:  # a request's first visit and the flusher's first claim
            if self._lease is not None:
                return
            self.directory.mkdir(parents=True, exist_ok=True)
            owner = f"{os.getpid()}-{secrets.token_hex(8)}"
            new = self.directory / f"{owner}{NEW_LEASE_SUFFIX}"
            fd = os.open(new, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                os.rename(new, self.directory / f"{owner}{LEASE_SUFFIX}")
            except BaseException:
                os.close(fd)
                new.unlink(missing_ok=True)
                raise
            self.owner, self._lease = owner, fd

    # --- recovering the visits of processes that died ---

    def claim_orphans(self, superseded: Callable[[], set[str]] | None = None) -> int:
        """Rename into this process's name every journal whose owner is dead; how many.
        A dead owner's journal named by `superseded()` (asked once the dead are known:
        they name no more) is deleted instead: its visits are held or written elsewhere."""
        if self._lease is None:
            self._take_lease()
        names = sorted(os.listdir(self.directory))
        dead: dict[str, int] = {}  # owner → its lease, locked by us
        claimed = 0
        try:
            for name in names:
                if name.endswith(LEASE_SUFFIX) and name != f"{self.owner}{LEASE_SUFFIX}":
                    if (fd := self._lock_if_dead(self.directory / name)) is not None:
                        dead[name.removesuffix(LEASE_SUFFIX)] = fd
                elif name.endswith(NEW_LEASE_SUFFIX):
                    self._remove_if_stale(self.directory / name)
            gone = superseded() if superseded is not None else set()
            for name in names:
                match = JOURNAL_NAME.match(name)
                if match is None or match["owner"] == self.owner:
                    continue
                lease = self.directory / f"{match['owner']}{LEASE_SUFFIX}"
                # Asked now, not from the listing (which may miss a lease renamed during
                # it): a live owner's lease exists from before its first journal.
                if match["owner"] not in dead and lease.exists():
                    continue
                if name in gone:
                    (self.directory / name).unlink(missing_ok=True)
                    continue
                number = next(self._numbers)
                mine = self.directory / f"{self.owner}.{number}.{match['done'] or 0}.journal"
                try:
                    os.rename(self.directory / name, mine)
                except FileNotFoundError:
                    continue  # another process claimed it first
                self._claimed[mine] = name
                claimed += 1
            for owner in dead:
                (self.directory / f"{owner}{LEASE_SUFFIX}").unlink(missing_ok=True)
        finally:
            for fd in dead.values():
                os.close(fd)
        return claimed

    def replay(self, write: Callable[[list[RawVisit]], None]) -> int:
        """Write the visits of every claimed journal, removing each file once written; a
        file whose write fails stays claimed for the next call. Small files are written
        together, up to REPLAY_BATCH visits a transaction (an outage leaves one file a flush
        interval per process: an hour's, thousands); a big one a batch at a time, its
        progress in its name. A file written that cannot be removed (a read-only volume)
        goes to `unremovable`, for the buffer to supersede: never written twice here."""
        done = {"visits": 0, "skipped": 0, "files": 0, "first": ""}
        group: list[tuple[Path, str]] = []
        batch: list[RawVisit] = []
        skipped_in_group = 0

        def write_group() -> None:
            nonlocal group, batch, skipped_in_group
            if not group:
                return
            try:
                if batch:
                    write(batch)
            except Exception:
                logger.exception(
                    "Writing the visits journaled in %s (and %d more files) failed; will retry",
                    group[0][1],
                    len(group) - 1,
                )
            else:
                self._count(done, group[0][1], len(batch), skipped_in_group, len(group))
                for path, _ in group:
                    del self._claimed[path]
                    self._written_to.pop(path, None)
                    self.unremovable.extend(self.remove([path]))
            group, batch, skipped_in_group = [], [], 0

        for path, name in list(self._claimed.items()):
            try:
                small = self._read_small(path)
                if small is None:
                    self._count(done, name, *self._replay_file(path, write), 1)
                    continue
            except Exception:
                logger.exception("Writing the visits journaled in %s failed; will retry", name)
                continue
            visits, skipped = small
            if len(batch) + len(visits) > REPLAY_BATCH:
                write_group()
            group.append((path, name))
            batch += visits
            skipped_in_group += skipped
        write_group()
        if done["visits"] or done["skipped"]:  # one line a call, however many files
            logger.warning(
                "Recovered %d visits journaled by a process that died (%s%s)%s",
                done["visits"],
                done["first"],
                f" and {done['files'] - 1} more files" if done["files"] > 1 else "",
                f"; {done['skipped']} unreadable records skipped" if done["skipped"] else "",
            )
        return done["visits"]

    @staticmethod
    def _count(done: dict, name: str, visits: int, skipped: int, files: int) -> None:
        done["visits"] += visits
        done["skipped"] += skipped
        done["files"] += files
        done["first"] = done["first"] or name

    def _read_small(self, path: Path) -> tuple[list[RawVisit], int] | None:
        """A journal's visits and its unreadable records, unless it holds a batch or more."""
        match = JOURNAL_NAME.match(path.name)
        data = path.read_bytes()
        start = max(int(match["done"] or 0), self._written_to.get(path, 0))
        if data.count(b"\n", start) >= REPLAY_BATCH:
            return None
        visits = [raw for _, raw in records(data, start)]
        found = [raw for raw in visits if raw is not None]
        return found, len(visits) - len(found)

    def _replay_file(self, path: Path, write: Callable[[list[RawVisit]], None]) -> tuple[int, int]:
        match = JOURNAL_NAME.match(path.name)
        data = path.read_bytes()
        batch: list[RawVisit] = []
        written = skipped = 0
        start = max(int(match["done"] or 0), self._written_to.get(path, 0))
        for end, raw in records(data, start):
            if raw is None:
                skipped += 1
                continue
            batch.append(raw)
            if len(batch) == REPLAY_BATCH and end < len(data):
                write(batch)
                written += len(batch)
                batch = []
                # Progress in the name, right after the commit: a later kill repeats none of it.
                done = path.with_name(f"{match['owner']}.{match['n']}.{end}.journal")
                try:
                    os.rename(path, done)
                except OSError:  # a read-only volume: the progress is kept in memory
                    self._written_to[path] = end
                else:
                    self._claimed[done] = self._claimed.pop(path)
                    self._written_to.pop(path, None)
                    path = done
        if batch:
            write(batch)
            written += len(batch)
        del self._claimed[path]
        self._written_to.pop(path, None)
        self.unremovable.extend(self.remove([path]))
        return written, skipped

    @staticmethod
    def _lock_if_dead(lease: Path) -> int | None:
        """The lease's descriptor, locked, when its owner is dead; None while it lives."""
        try:
            fd = os.open(lease, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return fd

    @classmethod
    def _remove_if_stale(cls, new: Path) -> None:
        """A lease its process died making (between open and rename) is left over."""
        try:
            if time.time() - new.stat().st_mtime < STALE_SECONDS:
                return
        except FileNotFoundError:
            return
        if (fd := cls._lock_if_dead(new)) is not None:
            new.unlink(missing_ok=True)
            os.close(fd)
