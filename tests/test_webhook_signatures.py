"""Signature checks as pure functions: Standard Webhooks and GitHub style, good and bad."""

import base64
import json
import time
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook

from shortener.events.models import new_secret
from shortener.webhooks import signatures
from shortener.webhooks.signatures import SignatureRefused, verify_github, verify_standard
from tests.webhook_delivery import sign, sign_github

SECRET = new_secret()
OLD_SECRET = new_secret()
BODY = b'{"type": "link.create", "data": {"url": "https://example.com/"}}'
NOW = int(time.time())  # the cases below are signed at import, with this time


@pytest.fixture(autouse=True)
def _clock_at_now(monkeypatch):
    """Every check runs at NOW, however long after import the test runs (a full suite
    on a busy machine reached this file more than five minutes after collecting it)."""

    class Then(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.fromtimestamp(NOW, tz=UTC)

    monkeypatch.setattr("standardwebhooks.webhooks.datetime", Then)
    monkeypatch.setattr(signatures, "time", SimpleNamespace(time=lambda: float(NOW)))


def headers(body=BODY, *, secret=SECRET, delivery_id="msg_1", timestamp=NOW, **override):
    values = {
        "webhook-id": delivery_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, delivery_id, timestamp, body),
    }
    values.update(override)
    return {k: v for k, v in values.items() if v is not None}


