"""`manage.py task_worker` whose task stops at a chosen point until a file appears.

For tests that kill a worker mid-task: `python -m tests.blocking_worker POINT DIR
[task_worker options]`. The worker runs the real task; at POINT it writes DIR/started
and waits for DIR/release (which a test that kills it never writes).

  handler  inside the event's transaction, before the link.create handler acts
  finished after the event's transaction committed, before the task is marked done
"""

import os
import sys
import time
from pathlib import Path


def hold(folder: Path) -> None:
    (folder / "started").write_text(str(os.getpid()))
    while not (folder / "release").exists():
        time.sleep(0.05)


def main(point: str, folder: Path, *options: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django_tasks_db.models import DBTaskResult

    from shortener.events import handlers

    if point == "handler":
        create = handlers.HANDLERS["link.create"]

        def held_create(event, data):
            hold(folder)
            return create(event, data)

        handlers.HANDLERS["link.create"] = held_create
    elif point == "finished":
        set_successful = DBTaskResult.set_successful

        def held_set_successful(self, return_value):
            hold(folder)
            return set_successful(self, return_value)

        DBTaskResult.set_successful = held_set_successful
    else:
        raise SystemExit(f"unknown point {point!r}: handler or finished")
    call_command("task_worker", *options)


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), *sys.argv[3:])
