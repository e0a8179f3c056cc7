"""A first run on any port: granian started as `make run` starts it (PORT exported, no
SITE_URL) on a free port gives short URLs that answer, with nothing else configured."""

import json
import urllib.error
import urllib.request

import pytest

from shortener.tokens import personal as tokens
from tests.conftest import make_user
from tests.servers import granian

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # the 302 itself is the answer under test


def test_the_short_url_a_server_on_a_free_port_shows_leads_to_the_link():
    raw = tokens.issue(make_user("script"), "tests")[1]
    with granian(workers=1, env={"SITE_URL": "", "SITE_HOST": "", "SECURE_SSL": "false"}) as url:
        port = url.rsplit(":", 1)[1]
        request = urllib.request.Request(
            f"{url}/api/v1/links",
            data=json.dumps({"target": "https://example.com/first-run"}).encode(),
            headers={"Authorization": f"Bearer {raw}", "Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            made = json.load(response)
        assert made["short_url"] == f"http://localhost:{port}/{made['slug']}"
        opener = urllib.request.build_opener(NoRedirects)
        with pytest.raises(urllib.error.HTTPError) as answer:
            opener.open(made["short_url"], timeout=10)
        assert answer.value.code == 302
        assert answer.value.headers["Location"] == "https://example.com/first-run"
