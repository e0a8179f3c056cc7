"""RateLimitMiddleware: groups by URL name, keys, 429 answers, cache failure, logging.

Routes for links, the API and webhooks are other modules' work; this test
urlconf gives their names (docs/rate-limiting.md) to stand-in views.
"""

import json
import logging
import re

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import path
from django_htmx.middleware import HtmxDetails

from config.ratelimit import middleware as ratelimit_middleware
from config.ratelimit.middleware import EarlyRateLimitMiddleware, RateLimitMiddleware
from tests.conftest import DAY, per_day


def ok(request, **kwargs):
    return HttpResponse("ok")


urlpatterns = [
    path("", ok, name="home"),
    path("healthz", ok, name="healthz"),
    path("accounts/login/", ok, name="login"),
    path("accounts/logout/", ok, name="logout"),
    path("accounts/password_change/", ok, name="password_change"),
    path("links/new", ok, name="link-list"),
    path("api/v1/links/", ok, name="api-link-list"),
    path("api/v1/links/<slug:slug>", ok, name="api-link-detail"),
    path("webhooks/<str:source>/", ok, name="webhook-receive"),
    path("<slug:slug>/info", ok, name="preview"),
    path("<slug:slug>", ok, name="follow"),
]

pytestmark = pytest.mark.urls(__name__)
LIMIT = 3
FIELD_MEMBER = re.compile(r'"[a-z-]+";q=\d+;w=\d+')
STATE_MEMBER = re.compile(r'"[a-z-]+";r=\d+;t=\d+')


@pytest.fixture(autouse=True)
def low_limits(settings):
    settings.RATE_LIMITS = {group: per_day(LIMIT) for group in settings.RATE_LIMITS}
    settings.TRUSTED_PROXY_COUNT = 0
    return settings


class SignedIn:
    is_authenticated = True

    def __init__(self, pk):
        self.pk = pk


factory = RequestFactory()
called = []


def view(request):
    called.append(request.path)
    if request.path.startswith("/webhooks/") and request.method == "POST":
        return receiver(request, request.path.split("/")[2])
    return HttpResponse("ok")


def receiver(request, source):
    """Stands in for the webhook receiver: `forged` fails its signature, others pass."""
    if source == "forged":
        return request.torii.rate_limits.authentication_failed() or HttpResponse(status=401)
    return request.torii.rate_limits.webhook_verified(source) or HttpResponse("ok")


middleware = RateLimitMiddleware(view)


def send(method="get", url="/", ip="192.0.2.1", user=None, data=None, **headers):
    request = getattr(factory, method)(url, data=data or {}, REMOTE_ADDR=ip, headers=headers)
    request.user = user or AnonymousUser()  # as AuthenticationMiddleware would
    request.htmx = HtmxDetails(request)  # as HtmxMiddleware would
    return middleware(request)


def statuses(count, **kwargs):
    return [send(**kwargs).status_code for _ in range(count)]


# --- Groups and keys, middleware called directly -------------------------------------


def test_default_group_lets_the_limit_through_then_refuses():
    called.clear()
    assert statuses(LIMIT + 2) == [200] * LIMIT + [429, 429]
    assert len(called) == LIMIT  # refused requests never reach the view


def test_refusal_carries_retry_after_and_ratelimit_fields():
    statuses(LIMIT, url="/api/v1/links/x")
    response = send(url="/api/v1/links/x")
    assert response.status_code == 429
    retry_after = int(response["Retry-After"])
    assert 1 <= retry_after <= DAY
    assert response["RateLimit-Policy"] == f'"api";q={LIMIT};w={DAY}'
    assert response["RateLimit"] == f'"api";r=0;t={retry_after}'


def test_every_group_is_counted_separately():
    assert statuses(LIMIT + 1) == [200] * LIMIT + [429]
    assert send(url="/abc123").status_code == 200  # redirect group
    assert send(url="/abc123/info").status_code == 200  # preview is redirect too
    assert send(url="/webhooks/github/", method="post").status_code == 200


def test_redirect_group_is_per_client_address():
    assert statuses(LIMIT + 1, url="/abc123") == [200] * LIMIT + [429]
    assert send(url="/other", ip="192.0.2.2").status_code == 200


def test_health_checks_are_exempt():
    assert set(statuses(LIMIT * 3, url="/healthz")) == {200}


