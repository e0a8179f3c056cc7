"""The one safe fetcher: every resolved address judged, the checked one connected to,
no redirect followed, time and size bounded. Receivers run on loopback, reached only
through the test-only allowance."""

import time

import pytest

from shortener.outbound import fetch
from tests import receivers


def resolving_to(*addresses, calls=None):
    """A resolver for the endpoints' names (hooks.…); Torii's own names resolve to nothing."""

    def resolve(host, port):
        if calls is not None:
            calls.append(host)
        if not host.startswith("hooks."):
            raise fetch.FetchFailed(f"{host} could not be resolved.")
        return list(addresses)

    return resolve


def post(url, **options):
    return fetch.post(url, b'{"a":1}', {"Content-Type": "application/json"}, **options)


def test_a_name_is_resolved_once_and_the_checked_address_connected_to(loopback, receiver):
    one = receiver()
    calls = []
    answer = post(
        f"http://hooks.example.com:{one.port}/in", resolver=resolving_to("127.0.0.1", calls=calls)
    )
    assert answer.status == 200 and answer.body == b"thanks"
    assert calls.count("hooks.example.com") == 1  # no second lookup to connect
    assert one.received[0].headers["host"] == f"hooks.example.com:{one.port}"
    assert one.received[0].body == b'{"a":1}'


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.0.0.8", "192.168.1.1", "169.254.169.254", "0.0.0.0", "::1", "fe80::1",
     "224.0.0.1", "::ffff:127.0.0.1", "fd00::1"],
)  # fmt: skip
def test_a_name_resolving_to_a_forbidden_address_is_refused(settings, address):
    settings.WEBHOOKS_ALLOW_HTTP = True
    with pytest.raises(fetch.FetchRefused) as refused:
        post("https://hooks.example.com/in", resolver=resolving_to(address))
    assert "hooks.example.com resolves to" in refused.value.reason


def test_one_bad_address_among_good_ones_refuses_the_name():
    with pytest.raises(fetch.FetchRefused, match=r"10\.1\.2\.3"):
        post("https://hooks.example.com/", resolver=resolving_to("8.8.8.8", "10.1.2.3"))


def test_loopback_through_dns_is_refused_without_the_test_allowance(settings, receiver):
    one = receiver()
    settings.WEBHOOKS_ALLOW_HTTP = True
    with pytest.raises(fetch.FetchRefused, match=r"127\.0\.0\.1"):
        post(f"http://hooks.example.com:{one.port}/", resolver=resolving_to("127.0.0.1"))
    assert one.connections == 0


def test_the_allowance_lets_loopback_through_and_nothing_else(loopback):
    with pytest.raises(fetch.FetchRefused, match=r"169\.254\.169\.254"):
        post("http://hooks.example.com/", resolver=resolving_to("169.254.169.254"))


def test_torii_s_own_addresses_are_refused(settings):
    settings.ALLOWED_HOSTS = ["torii.example.com"]

    def resolve(host, port):
        return ["8.8.4.4"]  # the site and the endpoint: the same public address

    with pytest.raises(fetch.FetchRefused, match="this site's own addresses"):
        post("https://hooks.example.net/", resolver=resolve)


def test_https_only_unless_allowed(settings):
    settings.WEBHOOKS_ALLOW_HTTP = False
    assert "https://" in fetch.url_problem("http://hooks.example.com/")
    assert fetch.url_problem("https://hooks.example.com/") is None
    settings.WEBHOOKS_ALLOW_HTTP = True
    assert fetch.url_problem("http://hooks.example.com/") is None


@pytest.mark.parametrize(
    "url",
    ["https://127.0.0.1/", "https://169.254.169.254/latest", "https://localhost/",
     "https://[::1]/", "ftp://example.com/", "https://user:pw@example.com/"],
)  # fmt: skip
def test_the_target_policy_judges_the_url_without_dns(url):
    assert fetch.url_problem(url)


def test_a_redirect_is_an_answer_never_followed(loopback, receiver):
    one = receiver(receivers.redirect_to_metadata)
    answer = post(one.url)
    assert answer.status == 302
    assert one.connections == 1


def test_an_endpoint_that_hangs_is_given_up_in_bounded_time(loopback, receiver):
    one = receiver(receivers.hang)
    started = time.monotonic()
    with pytest.raises(fetch.FetchFailed, match="time"):
        post(one.url, total_timeout=0.5)
    assert time.monotonic() - started < 2


def test_an_endpoint_dripping_headers_cannot_outlast_the_deadline(loopback, receiver):
    one = receiver(receivers.drip)
    started = time.monotonic()
    with pytest.raises(fetch.FetchFailed):
        post(one.url, total_timeout=0.5)
    assert time.monotonic() - started < 2


def test_ten_megabytes_are_not_read(loopback, receiver):
    one = receiver(receivers.huge)
    started = time.monotonic()
    answer = post(one.url, max_bytes=4096)
    assert answer.status == 200
    assert len(answer.body) == 4096 and answer.truncated
    assert time.monotonic() - started < 5


def test_a_reset_connection_is_a_network_failure(loopback, receiver):
    one = receiver(receivers.reset)
    with pytest.raises(fetch.FetchFailed):
        post(one.url)


def test_nothing_listening_is_a_network_failure(loopback, receiver):
    one = receiver()
    one.stop()
    with pytest.raises(fetch.FetchFailed, match="Could not connect"):
        post(one.url, connect_timeout=1)
