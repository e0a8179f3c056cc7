"""WSGI entry point for granian: `granian --interface wsgi config.wsgi:application`."""

import ctypes
import gc
import multiprocessing
import os
import signal
import sys

from django.core.wsgi import get_wsgi_application

from config.startup import settings_or_exit

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def stop_with_the_main_process() -> None:
    """A granian worker whose main process is killed would serve on, unsupervised and
    holding the port beside a restarted server's workers: ask the kernel for SIGTERM,
    a graceful stop that writes the buffered visits, when that process goes."""
    parent = multiprocessing.parent_process()
    if parent is None or not sys.platform.startswith("linux"):
        return
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent.pid:  # gone already, before we asked
        os.kill(os.getpid(), signal.SIGTERM)


stop_with_the_main_process()
settings_or_exit()  # a malformed setting: one paragraph and exit 2, not a traceback

get_wsgi_application()  # sets Django up, as granian's import of this module needs

# A slow or locked PostgreSQL cancels the requests' statements instead of holding them.
from config.database_waits import bound_requests  # noqa: E402 - needs the apps loaded above

bound_requests()

# Django's handler with live redirects answered in front of its request cycle.
from config.fast_redirects import FastRedirects  # noqa: E402 - needs the apps loaded above

application = FastRedirects()

# Each worker writes the journals of processes that died from its start, not from its
# first redirect (shortener/visits/recording.py): whole stats after a crash, traffic or not.
from shortener.visits.recording import buffer  # noqa: E402 - needs the apps loaded above

buffer.start()

# Its requests' counts reach the metrics files once a second (config/metrics/counting.py).
from config.metrics.counting import tally  # noqa: E402 - needs the settings loaded above

tally.start()

# Everything loaded so far (Django, the URL map, templates) lives as long as the
# process: out of the collector's sight, full collections stay short (docs/performance.md).
gc.freeze()

# A thread that holds the counters' write lock (config/counter_cache.py) and waits for
# the GIL keeps every worker's requests waiting; Python hands the GIL over after 5 ms
# by default, and 1 ms shortens the tail (docs/performance.md).
sys.setswitchinterval(0.001)
