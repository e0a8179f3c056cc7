"""Import and export: peer formats, Torii's round trip, bad input, through the command."""

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from shortener.models import DestinationChange, Link
from tests.conftest import make_link, make_user

DATA = Path(__file__).parent / "data" / "import"

pytestmark = pytest.mark.django_db


def run_import(path, *args):
    out, err = io.StringIO(), io.StringIO()
    call_command("import_links", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture(autouse=True)
def samples_domain():
    """Torii's sample files name go.example.com: it exists here, as on a site they were
    exported from (a Torii row naming a domain the site lacks is refused: the rules table)."""
    from shortener.models import Domain

    return Domain.objects.create(host="go.example.com")


@pytest.fixture
def alice():
    return make_user("alice", is_staff=True, is_superuser=True)


def test_bitly_export_imports_with_slugs_tags_and_clicks(alice):
    out, err = run_import(DATA / "bitly.csv", "--format", "bitly", "--owner", "alice")
    assert "3 rows: 2 created, 0 already there, 1 refused." in out
    launch = Link.objects.get(slug="3xYzAbc")
    assert launch.target == "https://example.com/launch?utm_source=bitly"
    assert sorted(t.name for t in launch.tags.all()) == ["launch", "spring"]
    assert launch.visit_count == 120
    assert Link.objects.get(slug="docs-two").title == 'Docs, part "two"'
    assert "Row 4:" in err and not Link.objects.filter(slug="5qRsTuv").exists()


@pytest.mark.parametrize(
    ("name", "fmt", "created", "refused", "slug", "target"),
    [
        ("yourls.csv", "yourls", 2, 1, "1", "https://example.com/first"),
        ("yourls.json", "yourls", 2, 0, "yo2", "https://example.com/yourls/two"),
        ("shlink.csv", "shlink", 2, 1, "abc12", "https://example.com/shlink/a"),
        ("kutt.json", "kutt", 2, 1, "kutt1", "https://example.com/kutt/one"),
        ("torii.csv", "torii", 3, 0, "spring-sale", "https://shop.example.com/sale"),
        ("torii.jsonl", "torii", 2, 0, "jl-one", "https://example.com/jsonl/1"),
    ],
)
def test_each_peer_sample_imports_and_reports_what_it_refused(
    alice, name, fmt, created, refused, slug, target
):
    out, err = run_import(DATA / name, "--format", fmt, "--owner", "alice")
    assert f"{created} created, 0 already there, {refused} refused." in out
    assert Link.objects.get(slug=slug).target == target
    assert err.count("Row ") == refused
    # importing the same file again creates nothing new
    again, _ = run_import(DATA / name, "--format", fmt, "--owner", "alice")
    assert f"0 created, {created} already there, {refused} refused." in again
    assert Link.objects.count() == created


def test_peer_creation_times_are_kept(alice):
    run_import(DATA / "yourls.csv", "--format", "yourls", "--owner", "alice")
    assert Link.objects.get(slug="blog").created_at.isoformat() == "2019-05-02T12:00:00+00:00"
    run_import(DATA / "shlink.csv", "--format", "shlink", "--owner", "alice")
    assert Link.objects.get(slug="abc12").created_at.isoformat() == "2023-06-01T10:00:00+00:00"
    run_import(DATA / "kutt.json", "--format", "kutt", "--owner", "alice")
    assert Link.objects.get(slug="kutt1").created_at.isoformat() == "2024-01-05T10:00:00+00:00"


def test_a_creation_time_in_the_future_or_not_a_time_is_refused(alice, tmp_path):
    path = tmp_path / "when.csv"
    path.write_text(
        "slug,target,created_at\n"
        "later,https://example.com/a,2999-01-01T00:00:00Z\n"
        "whenever,https://example.com/b,soon\n"
        "fine,https://example.com/c,2020-02-02T02:02:02Z\n"
    )
    out, err = run_import(path, "--owner", "alice")
    assert "1 created, 0 already there, 2 refused." in out
    assert err.count("The creation time must be a date and time in the past") == 2


def test_refusals_name_the_row_and_say_the_core_sentence(alice):
    _, err = run_import(DATA / "yourls.csv", "--format", "yourls", "--owner", "alice")
    assert "Row 4: “admin” is reserved for the site's own pages; choose another." in err
    _, err = run_import(DATA / "kutt.json", "--format", "kutt", "--owner", "alice")
    assert "Row 3: This Kutt link is behind a password" in err
    _, err = run_import(DATA / "shlink.csv", "--format", "shlink", "--owner", "alice")
    assert "Row 4: An imported slug is 1 to 64 characters" in err


def test_torii_sample_keeps_states_counts_text_and_formula_free_title(alice):
    run_import(DATA / "torii.csv", "--owner", "alice")
    sale = Link.objects.get(slug="spring-sale")
    assert sale.title == "=Spring sale"  # the export's quote for spreadsheets removed
    assert sale.notes == "Line one\nline two, with a comma"
    assert sale.redirect_code == 301 and sale.visit_count == 42
    assert Link.objects.get(slug="old-page").state == "expired"
    assert Link.objects.get(slug="gone").state == "deleted"
    assert sale.created_at.isoformat() == "2025-01-01T00:00:00+00:00"
    assert sale.destination_changes.get().changed_at == sale.created_at
    run_import(DATA / "torii.jsonl", "--owner", "alice")
    assert Link.objects.get(slug="jl-one").state == "disabled"


def test_a_taken_slug_with_another_target_is_refused_and_the_rest_import(alice):
    make_link(slug="blog", target="https://elsewhere.example/")
    out, err = run_import(DATA / "yourls.csv", "--format", "yourls", "--owner", "alice")
    assert "Row 3: “blog” is already taken; choose another." in err
    assert "1 created, 0 already there, 2 refused." in out
    assert Link.objects.get(slug="blog").target == "https://elsewhere.example/"


def test_round_trip_restores_links_slugs_tags_and_states(alice, tmp_path):
    bob = make_user("bob")
    make_link(slug="alpha", owner=alice, tags=["one", "two"], title="Alpha", visit_count_to=9)
    make_link(slug="beta", owner=bob, target="https://example.org/b", notes="+notes")
    make_link(slug="gamma", owner=bob, delete=True)
    disabled = make_link(slug="delta", owner=alice, redirect_code=308)
    disabled.disable()
    for kind in ("csv", "jsonl"):
        path = tmp_path / f"links.{kind}"
        call_command("export_links", "--format", kind, "--output", str(path), stderr=io.StringIO())
        before = snapshot()
        fresh_site()
        out, err = run_import(path)
        assert "4 created" in out, err
        assert snapshot() == before


def fresh_site():
    """The same users and no links (links are never destroyed through the ORM)."""
    Link.tags.through.objects.all().delete()
    DestinationChange.objects.all().delete()
    Link.objects.all()._raw_delete(Link.objects.db)


def snapshot():
    return sorted(
        (
            link.slug,
            link.target,
            link.title,
            link.notes,
            tuple(sorted(t.name for t in link.tags.all())),
            link.redirect_code,
            str(link.state),
            link.visit_count,
            link.owner.username,
            link.created_at,
        )
        for link in Link.objects.all()
    )


def test_export_writes_no_formula_cell_and_carries_history(alice, tmp_path):
    link = make_link(slug="formula", owner=alice, title='=HYPERLINK("x")', notes="@SUM(A1)")
    from shortener import links

    links.edit(link, by=alice, target="https://example.com/new")
    out = io.StringIO()
    call_command("export_links", stdout=out)
    text = out.getvalue()
    assert "'=HYPERLINK" in text and "'@SUM(A1)" in text
    assert not any(
        cell.startswith(("=", "+", "-", "@")) for cell in text.replace("\n", ",").split(",")
    )
    jsonl = io.StringIO()
    call_command("export_links", "--format", "jsonl", stdout=jsonl)
    record = json.loads(jsonl.getvalue().splitlines()[0])
    assert [change["to"] for change in record["history"]] == [
        "https://example.com/some/long/path",
        "https://example.com/new",
    ]
    assert record["domain"] == "localhost" or record["domain"]
    assert DestinationChange.objects.count() == 2


BAD_FILES = [
    ("binary", b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR", "This is not a text file"),
    ("latin-1", "slug,target\ncaf\xe9,https://example.com/\n".encode("latin-1"), "not UTF-8 text"),
    ("no target column", b"slug,title\nabc,Hello\n", "no “target” column"),
    ("empty", b"", "The file is empty"),
]


@pytest.mark.parametrize(("case", "content", "message"), BAD_FILES, ids=[c[0] for c in BAD_FILES])
def test_unreadable_files_exit_non_zero_with_the_reason_and_write_nothing(
    alice, tmp_path, case, content, message
):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(CommandError, match=message):
        run_import(path, "--owner", "alice")
    assert not Link.objects.exists()


def test_a_missing_file_is_a_clear_error(alice, tmp_path):
    with pytest.raises(CommandError, match=r"Cannot read .*No such file"):
        run_import(tmp_path / "nope.csv")


def test_bad_rows_are_reported_by_number_and_the_rest_import(alice, tmp_path):
    long_line = b"toolong,https://example.com/" + b"a" * (11 * 1024 * 1024) + b"\r\n"
    content = (
        b"\xef\xbb\xbfslug,target,title\r\n"
        b'good-1,https://example.com/1,"Title, with ""quotes"""\r\n'
        + long_line
        + b"bad-utf8,https://example.com/\xff,x\r\n"
        b'formula,=HYPERLINK("http://evil"),x\r\n'
        b"good-2,https://example.com/2,=1+1\r\n"
        b"extra,https://example.com/3,a,b\r\n"
    )
    path = tmp_path / "mixed.csv"
    path.write_bytes(content)
    out, err = run_import(path, "--owner", "alice")
    assert "6 rows: 2 created, 0 already there, 4 refused." in out
    assert "Row 3 is longer than 65,536 bytes; skipped." in err
    assert "Row 4 is not UTF-8 text; skipped." in err
    assert "Row 5: Enter" in err or "Row 5:" in err
    assert "Row 7 has 4 cells but the header names 3 columns" in err
    assert Link.objects.get(slug="good-1").title == 'Title, with "quotes"'
    assert Link.objects.get(slug="good-2").title == "=1+1"


def test_dry_run_checks_every_row_and_writes_nothing(alice):
    out, _ = run_import(DATA / "bitly.csv", "--format", "bitly", "--owner", "alice", "--dry-run")
    assert out.startswith("Dry run, nothing written: 3 rows: 2 created")
    assert not Link.objects.exists()


def test_a_million_rows_are_read_as_a_stream_not_all_at_once(tmp_path):
    from shortener.portability import formats, importing

    path = tmp_path / "million.csv"
    with path.open("w") as out:
        out.write("slug,target\n")
        out.writelines(f"m{n},https://example.com/{n}\n" for n in range(1_000_000))
    with path.open("rb") as stream:
        rows = importing.rows_of(stream, formats.FORMATS["torii"])
        first = [next(rows) for _ in range(1000)]
        assert first[-1].number == 1001 and first[-1].fields["slug"] == "m999"
        assert stream.tell() < 1024 * 1024  # of about 30 MB


def test_export_to_an_unwritable_place_is_a_clear_error(alice, tmp_path):
    with pytest.raises(CommandError, match=r"Cannot write .*No such file"):
        call_command("export_links", "--output", str(tmp_path / "no" / "such" / "dir.csv"))


def test_links_keep_a_domain_this_site_has_and_land_on_the_default_for_one_it_lacks(
    alice, tmp_path
):
    from shortener.models import Domain

    brand = Domain.objects.create(host="ex.co")
    # The same slug on two domains is two links; both survive the round trip.
    make_link(slug="same", owner=alice, target="https://example.com/site")
    make_link(slug="same", owner=alice, target="https://example.com/brand", domain=brand)
    path = tmp_path / "links.csv"
    call_command("export_links", "--output", str(path), stderr=io.StringIO())
    exported = path.read_text()
    assert "https://ex.co/same" in exported and "ex.co,same" in exported
    fresh_site()
    out, err = run_import(path)
    assert "2 created" in out, err
    on_brand = Link.objects.get(domain=brand, slug="same")
    assert on_brand.target == "https://example.com/brand"
    assert Link.objects.get(domain=Domain.objects.site(), slug="same").target.endswith("/site")

    # A file from a shortener whose domain this site does not have: the default domain.
    (tmp_path / "peer.csv").write_text(
        "createdAt,domain,shortCode,shortUrl,longUrl,title,tags,visits\n"
        "2023-06-01T10:00:00+00:00,old.example,moved,https://old.example/moved,"
        "https://example.com/moved,Moved,,0\n"
    )
    out, err = run_import(tmp_path / "peer.csv", "--format", "shlink", "--owner", "alice")
    assert "1 created" in out, err
    assert Link.objects.get(slug="moved").domain == Domain.objects.site()


@pytest.mark.parametrize("already_there", [False, True], ids=["new", "re-import"])
def test_an_import_reads_the_domains_once_not_once_a_row(alice, tmp_path, already_there):
    """100,000 links must import in under a minute: a query per row (the domains, the
    target policy's own hosts) made it 25 minutes. Twice the rows, the same queries."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries_for(rows: int, prefix: str) -> int:
        path = tmp_path / f"{prefix}.csv"
        lines = [f"{prefix}-{n},https://example.com/{n},go.example.com\n" for n in range(rows)]
        path.write_text("slug,target,domain\n" + "".join(lines))
        if already_there:
            run_import(path, "--owner", "alice")
        with CaptureQueriesContext(connection) as queries:
            out, _ = run_import(path, "--owner", "alice")
        made = f"0 created, {rows} already there" if already_there else f"{rows} created, 0 already"
        assert f"{rows} rows: {made}" in out
        return len(queries)

    queries_for(1, "warm-up")  # what a process reads once (flags, the site's domain)
    assert queries_for(40, "small") == queries_for(80, "large")
    assert Link.objects.filter(domain__host="go.example.com").count() == 121
