"""Filling a new link's empty title from its destination's `<title>`, when its owner
ticks the box (off by default): a task, so the person waits for no stranger's server.

The page is requested once through the one safe fetcher (`shortener.outbound.fetch.get`:
the target policy on every address, at most 3 redirects each checked, 5 s, 64 KB) and
the title written through the link core's `edit()`, only while the title is still empty
(the owner may have typed one meanwhile). A refusal or a failure leaves it empty."""

import logging

from django.conf import settings
from django.db import transaction
from django.tasks import task

from shortener.links.access import SYSTEM
from shortener.links.models import Link
from shortener.links.refusal import LinkRefused
from shortener.links.writes import edit
from shortener.outbound import fetch
from shortener.policy import page_titles

logger = logging.getLogger(__name__)
TIMEOUT = 5.0
MAX_BYTES = 64 * 1024


def user_agent() -> str:
    return f"Torii-Titles/1 (+{settings.SITE_URL}; reads the title its owner asked for)"


def fill_later(link: Link) -> None:
    """Queue the fill once the link's transaction commits."""
    pk = link.pk
    transaction.on_commit(lambda: fill_title.enqueue(pk))


def read_title(url: str, *, resolver=None, total_timeout: float = TIMEOUT) -> str:
    """The title of the page at `url`, or "" (refused, failed, no HTML title)."""
    try:
        followed = fetch.get(
            url,
            {"Accept": "text/html"},
            total_timeout=total_timeout,
            max_bytes=MAX_BYTES,
            allow_http=True,
            user_agent=user_agent(),
            resolver=resolver,
        )
    except (fetch.FetchRefused, fetch.FetchFailed) as problem:
        logger.info("No title for %s: %s", url, problem.reason)
        return ""
    if followed.answer.status != 200:
        return ""
    return page_titles.title_of(
        followed.answer.body, followed.answer.headers.get("content-type", "")
    )


@task()
def fill_title(link_pk: int) -> str:
    link = Link.objects.filter(pk=link_pk, deleted_at__isnull=True).first()
    if link is None or link.title:
        return "nothing to fill"
    title = read_title(link.target)
    if not title:
        return "no title found"
    with transaction.atomic():
        link = Link.objects.select_for_update().get(pk=link_pk)
        if link.title:
            return "titled meanwhile"
        try:
            edit(link, by=SYSTEM, title=title)
        except LinkRefused as refusal:
            return f"title refused: {refusal}"
    return "filled"
