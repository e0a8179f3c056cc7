"""Writing a batch of visits that the database may refuse in part: split it and retry.

A batch is written in one transaction, all or nothing, so one row the database refuses
(a visit of a link removed meanwhile, a value it cannot store) would fail the batch at
every attempt, for ever. When the database refuses, the batch is split in halves, each
written in a transaction of its own, down to single rows: only the rows refused alone
are dropped. k bad rows in n cost about 2·k·log2(n) transactions, so the commonest
cause, visits of a link removed meanwhile, is first left out with one query.

When the database is unavailable instead (it is down, locked, timed out, the connection
broke) nothing is bisected or dropped: writing stops, and what is left is kept for the
next attempt. It is the batch's tail: the parts are written in order.
"""

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import DataError, IntegrityError

# "The database refuses these rows": a constraint (a foreign key to a link that is gone,
# on SQLite and PostgreSQL alike), a value PostgreSQL cannot store (a NUL, an overlong
# string, a number out of range: DataError), or a row that cannot even be prepared (a
# journaled time out of range, text that cannot be encoded: ValueError and kin).
# Everything else (OperationalError, InterfaceError, ProgrammingError, InternalError...)
# says the database cannot be used now: no row is to blame.
REFUSALS: tuple[type[BaseException], ...] = (
    IntegrityError,
    DataError,
    ValueError,  # UnicodeError too
    OverflowError,
    TypeError,
)


@dataclass
class Outcome:
    written: int = 0
    refused: Counter = field(default_factory=Counter)  # reason → rows dropped for it
    left: list = field(default_factory=list)  # not written: the database is unavailable
    error: BaseException | None = None  # why `left` is not written

    @property
    def dropped(self) -> int:
        return sum(self.refused.values())


def reason(error: BaseException) -> str:
    """One line naming a refusal: its class and the first line of its message."""
    message = str(error).strip().splitlines()
    return f"{type(error).__name__}: {message[0][:200]}" if message else type(error).__name__


Narrow = Callable[[list], tuple[list, Counter]]


def write_splitting(
    write: Callable[[list], Any], rows: list, narrow: Narrow | None = None
) -> Outcome:
    """Write `rows` with `write` (one transaction a call), isolating the refused ones.

    `narrow`, called once if the whole batch is refused, may leave out the rows it knows
    the database refuses (one query, where splitting costs transactions by the row): it
    returns the rows kept and how many it left out for which reason.
    """
    outcome = Outcome()
    parts = [rows] if rows else []  # a stack: the next part to write is last
    while parts:
        part = parts.pop()
        try:
            write(part)
        except REFUSALS as refusal:
            if narrow is not None and part is rows:
                try:
                    kept, left_out = narrow(part)
                except REFUSALS:  # it cannot tell: split
                    kept, left_out = part, Counter()
                except Exception as error:  # unavailable: keep the whole batch
                    outcome.error, outcome.left = error, list(part)
                    return outcome
                outcome.refused.update(left_out)
                if len(kept) < len(part):
                    parts += [kept] if kept else []  # whole again: it may all go in now
                    continue
            if len(part) == 1:
                outcome.refused[reason(refusal)] += 1
            else:
                middle = len(part) // 2
                parts += [part[middle:], part[:middle]]
            continue
        except Exception as error:  # unavailable: keep this part and every later one
            outcome.error = error
            outcome.left = part + [row for later in reversed(parts) for row in later]
            return outcome
        outcome.written += len(part)
    return outcome
