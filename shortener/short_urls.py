"""The one place a link's short URL is built, for views and templates alike.

Every page, message and QR code asks here, so a later per-link domain changes one
function instead of every caller.
"""

from django.http import HttpRequest

from shortener.models import Link


def short_url(request: HttpRequest, link: Link) -> str:
    """The absolute short URL people follow: this site's scheme and host, and the slug."""
    return request.build_absolute_uri(link.get_short_path())