@pytest.mark.parametrize("path", ["/static/css/site.css", "/static/no/such.file", "/favicon.ico"])
def test_the_early_limiter_leaves_static_paths_to_whitenoise(path):
    # Whitenoise, below it, serves the files that exist; the rest reach the late one.
    early = EarlyRateLimitMiddleware(view)
    answers = [early(factory.get(path, REMOTE_ADDR="192.0.2.1")).status_code for _ in range(9)]
    assert set(answers) == {200}


@pytest.mark.parametrize("path", ["/static/no/such.file", "/static/", "/static/../etc/passwd"])
def test_static_paths_that_reach_the_late_limiter_count_as_default(path):
    # Only a path whitenoise did not serve gets this far: it is a 404 page like any other.
    assert statuses(LIMIT + 1, url=path) == [200] * LIMIT + [429]
    assert send(url="/").status_code == 429  # the address's default bucket


def test_a_path_that_resolves_to_nothing_counts_as_default():
    assert statuses(LIMIT + 1, url="/no/such/page") == [200] * LIMIT + [429]
    assert send(url="/").status_code == 429  # same bucket as the home page


def test_sign_in_posts_are_limited_per_address():
    for number in range(LIMIT):
        data = {"username": f"user{number}", "password": "x"}
        assert send("post", "/accounts/login/", data=data).status_code == 200
    refused = send("post", "/accounts/login/", data={"username": "someone-else"})
    assert refused.status_code == 429
    assert send("post", "/accounts/login/", ip="192.0.2.9").status_code == 200


def sign_in_from_many_addresses(username):
    for number in range(LIMIT):
        ip = f"198.51.100.{number}"
        data = {"username": username}
        assert send("post", "/accounts/login/", ip=ip, data=data).status_code == 200


def test_sign_in_posts_are_limited_per_username_across_addresses():
    sign_in_from_many_addresses("alice")
    refused = send("post", "/accounts/login/", ip="203.0.113.50", data={"username": " alice "})
    assert refused.status_code == 429
    assert '"login-username";r=0' in refused["RateLimit"]
    assert '"login";r=' in refused["RateLimit"]


# Every spelling that the sign-in form turns into `alice` (strip, then NFKC).
ALICE_SPELLINGS = [
    "\uff41\uff4c\uff49\uff43\uff45",  # all five letters fullwidth
    "a\uff4cice",  # one fullwidth letter
    "\u3000alice\u3000",  # ideographic spaces around it
    "\u1d43lice",  # modifier letter small a
    "al\u2170ce",  # small roman numeral one
]


@pytest.mark.parametrize("spelling", ALICE_SPELLINGS)
def test_a_username_is_one_bucket_however_it_is_spelled(spelling):
    from django.contrib.auth.forms import UsernameField

    assert UsernameField().clean(spelling) == "alice"  # the form signs in as alice
    sign_in_from_many_addresses("alice")
    refused = send("post", "/accounts/login/", ip="203.0.113.50", data={"username": spelling})
    assert refused.status_code == 429
    assert '"login-username";r=0' in refused["RateLimit"]


@pytest.mark.parametrize("spelling", ALICE_SPELLINGS)
def test_guessing_under_another_spelling_spends_alices_bucket(spelling):
    sign_in_from_many_addresses(spelling)
    refused = send("post", "/accounts/login/", ip="203.0.113.50", data={"username": "alice"})
    assert refused.status_code == 429


def test_another_case_is_another_account_and_another_bucket():
    # ModelBackend matches usernames case-sensitively: `Alice` never signs in as alice.
    sign_in_from_many_addresses("alice")
    other = send("post", "/accounts/login/", ip="203.0.113.50", data={"username": "Alice"})
    assert other.status_code == 200


def test_viewing_the_sign_in_form_is_default_not_login():
    statuses(LIMIT, method="post", url="/accounts/login/", data={"username": "a"})
    assert send(url="/accounts/login/").status_code == 200


def test_creating_links_is_per_user_when_signed_in():
    alice, bob = SignedIn(1), SignedIn(2)
    assert statuses(LIMIT + 1, method="post", url="/links/new", user=alice) == [200] * LIMIT + [429]
    assert send("post", "/links/new", user=bob).status_code == 200
    assert send("post", "/links/new").status_code == 200  # anonymous: per address


