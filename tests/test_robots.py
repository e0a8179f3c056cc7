"""/robots.txt: the site's pages may be crawled, short links never (RFC 9309 rules)."""

import re

import pytest

from tests.conftest import make_domain, make_link


def allowed(rules: str, path: str) -> bool:
    """RFC 9309 for `User-agent: *`: the longest matching rule wins, Allow on a tie;
    `*` matches any characters and a final `$` anchors the end."""
    best, verdict = -1, True
    for line in rules.splitlines():
        field, _, value = line.partition(":")
        value = value.strip()
        if field.strip().lower() not in ("allow", "disallow") or not value:
            continue
        pattern = re.escape(value.removesuffix("$")).replace(r"\*", ".*")
        if re.match(pattern + ("$" if value.endswith("$") else ""), path):
            is_allow = field.strip().lower() == "allow"
            if len(value) > best or (len(value) == best and is_allow):
                best, verdict = len(value), is_allow
    return verdict


@pytest.mark.django_db
def test_the_sites_pages_may_be_crawled_and_its_short_links_may_not(client):
    make_link(slug="launch", target="https://example.com/")
    response = client.get("/robots.txt")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    rules = response.content.decode()
    assert rules.splitlines()[1] == "User-agent: *"
    for page in ["/", "/accounts/login/", "/api/v1/docs", "/static/css/site.css"]:
        assert allowed(rules, page), page
    for path in ["/launch", "/launch+", "/links/", "/admin/", "/api/v1/links", "/tokens/"]:
        assert not allowed(rules, path), path


@pytest.mark.django_db
def test_a_short_domain_disallows_everything(client):
    make_domain("ex.co")
    response = client.get("/robots.txt", headers={"Host": "ex.co"})
    assert response.status_code == 200
    rules = response.content.decode()
    assert not allowed(rules, "/")
    assert not allowed(rules, "/launch")


@pytest.mark.django_db
def test_robots_txt_is_read_only(client):
    assert client.head("/robots.txt").status_code == 200
    assert client.post("/robots.txt").status_code == 405
