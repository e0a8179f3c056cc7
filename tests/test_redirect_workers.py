"""Redirects under real load from several processes against granian with two workers:
counts are exact, visit limits hold across workers, a graceful stop loses nothing."""

from collections import Counter

import pytest

from shortener.models import Link, Visit
from tests.conftest import make_link
from tests.servers import granian, statuses

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_every_redirect_is_a_visit_and_limits_hold_across_workers():
    free = make_link(target="https://example.com/free")
    limited = make_link(target="https://example.com/limited", max_visits=40)
    with granian(workers=2) as url:
        urls = [f"{url}/{free.slug}"] * 300 + [f"{url}/{limited.slug}"] * 120
        codes = statuses(urls, processes=4)
    # granian has stopped gracefully here: every buffered visit must be written.
    free_codes = Counter(codes[:300])
    limited_codes = Counter(codes[300:])
    assert free_codes == {302: 300}
    assert limited_codes == {302: 40, 410: 80}
    assert Visit.objects.filter(link=free).count() == 300
    assert Visit.objects.filter(link=limited).count() == 40
    assert Link.objects.get(pk=free.pk).visit_count == 300
    assert Link.objects.get(pk=limited.pk).visit_count == 40
    assert set(Visit.objects.values_list("browser", flat=True)) == {"Other"}


def test_a_disabled_link_answers_410_within_the_lookup_bound():
    import time

    link = make_link()
    with granian(workers=2) as url:
        assert set(statuses([f"{url}/{link.slug}"] * 20, processes=2)) == {302}
        link.disable()
        disabled_at = time.monotonic()
        while set(statuses([f"{url}/{link.slug}"] * 10, processes=2)) != {410}:
            assert time.monotonic() - disabled_at < 2.5, "still redirecting after the bound"
            time.sleep(0.1)
