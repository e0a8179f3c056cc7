"""Torii's own export carries every property of a link, and importing it restores each
exactly: a protected link stays protected by the same password, rules still route,
forwarding, expiry, limits, states, times, history and owner come back. No import ever
stores a link weaker than its source: a row it cannot restore whole is refused."""

import csv
import io
import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db.models import Value
from django.db.models.functions import Concat
from django.utils import timezone

from shortener import links
from shortener.links import access, passwords
from shortener.links.models import Link
from shortener.portability import export, formats, importing
from tests.conftest import make_domain, make_user

pytestmark = pytest.mark.django_db

IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"
PASSWORD = "open sesame, 7 times"


def every_kind_of_link(owner):
    """One link of each kind a restore must bring back, on two domains."""
    short = make_domain("go.example.org")
    later = timezone.now() + timedelta(days=30)
    made = [
        links.create({"target": "https://example.com/plain", "tags": ["a", "b"]}, actor=owner),
        links.create(
            {"target": "https://example.com/secret", "password": PASSWORD, "title": "Locked"},
            actor=owner,
        ),
        links.create(
            {
                "target": "https://example.com/desk",
                "rules": [{"target": "https://m.example.com/", "when": {"device": ["mobile"]}}],
                "domain": short.host,
            },
            actor=owner,
        ),
        links.create(
            {"target": "https://example.com/q?utm=x", "forward_query": "merge", "notes": "fw"},
            actor=owner,
        ),
        links.create(
            {
                "target": "https://example.com/limited",
                "expires_at": later.isoformat(),
                "max_visits": "5",
                "redirect_code": "301",
            },
            actor=owner,
        ),
    ]
    edited = links.create({"target": "https://example.com/v1"}, actor=owner)
    links.edit(edited, by=owner, target="https://example.com/v2")
    links.edit(edited, by=owner, target="https://example.com/v3")
    disabled = links.create({"target": "https://example.com/off"}, actor=owner)
    links.disable(disabled, by=owner)
    gone = links.create({"target": "https://example.com/gone"}, actor=owner)
    links.delete(gone, by=owner)
    Link.objects.filter(pk=made[0].pk).update(visit_count=42)
    return [*made, edited, disabled, gone]


def exported(user, kind="jsonl", exclude=()):
    rows = export.records(access.exportable(user).exclude(pk__in=exclude))
    return "".join(export.lines(kind, rows))


def restore(text: str, actor, **options):
    stream = io.BytesIO(text.encode())
    fmt = formats.FORMATS["torii"]
    return importing.import_rows(importing.rows_of(stream, fmt), fmt, actor=actor, **options)


def comparable(jsonl: str) -> list[dict]:
    return sorted((json.loads(line) for line in jsonl.splitlines()), key=lambda r: r["target"])


def move_aside(originals) -> set[int]:
    """The originals keep their rows but free their slugs, as a fresh instance would be."""
    ids = {link.pk for link in originals}
    Link.objects.filter(pk__in=ids).update(slug=Concat("slug", Value("-old")))
    return ids


@pytest.mark.parametrize("kind", ["jsonl", "csv"])
def test_an_export_imported_again_is_the_same_export(kind):
    alice = make_user("alice")
    originals = every_kind_of_link(alice)
    before = exported(alice)
    text = exported(alice, kind)
    old = move_aside(originals)

    summary = restore(text, alice)

    assert (summary.created, summary.refused) == (len(originals), 0), summary.first_refusals
    assert comparable(exported(alice, exclude=old)) == comparable(before)


def test_a_restored_link_behaves_as_before(client):
    alice = make_user("alice")
    originals = every_kind_of_link(alice)
    text = exported(alice, "csv")
    old = move_aside(originals)
    restore(text, alice)
    restored = {link.target: link for link in Link.objects.exclude(pk__in=old)}

    locked = restored["https://example.com/secret"]
    assert client.get(f"/{locked.slug}").status_code == 200  # the password page, no Location
    assert unlock(client, locked, "wrong").status_code == 403
    right = unlock(client, locked, PASSWORD)
    assert (right.status_code, right["Location"]) == (303, "https://example.com/secret")

    ruled = restored["https://example.com/desk"]
    host = {"HTTP_HOST": "go.example.org"}
    phone = client.get(f"/{ruled.slug}", HTTP_USER_AGENT=IPHONE, **host)
    assert phone["Location"] == "https://m.example.com/"
    assert client.get(f"/{ruled.slug}", **host)["Location"] == "https://example.com/desk"

    forwarding = restored["https://example.com/q?utm=x"]
    assert client.get(f"/{forwarding.slug}?a=1")["Location"] == "https://example.com/q?utm=x&a=1"

    assert client.get(f"/{restored['https://example.com/off'].slug}").status_code == 410
    assert client.get(f"/{restored['https://example.com/gone'].slug}").status_code == 410
    assert restored["https://example.com/limited"].max_visits == 5
    edited = restored["https://example.com/v3"]
    history = list(edited.destination_changes.order_by("changed_at", "pk"))
    assert [change.new_target for change in history] == [
        "https://example.com/v1",
        "https://example.com/v2",
        "https://example.com/v3",
    ]
    assert {change.changed_by_id for change in history} == {alice.pk}


def unlock(client, link, password: str):
    """The password form as the page sends it: the password and the form's own token."""
    token = passwords.form_token(link.pk, link.password)
    return client.post(f"/{link.slug}", {"password": password, passwords.FORM_TOKEN_FIELD: token})


def csv_row(**cells) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["target", *cells])
    writer.writerow(["https://example.com/x", *cells.values()])
    return out.getvalue()


@pytest.mark.parametrize(
    ("cells", "sentence"),
    [
        ({"protected": "true"}, formats.PROTECTED_WITHOUT_HASH),
        ({"protected": "true", "password_hash": "not-a-hash"}, "password hash is not one"),
        ({"password_hash": "!unusable"}, "password hash is not one"),
        ({"rules": "[{not json"}, "The rules column must be JSON"),
        ({"rules": json.dumps([{"target": "http://127.0.0.1/"}])}, "Rule 1"),
        ({"history": json.dumps([1, 2])}, "The history must be a list of changes"),
        ({"owner": "bob"}, "belongs to “bob”"),
    ],
)
def test_a_row_that_cannot_be_restored_whole_is_refused_and_nothing_is_written(cells, sentence):
    alice = make_user("alice")
    make_user("bob")
    summary = restore(csv_row(**cells), alice)
    assert (summary.created, summary.refused) == (0, 1)
    assert sentence in summary.first_refusals[0].reason
    assert not Link.objects.exists()


def test_staff_restore_gives_each_link_the_owner_the_file_names(tmp_path):
    bob = make_user("bob")
    links.create({"target": "https://example.com/bobs", "password": PASSWORD}, actor=bob)
    path = tmp_path / "export.jsonl"
    path.write_text(exported(bob))
    Link.objects.update(slug=Concat("slug", Value("-old")))
    make_user("root", is_staff=True, is_superuser=True)

    call_command("import_links", str(path), stdout=io.StringIO(), stderr=io.StringIO())

    restored = Link.objects.exclude(slug__endswith="-old").get()
    assert restored.owner == bob and restored.is_protected
