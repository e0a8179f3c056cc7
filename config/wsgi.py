"""WSGI entry point for granian: `granian --interface wsgi config.wsgi:application`."""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()

# Everything loaded so far (Django, the URL map, templates) lives as long as the
# process: out of the collector's sight, full collections stay short. Measured side
# by side with make bench's load: 3-5 % more redirects a second.
gc.freeze()