def test_creating_links_is_per_address_when_anonymous():
    assert statuses(LIMIT + 1, method="post", url="/links/new") == [200] * LIMIT + [429]
    assert send("post", "/links/new", ip="192.0.2.2").status_code == 200


def test_a_get_to_the_create_url_is_default():
    statuses(LIMIT, method="post", url="/links/new")
    assert send(url="/links/new").status_code == 200


def test_made_up_tokens_share_the_address_bucket_and_count_as_failures():
    made_up = [send(url="/api/v1/links/x", Authorization=f"Bearer made-up-{n}") for n in range(5)]
    assert [answer.status_code for answer in made_up] == [200] * LIMIT + [429, 429]
    assert '"auth-failures";r=0' in made_up[LIMIT]["RateLimit"]
    assert send(url="/api/v1/links/x", ip="192.0.2.2", Authorization="Bearer x").status_code == 200


def test_api_without_a_token_is_per_address():
    assert statuses(LIMIT + 1, url="/api/v1/links/x") == [200] * LIMIT + [429]
    assert send(url="/api/v1/links/x", ip="192.0.2.2").status_code == 200


def test_a_request_without_a_token_is_no_failure():
    statuses(LIMIT, url="/api/v1/links/x")
    response = send(url="/api/v1/links/x")
    assert response.status_code == 429
    assert "auth-failures" not in response["RateLimit"]
    assert send(url="/api/v1/links/x", ip="192.0.2.2", Authorization="Bearer x").status_code == 200


def test_api_responses_under_the_limit_carry_the_fields():
    response = send(url="/api/v1/links/x")
    assert response.status_code == 200
    assert response["RateLimit-Policy"] == f'"api";q={LIMIT};w={DAY}'
    assert re.fullmatch(rf'"api";r={LIMIT - 1};t=\d+', response["RateLimit"])


def test_html_pages_under_the_limit_carry_no_fields():
    assert "RateLimit" not in send(url="/")


def test_creating_through_the_api_counts_as_api_and_create():
    response = send("post", "/api/v1/links/")
    policies = FIELD_MEMBER.findall(response["RateLimit-Policy"])
    assert [member.split(";")[0] for member in policies] == ['"api"', '"create"']
    assert all(STATE_MEMBER.fullmatch(m.strip()) for m in response["RateLimit"].split(","))


def test_verified_webhooks_are_per_source():
    assert statuses(LIMIT + 1, method="post", url="/webhooks/github/") == [200] * LIMIT + [429]
    assert send("post", "/webhooks/stripe/").status_code == 200
    assert send("post", "/webhooks/github/", ip="192.0.2.99").status_code == 429


def test_failed_webhooks_spend_the_address_not_the_source():
    forged = statuses(LIMIT + 2, method="post", url="/webhooks/forged/")
    assert forged == [401] * LIMIT + [429, 429]
    assert statuses(LIMIT, method="post", url="/webhooks/github/", ip="192.0.2.9") == [200] * LIMIT


def test_a_full_failure_bucket_refuses_failures_and_never_a_verified_delivery():
    """Strangers failing from the sender's address (a NAT) do not lock the sender out."""
    statuses(LIMIT, method="post", url="/webhooks/forged/")
    called.clear()
    passed = send("post", "/webhooks/github/")
    assert passed.status_code == 200 and called == ["/webhooks/github/"]
    assert "auth-failures" not in passed["RateLimit"]
    refused = send("post", "/webhooks/forged/")
    assert refused.status_code == 429
    assert refused["RateLimit"].startswith('"auth-failures";r=0;')


def test_a_verified_delivery_reports_its_source_bucket_only():
    response = send("post", "/webhooks/github/")
    assert response["RateLimit-Policy"] == f'"webhook";q={LIMIT};w={DAY}'


def test_a_get_to_the_webhook_url_is_default():
    statuses(LIMIT, method="post", url="/webhooks/forged/")
    assert send(url="/webhooks/forged/", ip="192.0.2.5").status_code == 200
    assert statuses(LIMIT, url="/", ip="192.0.2.5") == [200] * (LIMIT - 1) + [429]


def test_a_group_set_off_is_never_limited(settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "default": None}
    assert set(statuses(LIMIT * 3)) == {200}


def test_ratelimit_enable_false_switches_everything_off(settings):
    settings.RATELIMIT_ENABLE = False
    assert set(statuses(LIMIT * 3)) == {200}


