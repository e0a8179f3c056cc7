"""Start-up's first step for manage.py and the WSGI entry: settings, or one clean paragraph.

A malformed variable raises ImproperlyConfigured while config/settings.py loads
(config/environment.py names the variable, the value and what is expected). Left to
Django, that sentence comes last under a long traceback of Django's own frames; an
operator needs only the sentence, and a non-zero exit for the supervisor.
"""

import sys
from typing import TextIO

from django.core.exceptions import ImproperlyConfigured

EXIT_BAD_SETTING = 2


def paragraph(error: ImproperlyConfigured) -> str:
    return (
        f"Torii cannot start: {error}\n"
        "Set the variable in the environment or in .env beside manage.py "
        "(README.md, Configuration) and start again.\n"
    )


def settings_or_exit(stream: TextIO | None = None) -> None:
    """Load the settings; on a malformed setting print its paragraph and exit 2."""
    from django.conf import settings

    try:
        settings.INSTALLED_APPS  # noqa: B018 - the first read imports config/settings.py
    except ImproperlyConfigured as error:
        (stream or sys.stderr).write(paragraph(error))
        sys.stderr.flush()
        raise SystemExit(EXIT_BAD_SETTING) from None