def test_the_specification_test_vector(monkeypatch):
    """The vector from the Standard Webhooks specification's reference libraries."""
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    msg_id, timestamp, body = "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}'
    expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert sign(secret, msg_id, timestamp, body) == expected

    class Then(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.fromtimestamp(timestamp, tz=UTC)

    monkeypatch.setattr("standardwebhooks.webhooks.datetime", Then)
    given = {"webhook-id": msg_id, "webhook-timestamp": str(timestamp)}
    given["webhook-signature"] = expected
    assert verify_standard([secret], given, body, now=timestamp) == msg_id


def test_a_message_signed_by_the_standardwebhooks_library():
    msg_id, at = "msg_library", datetime.fromtimestamp(NOW, tz=UTC)  # the frozen clock
    text = json.dumps({"type": "link.create", "data": {"url": "https://example.org/é"}})
    signature = Webhook(SECRET).sign(msg_id, at, text)
    given = {"webhook-id": msg_id, "webhook-timestamp": str(int(at.timestamp()))}
    given["webhook-signature"] = signature
    assert verify_standard([SECRET], given, text.encode()) == msg_id


def test_good_signature_returns_the_delivery_id():
    assert verify_standard([SECRET], headers(), BODY) == "msg_1"


def test_an_old_secret_keeps_working_during_rotation():
    assert verify_standard([SECRET, OLD_SECRET], headers(secret=OLD_SECRET), BODY) == "msg_1"


def test_several_space_separated_signatures_one_of_which_matches():
    good = sign(SECRET, "msg_1", NOW, BODY)
    other = sign(OLD_SECRET, "msg_1", NOW, BODY)
    given = headers(**{"webhook-signature": f"v1a,abc {other} {good}"})
    assert verify_standard([SECRET], given, BODY) == "msg_1"


@pytest.mark.parametrize("skew", [-299, 0, 299])
def test_timestamps_within_five_minutes_either_way_are_accepted(skew):
    now = NOW  # the library checks the (frozen) clock too
    given = headers(timestamp=now + skew)
    assert verify_standard([SECRET], given, BODY, now=now) == "msg_1"


@pytest.mark.parametrize(("skew", "words"), [(-301, "old"), (-300, "old"), (301, "future")])
def test_timestamps_beyond_five_minutes_are_refused(skew, words):
    with pytest.raises(SignatureRefused, match=words):
        verify_standard([SECRET], headers(timestamp=NOW + skew), BODY, now=NOW)


def signature_of(body=BODY):
    return sign(SECRET, "msg_1", NOW, body)


BAD = {
    "wrong secret": (headers(secret=OLD_SECRET), BODY, "No signature matches"),
    "body altered by one byte": (headers(), BODY.replace(b"example", b"exbmple"), "No signature"),
    "JSON re-serialised after signing": (
        headers(),
        json.dumps(json.loads(BODY), separators=(",", ":")).encode(),
        "No signature",
    ),
    "another delivery id": (headers(**{"webhook-id": "msg_2"}), BODY, "No signature"),
    "missing webhook-id": (headers(**{"webhook-id": None}), BODY, "Missing header: webhook-id"),
    "missing timestamp": (headers(**{"webhook-timestamp": None}), BODY, "webhook-timestamp"),
    "missing signature": (headers(**{"webhook-signature": None}), BODY, "webhook-signature"),
    "no headers at all": ({}, BODY, "Missing header"),
    "garbage": (headers(**{"webhook-signature": "garbage"}), BODY, "no well-formed v1"),
    "v1 and a comma": (headers(**{"webhook-signature": "v1,"}), BODY, "no well-formed v1"),
    "10 KB of junk": (headers(**{"webhook-signature": "x" * 10_240}), BODY, "no well-formed"),
    "10 KB of junk entries": (headers(**{"webhook-signature": "v1,a " * 2048}), BODY, "More than"),
    "malformed base64": (headers(**{"webhook-signature": "v1,@@@@"}), BODY, "no well-formed"),
    "base64 of the wrong length": (headers(**{"webhook-signature": "v1,YWJj"}), BODY, "no well"),
    "two commas": (headers(**{"webhook-signature": signature_of() + ",x"}), BODY, "no well"),
    "non-ASCII signature bytes": (
        headers(**{"webhook-signature": "v1,\xe9\xe9\xe9"}),
        BODY,
        "no well-formed",
    ),
    "non-ASCII delivery id": (headers(**{"webhook-id": "msg_\xe9"}), BODY, "printable ASCII"),
    "fractional timestamp": (headers(**{"webhook-timestamp": f"{NOW}.5"}), BODY, "whole seconds"),
    "timestamp in words": (headers(**{"webhook-timestamp": "now"}), BODY, "whole seconds"),
    "non-ASCII digits": (headers(**{"webhook-timestamp": "١٢٣"}), BODY, "whole seconds"),
    "non-UTF-8 body": (headers(body=b"\xff\xfe{}"), b"\xff\xfe{}", "not UTF-8"),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_bad_deliveries_are_refused_with_a_short_reason(case):
    given, body, words = BAD[case]
    with pytest.raises(SignatureRefused, match=words) as refused:
        verify_standard([SECRET], given, body)
    assert SECRET.removeprefix("whsec_")[:8] not in refused.value.reason
    assert len(refused.value.reason) < 100


def test_a_source_without_secrets_verifies_nothing():
    with pytest.raises(SignatureRefused):
        verify_standard([], headers(), BODY)


def test_a_damaged_stored_secret_does_not_break_the_good_one():
    assert verify_standard(["whsec_%%%", "", SECRET], headers(), BODY) == "msg_1"


def test_the_library_raises_more_than_its_own_error_which_is_why_headers_are_read_first():
    with pytest.raises(ValueError):
        Webhook(SECRET).verify(BODY, {**headers(), "webhook-signature": "garbage"})
    with pytest.raises(UnicodeDecodeError):
        Webhook(SECRET).verify(b"\xff", headers())


GITHUB_HEADERS = {"x-github-delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958"}


def test_github_signature_good_and_rotated():
    for secret in (SECRET, OLD_SECRET):
        given = {**GITHUB_HEADERS, "x-hub-signature-256": sign_github(secret, BODY)}
        assert (
            verify_github([SECRET, OLD_SECRET], given, BODY) == GITHUB_HEADERS["x-github-delivery"]
        )


@pytest.mark.parametrize(
    ("header", "words"),
    [
        (None, "Missing header"),
        ("sha1=abc", "sha256="),
        ("sha256=" + "z" * 64, "sha256="),
        ("sha256=" + "0" * 64, "No signature matches"),
        (sign_github(OLD_SECRET, BODY), "No signature matches"),
    ],
)
def test_github_bad_signatures(header, words):
    given = dict(GITHUB_HEADERS)
    if header:
        given["x-hub-signature-256"] = header
    with pytest.raises(SignatureRefused, match=words):
        verify_github([SECRET], given, BODY)


def test_github_delivery_id_is_required():
    given = {"x-hub-signature-256": sign_github(SECRET, BODY)}
    with pytest.raises(SignatureRefused, match="X-GitHub-Delivery"):
        verify_github([SECRET], given, BODY)


def test_new_secrets_are_whsec_and_base64_of_24_to_64_bytes():
    secret = new_secret()
    raw = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    assert secret.startswith("whsec_") and 24 <= len(raw) <= 64
    assert new_secret() != secret


def test_tolerance_is_five_minutes():
    assert signatures.TOLERANCE_SECONDS == 300


header_text = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x2FF), max_size=200)


@settings(max_examples=300, deadline=None)
@given(
    delivery_id=header_text,
    timestamp=st.one_of(header_text, st.integers(-(10**20), 10**20).map(str)),
    signature=st.one_of(header_text, st.lists(header_text, max_size=20).map(" ".join)),
    body=st.binary(max_size=200),
)
def test_any_header_values_are_refused_never_an_exception(delivery_id, timestamp, signature, body):
    given_headers = {
        "webhook-id": delivery_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": signature,
    }
    with pytest.raises(SignatureRefused):
        verify_standard([SECRET], given_headers, body)


@settings(max_examples=200, deadline=None)
@given(header=header_text, delivery=header_text, body=st.binary(max_size=200))
def test_any_github_headers_are_refused_never_an_exception(header, delivery, body):
    given_headers = {"x-hub-signature-256": header, "x-github-delivery": delivery}
    with pytest.raises(SignatureRefused):
        verify_github([SECRET], given_headers, body)
