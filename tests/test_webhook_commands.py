"""`manage.py webhook_source` and `prune_webhook_events`: what they print and change."""

import base64
import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from shortener.models import EventStatus, WebhookEvent, WebhookSource
from tests.conftest import make_user, run_manage, test_database_url
from tests.webhook_delivery import deliver, make_event, make_source

pytestmark = pytest.mark.django_db

SECRET_LINE = re.compile(r"^whsec_([A-Za-z0-9+/=]+)$", re.MULTILINE)


def manage(*args) -> str:
    out = StringIO()
    call_command("webhook_source", *args, stdout=out)
    return out.getvalue()


def test_create_prints_the_receiver_path_and_a_secret_once(client):
    make_user("publisher")
    out = manage("create", "cms", "--owner", "publisher")
    assert "POST /webhooks/cms/" in out and "shown only this once" in out
    secret = "whsec_" + SECRET_LINE.search(out).group(1)
    assert 24 <= len(base64.b64decode(secret[6:], validate=True)) <= 64
    source = WebhookSource.objects.get(name="cms")
    assert source.owner.username == "publisher" and source.secret_values() == [secret]
    source.secret = secret
    assert deliver(client, source).status_code == 202
    assert secret not in manage("list")


def test_rotate_keeps_the_old_secret_until_retire(client):
    source = make_source()
    old = source.secret
    new = "whsec_" + SECRET_LINE.search(manage("rotate", "cms")).group(1)
    for secret in (old, new):
        source.secret = secret
        assert deliver(client, source).status_code == 202
    assert "Retired 1 old secret" in manage("retire", "cms")
    source.secret = old
    assert deliver(client, source).status_code == 401
    source.secret = new
    assert deliver(client, source).status_code == 202
    with pytest.raises(CommandError, match="only one secret"):
        manage("retire", "cms")


def test_list_disable_and_enable(client):
    source = make_source()
    assert re.search(r"^cms\tenabled\tstandard\towner=cms-owner\tsecrets=1", manage("list"), re.M)
    assert "cms is disabled" in manage("disable", "cms")
    assert deliver(client, source).status_code == 404
    assert "\tdisabled\t" in manage("list")
    manage("enable", "cms")
    assert deliver(client, source).status_code == 202


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["create", "feed", "--owner", "nobody"], "no user named nobody"),
        (["create", "Not A Slug", "--owner", "cms-owner"], "lower-case"),
        (["create", "cms", "--owner", "cms-owner"], "exists already"),
        (["rotate", "missing"], "no webhook source named missing"),
    ],
)
def test_mistakes_are_errors_that_say_what_to_fix(args, words):
    make_source()
    with pytest.raises(CommandError, match=words):
        manage(*args)
    assert WebhookSource.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_create_from_a_real_process_prints_the_secret():
    make_user("publisher")
    result = run_manage(
        "webhook_source",
        "create",
        "cms",
        "--owner",
        "publisher",
        env={"DATABASE_URL": test_database_url()},
    )
    assert result.returncode == 0, result.stderr
    assert SECRET_LINE.search(result.stdout) and "POST /webhooks/cms/" in result.stdout


def test_prune_removes_old_processed_and_ignored_events_only():
    source = make_source()
    old = timezone.now() - timedelta(days=31)
    for status in EventStatus.values:
        make_event(source, f"old-{status}", status=status, received_at=old)
        make_event(source, f"new-{status}", status=status)
    out = StringIO()
    call_command("prune_webhook_events", "--days", "30", stdout=out)
    assert "Removed 2 webhook event(s)" in out.getvalue()
    left = set(WebhookEvent.objects.values_list("delivery_id", flat=True))
    assert {"old-processed", "old-ignored"}.isdisjoint(left) and len(left) == 8
    assert "old-failed" in left
