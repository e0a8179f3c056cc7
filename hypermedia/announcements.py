"""What happened, said to the page's aria-live region after an htmx swap.

The answer carries `HX-Trigger: {"announce": {"value": "…"}}`; static/js/torii.js writes
the sentence into #messages, as the server's own messages are after a full page load.
"""

from django.http import HttpResponse
from django_htmx.http import trigger_client_event


def announce(response: HttpResponse, sentence: str) -> HttpResponse:
    return trigger_client_event(response, "announce", {"value": sentence})
