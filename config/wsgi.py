"""WSGI entry point for granian: `granian --interface wsgi config.wsgi:application`."""

import gc
import os
import sys

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()

# Everything loaded so far (Django, the URL map, templates) lives as long as the
# process: out of the collector's sight, full collections stay short (docs/performance.md).
gc.freeze()

# A thread that holds the counters' write lock (config/counter_cache.py) and waits for
# the GIL keeps every worker's requests waiting; Python hands the GIL over after 5 ms
# by default, and 1 ms shortens the tail (docs/performance.md).
sys.setswitchinterval(0.001)