# --- Client address -------------------------------------------------------------------


def test_a_forged_forwarded_for_buys_nothing_without_trusted_proxies():
    answers = [send(**{"X-Forwarded-For": f"203.0.113.{n}"}).status_code for n in range(LIMIT + 2)]
    assert answers == [200] * LIMIT + [429, 429]


def test_behind_one_trusted_proxy_each_client_has_its_own_bucket(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.1"
    first = {"X-Forwarded-For": "203.0.113.1"}
    assert statuses(LIMIT + 1, ip=proxy, **first) == [200] * LIMIT + [429]
    assert send(ip=proxy, **{"X-Forwarded-For": "203.0.113.2"}).status_code == 200
    # Forging an entry to the left of what the proxy appended changes nothing.
    forged = {"X-Forwarded-For": "198.51.100.7, 203.0.113.1"}
    assert send(ip=proxy, **forged).status_code == 429


@pytest.mark.parametrize(
    "forwarded_for", ["junk", "1" * 5000, "203.0.113.\u0669", "\xe9\xe9", ", , ,", "::::::"]
)
def test_junk_forwarded_for_behind_a_proxy_falls_back_to_remote_addr(settings, forwarded_for):
    settings.TRUSTED_PROXY_COUNT = 1
    assert statuses(LIMIT + 1, ip="10.0.0.1", **{"X-Forwarded-For": forwarded_for}) == (
        [200] * LIMIT + [429]
    )
    assert send(ip="10.0.0.1").status_code == 429  # it was REMOTE_ADDR's bucket


def test_ipv6_clients_in_one_64_share_a_bucket():
    for host in range(LIMIT):
        assert send(ip=f"2001:db8:1:2::{host + 1}").status_code == 200
    assert send(ip="2001:db8:1:2:ffff::1").status_code == 429
    assert send(ip="2001:db8:1:3::1").status_code == 200


def test_an_empty_remote_addr_is_limited_not_an_error():
    assert statuses(LIMIT + 1, ip="") == [200] * LIMIT + [429]


# --- Answers by kind of client ---------------------------------------------------------


def test_htmx_requests_get_a_fragment_retargeted_into_messages():
    statuses(LIMIT)
    response = send(**{"HX-Request": "true"})
    assert response.status_code == 429
    assert response["HX-Retarget"] == "#messages"
    assert response["HX-Reswap"] == "innerHTML"
    body = response.content.decode()
    assert body.startswith('<p class="message message-error" role="alert">Too many requests')
    assert "<html" not in body
    assert "HX-Request" in response["Vary"]
    assert response["Retry-After"]


def test_api_and_webhook_refusals_are_problem_json():
    for url in ("/api/v1/links/x", "/webhooks/github/"):
        statuses(LIMIT, method="post", url=url)
        response = send("post", url)
        assert response.status_code == 429
        assert response["Content-Type"] == "application/problem+json"
        problem = json.loads(response.content)
        assert problem["status"] == 429
        assert problem["title"] == "Too Many Requests"
        assert problem["type"] == "urn:torii:problem:rate-limited"
        assert "retry in" in problem["detail"]


def test_refusals_are_never_cached():
    statuses(LIMIT)
    assert "no-store" in send()["Cache-Control"]


# --- Through the client: the whole middleware stack -------------------------------------


@pytest.mark.django_db
def test_browsers_get_the_site_429_page(client):
    for _ in range(LIMIT):
        assert client.get("/").status_code == 200
    response = client.get("/")
    assert response.status_code == 429
    body = response.content.decode()
    assert '<p class="error-code">429</p>' in body
    assert 'class="site-header"' in body
    assert 'id="messages"' in body
    assert f"try again in {response['Retry-After']} second" in body
    assert response["RateLimit-Policy"] == f'"default";q={LIMIT};w={DAY}'


@pytest.mark.django_db
def test_htmx_through_the_client(client):
    for _ in range(LIMIT):
        client.get("/")
    response = client.get("/", headers={"HX-Request": "true"})
    assert response.status_code == 429
    assert response["HX-Retarget"] == "#messages"


@pytest.mark.django_db
def test_signed_in_users_create_against_their_own_bucket(client):
    from tests.conftest import make_user

    client.force_login(make_user("alice"))
    assert [client.post("/links/new").status_code for _ in range(LIMIT + 1)] == (
        [200] * LIMIT + [429]
    )
    client.force_login(make_user("bob"))
    assert client.post("/links/new").status_code == 200


@pytest.mark.django_db
def test_junk_headers_through_the_client_are_never_a_500(client, settings):
    settings.TRUSTED_PROXY_COUNT = 2
    headers = {
        "X-Forwarded-For": "\xff" * 3000,
        "Authorization": "Bearer " + "\xe9" * 500,
    }
    response = client.get("/api/v1/links/x", headers=headers, REMOTE_ADDR="not-an-ip")
    assert response.status_code == 200


def test_it_runs_after_authentication_and_htmx():
    from django.conf import settings

    stack = settings.MIDDLEWARE
    position = stack.index("config.ratelimit.middleware.RateLimitMiddleware")
    assert position > stack.index("django.contrib.auth.middleware.AuthenticationMiddleware")
    assert position > stack.index("django_htmx.middleware.HtmxMiddleware")


# --- Cache failure ------------------------------------------------------------------------


class BrokenCache:
    def add(self, *args, **kwargs):
        raise ConnectionError("cache down")

    get = update_gcra = set = add


class TimingOutCache:
    """Answers as a Redis that stopped mid-run: the client gives up after its timeout."""

    def update_gcra(self, *args, **kwargs):
        from redis.exceptions import TimeoutError

        raise TimeoutError("Timeout reading from socket")

    add = update_gcra


@pytest.fixture(params=[BrokenCache, TimingOutCache])
def cache_down(request, monkeypatch):
    broken = {"counters": request.param(), "default": request.param()}
    monkeypatch.setattr(ratelimit_middleware, "caches", broken)
    return broken


def test_redirects_fail_open_when_the_cache_is_down(cache_down):
    assert set(statuses(LIMIT * 2, url="/abc123")) == {200}


def test_sign_in_fails_closed_with_503_when_the_cache_is_down(cache_down):
    response = send("post", "/accounts/login/", data={"username": "alice"})
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert "RateLimit" not in response  # no counts to report
    assert (
        "Temporarily unavailable"
        in send("post", "/accounts/login/", **{"HX-Request": "true"}).content.decode()
    )


def test_fail_open_is_configurable_per_group(cache_down, settings):
    settings.RATE_LIMIT_FAIL_OPEN = ["login"]
    assert send("post", "/accounts/login/").status_code == 200
    assert send(url="/abc123").status_code == 503
    response = send(url="/api/v1/links/x")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"


def test_webhook_buckets_spent_by_the_view_fail_open_too(cache_down):
    assert set(statuses(LIMIT * 2, method="post", url="/webhooks/github/")) == {200}
    assert set(statuses(LIMIT * 2, method="post", url="/webhooks/forged/")) == {401}


def test_a_fail_closed_webhook_bucket_answers_503_from_the_view(cache_down, settings):
    settings.RATE_LIMIT_FAIL_OPEN = ["auth-failures"]
    response = send("post", "/webhooks/github/")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    assert response["Retry-After"] == "30"


def test_a_cache_failure_is_logged_without_flooding(cache_down, caplog):
    with caplog.at_level(logging.ERROR, logger="config.ratelimit.outage"):
        statuses(10, url="/abc123")
    assert len(caplog.records) == 1
    assert "cache unavailable" in caplog.records[0].getMessage()


# --- Logging ------------------------------------------------------------------------------


def test_rejections_are_logged_once_per_key_per_window(caplog):
    with caplog.at_level(logging.WARNING, logger="config.ratelimit.middleware"):
        statuses(LIMIT + 20)
        statuses(LIMIT + 20, ip="192.0.2.2")
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 2
    assert "Rate limit default exceeded by ip:192.0.2.1" in lines[0]
    assert "ip:192.0.2.2" in lines[1]


def test_a_page_that_cannot_render_still_answers_429(monkeypatch):
    from config.ratelimit import responses

    def broken(*args, **kwargs):
        raise ValueError("Missing staticfiles manifest entry for 'css/site.css'")

    monkeypatch.setattr(responses, "render_to_string", broken)
    statuses(LIMIT)
    response = send()
    assert response.status_code == 429
    assert "Too Many Requests" in response.content.decode()
    assert response["Retry-After"]
