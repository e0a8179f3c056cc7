"""Following short links: GET/HEAD /<slug>, the 404 and 410 pages, the preview page."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from shortener.models import Link
from tests.conftest import flush_visits, make_link

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("code", [301, 302, 307, 308])
def test_a_live_link_answers_its_redirect_code(client, code):
    link = make_link(target="https://example.com/landing?utm=1#top", redirect_code=code)
    response = client.get(f"/{link.slug}")
    assert response.status_code == code
    assert response["Location"] == "https://example.com/landing?utm=1#top"
    assert response.content == b""


def test_head_redirects_too_and_counts_nothing(client):
    link = make_link()
    response = client.head(f"/{link.slug}")
    assert response.status_code == 302 and response["Location"] == link.target
    assert Link.objects.get(pk=link.pk).visit_count == 0


def test_a_redirect_sets_no_cookie_and_is_not_cached(client):
    link = make_link()
    response = client.get(f"/{link.slug}")
    assert not response.cookies
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_an_unknown_slug_is_the_404_page(client):
    response = client.get("/NoSuchSlug")
    assert response.status_code == 404
    assert "Not found" in response.content.decode()


@pytest.mark.parametrize("path", ["/no%20such", "/a.b", "/" + "x" * 65, "/%00"])
def test_impossible_slugs_are_404(client, path):
    assert client.get(path).status_code == 404


def test_slugs_are_case_sensitive_when_followed(client):
    make_link(slug="Promo")
    assert client.get("/Promo").status_code == 302
    assert client.get("/promo").status_code == 404


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: make_link(is_active=False), "has been disabled"),
        (lambda: make_link(expires_at=timezone.now() - timedelta(minutes=1)), "has expired"),
        (lambda: make_link(max_visits=1, visit_count_to=1), "maximum number of visits"),
        (lambda: make_link(delete=True), "has been deleted"),
    ],
)
def test_gone_links_are_410_and_say_why(client, make, reason, monkeypatch):
    link = make()
    for method in (client.get, client.head):
        response = method(f"/{link.slug}")
        assert response.status_code == 410
        assert "Location" not in response
    assert reason in client.get(f"/{link.slug}").content.decode()


def test_max_visits_stops_exactly_at_the_limit(client):
    link = make_link(max_visits=3)
    codes = [client.get(f"/{link.slug}").status_code for _ in range(5)]
    assert codes == [302, 302, 302, 410, 410]
    assert flush_visits() == 3
    assert Link.objects.get(pk=link.pk).visit_count == 3


def test_the_preview_page_shows_where_a_link_leads(client):
    link = make_link(title="Quarterly report", target="https://example.com/q3.pdf")
    response = client.get(f"/{link.slug}+")
    body = response.content.decode()
    assert response.status_code == 200
    assert "Quarterly report" in body and "https://example.com/q3.pdf" in body
    assert 'href="https://example.com/q3.pdf"' in body
    assert link.created_at.strftime("%Y") in body
    assert Link.objects.get(pk=link.pk).visit_count == 0


def test_the_preview_of_a_gone_link_is_410(client):
    link = make_link(is_active=False)
    assert client.get(f"/{link.slug}+").status_code == 410


def test_preview_and_follow_urls_come_from_reverse(client):
    link = make_link()
    assert reverse("follow", args=[link.slug]) == f"/{link.slug}"
    assert reverse("preview", args=[link.slug]) == f"/{link.slug}+"


def test_a_link_expiring_later_still_redirects(client):
    link = make_link(expires_at=timezone.now() + timedelta(minutes=5))
    assert client.get(f"/{link.slug}").status_code == 302
