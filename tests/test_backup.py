"""`manage.py backup` and `restore`: the whole instance in one file, restored whole into a
fresh instance (another data directory, or the other database), and every damaged,
tampered, foreign or too new file refused with a sentence before anything is written."""

import io
import json
import zipfile

import pytest
from django.core.management import CommandError, call_command

from shortener import links
from shortener.links.models import Link
from shortener.portability import backup, export
from shortener.visits.models import DailyStat, Visit
from tests.conftest import make_user, make_visits, run_manage, set_flag
from tests.test_fidelity import PASSWORD, every_kind_of_link, unlock

pytestmark = pytest.mark.django_db(transaction=True)


def filled():
    alice = make_user("alice")
    made = every_kind_of_link(alice)
    make_visits(made[0], 3, country="DE")
    set_flag("custom_slugs", everyone=True)
    from shortener.events.models import WebhookSource
    from shortener.tokens import personal

    WebhookSource.objects.create(name="ci", owner=alice)
    personal.issue(alice, "cli")
    return alice


def jsonl_export() -> list[dict]:
    text = "".join(export.lines("jsonl", export.records(Link.objects.all())))
    return sorted((json.loads(line) for line in text.splitlines()), key=lambda r: r["target"])


def audit_trail() -> list[tuple]:
    from shortener.audit.models import Entry

    fields = ("at", "actor_id", "actor_name", "action", "kind", "object_id", "summary", "via")
    return list(Entry.objects.order_by("pk").values_list("pk", *fields))


def quiet(*args, **options):
    call_command(*args, stdout=io.StringIO(), stderr=io.StringIO(), **options)


def test_a_backup_restores_whole_into_a_fresh_instance(tmp_path, settings):
    filled()
    before = jsonl_export()
    path = tmp_path / "torii.zip"
    quiet("backup", str(path))

    fresh = tmp_path / "fresh"
    env = {
        "DATA_DIR": str(fresh),
        "DATABASE_URL": f"sqlite:///{fresh}/torii.sqlite3",
        # The same site address as this process, whatever PORT `make test` exported.
        "SITE_URL": settings.SITE_URL,
    }
    restored = run_manage("restore", str(path), env=env, timeout=300)
    assert restored.returncode == 0, restored.stderr
    assert "Webhook secrets are left out" in restored.stderr
    exported = run_manage("export_links", "--format", "jsonl", env=env, timeout=120)
    assert exported.returncode == 0, exported.stderr
    after = sorted(map(json.loads, exported.stdout.splitlines()), key=lambda r: r["target"])
    assert after == before


def test_a_restore_replaces_the_instance_with_the_backup(tmp_path, client):
    filled()
    before = jsonl_export()
    counts = (Visit.objects.count(), DailyStat.objects.count())
    trail = audit_trail()
    assert trail  # the links, the source, the token and the flag above were logged
    path = tmp_path / "torii.zip"
    quiet("backup", str(path))
    links.create({"target": "https://example.com/after"}, actor=make_user("late"))

    quiet("restore", str(path), replace=True)

    assert jsonl_export() == before
    assert (Visit.objects.count(), DailyStat.objects.count()) == counts
    assert audit_trail() == trail  # the log comes back as it was, the later entry gone
    locked = Link.objects.get(target="https://example.com/secret")
    answer = unlock(client, locked, PASSWORD)
    assert (answer.status_code, answer["Location"]) == (303, "https://example.com/secret")
    assert client.login(username="alice", password="correct-horse-battery")


def test_a_non_empty_instance_is_not_overwritten_unless_told(tmp_path):
    filled()
    path = tmp_path / "torii.zip"
    quiet("backup", str(path))
    with pytest.raises(CommandError, match="already holds links"):
        quiet("restore", str(path))


def rewritten(source, target, change):
    """A copy of the backup with each member passed through `change(name, data)`."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            new.writestr(info.filename, change(info.filename, old.read(info.filename)))
    return target


def manifest_with(**fields):
    def change(name, data):
        if name != backup.MANIFEST:
            return data
        return json.dumps({**json.loads(data), **fields}).encode()

    return change


def tampered(name, data):
    if name == "tables/shortener_link.jsonl":
        return data.replace(b"https://example.com/plain", b"https://evil.example/plain")
    return data


@pytest.mark.parametrize(
    ("damage", "sentence"),
    [
        (
            lambda src, dst: dst.write_bytes(src.read_bytes()[: len(src.read_bytes()) // 2]),
            "cut short or damaged",
        ),
        (lambda src, dst: dst.write_text("target\nhttps://example.com/\n"), "not a Torii backup"),
        (lambda src, dst: rewritten(src, dst, tampered), "does not match its checksum"),
        (
            lambda src, dst: rewritten(src, dst, manifest_with(version=99)),
            "newer than this Torii reads",
        ),
        (
            lambda src, dst: rewritten(src, dst, manifest_with(format="other-backup")),
            "not a Torii backup",
        ),
        (
            lambda src, dst: rewritten(
                src, dst, manifest_with(migrations=[["shortener", "0999_future"]])
            ),
            "comes from a newer release",
        ),
        (
            lambda src, dst: rewritten(
                src, dst, lambda n, d: d if n != backup.MANIFEST else b"{not json"
            ),
            "manifest is not JSON",
        ),
    ],
    ids=[
        "truncated",
        "foreign",
        "tampered",
        "too-new",
        "other-format",
        "unknown-migration",
        "bad-manifest",
    ],
)
def test_a_damaged_or_foreign_backup_is_refused_and_nothing_is_written(tmp_path, damage, sentence):
    filled()
    before = jsonl_export()
    good = tmp_path / "good.zip"
    quiet("backup", str(good))
    bad = tmp_path / "bad.zip"
    damage(good, bad)

    with pytest.raises(CommandError, match=sentence):
        quiet("restore", str(bad), replace=True)
    assert jsonl_export() == before


def test_a_restore_that_fails_halfway_leaves_the_instance_as_it_was(tmp_path, monkeypatch):
    filled()
    before = jsonl_export()
    path = tmp_path / "torii.zip"
    quiet("backup", str(path))
    real_load = backup.load

    def failing(archive, table, member, progress):
        if table.name == "shortener_visit":
            raise RuntimeError("the disk filled up")
        return real_load(archive, table, member, progress)

    monkeypatch.setattr(backup, "load", failing)
    with pytest.raises(RuntimeError):
        quiet("restore", str(path), replace=True)
    assert jsonl_export() == before
    assert Visit.objects.count() == 3


def test_the_backup_says_what_it_left_out(tmp_path):
    filled()
    path = tmp_path / "torii.zip"
    quiet("backup", str(path))
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read(backup.MANIFEST))
        names = archive.namelist()
    assert "tables/shortener_webhooksecret.jsonl" not in names
    assert "tables/django_session.jsonl" not in names
    assert "tables/shortener_exitjob.jsonl" not in names
    assert set(manifest["left_out"]) == {
        "django_session",
        "shortener_webhooksecret",
        "shortener_exitjob",
    }
    assert manifest["tables"]["shortener_visit"]["rows"] == 3
    assert manifest["database"] in ("sqlite", "postgresql")
