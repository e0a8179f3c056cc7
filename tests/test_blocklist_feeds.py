"""Blocklist feeds: files in four formats put domains on the blocklist through the one
blocking function, recorded with their source; links (and rules) leading to a newly
blocked domain are quarantined naming the feed; what is not a domain is skipped and
counted in the summary; a feed that cannot be read whole writes nothing."""

import io
from datetime import UTC, datetime

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command

from config import environment
from shortener import links
from shortener.links.refusal import LinkRefused
from shortener.models import BlockedDomain, Link, StateChange
from shortener.safety import feed_formats, feeds
from tests.conftest import make_domain, make_link, make_user

HOSTS = b"""# a hosts file
127.0.0.1 localhost
::1 ip6-localhost ip6-loopback
0.0.0.0 evil.example tracker.example  # two on a line
0.0.0.0 10.0.0.1
"""
DOMAINS = b"""# one a line
evil.example
tracker.example # with a comment
*.wild.example
co.uk
b\xc3\xbccher.example
not a domain
"""
URLHAUS = b"""################################################################
# abuse.ch URLhaus Database Dump (CSV)
# id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter
################################################################
"1","2026-12-01 10:00:00","http://evil.example:8080/bins/x.arm","online","","malware_download","elf","https://urlhaus.abuse.ch/url/1/","someone"
"2","2026-12-01 10:00:00","https://tracker.example/a,b","online","","malware_download","","",""
"3","2026-12-01 10:00:00","http://93.184.216.34/x.sh","online","","malware_download","","",""
"4","broken
"""
ADBLOCK = b"""[Adblock Plus 2.0]
! Title: a DNS filter
||evil.example^
||tracker.example^$important
||ads.example^$third-party
@@||good.example^
||path.example/ads/*
example.org##.banner
"""


def read(data: bytes, fmt: str = "auto", own=()):
    # Seven bytes at a time: a line cut across chunks reads as a whole line.
    return feed_formats.read((data[i : i + 7] for i in range(0, len(data), 7)), fmt, own)


@pytest.mark.parametrize(
    ("data", "fmt", "domains", "skipped"),
    [
        (HOSTS, "hosts", ["evil.example", "tracker.example"], {"ip": 1}),
        (
            DOMAINS,
            "domains",
            ["evil.example", "tracker.example", "xn--bcher-kva.example"],
            {"wildcard": 1, "refused": 1, "malformed": 1},
        ),
        (URLHAUS, "urlhaus", ["evil.example", "tracker.example"], {"ip": 1, "malformed": 1}),
        (ADBLOCK, "adblock", ["evil.example", "tracker.example"], {"narrower": 4}),
    ],
)
@pytest.mark.parametrize("told", [True, False], ids=["told", "auto"])
def test_each_format_gives_its_domains_and_counts_what_it_skips(data, fmt, domains, skipped, told):
    reading = read(data, fmt if told else "auto")
    assert list(reading.domains) == domains
    assert dict(reading.skipped) == skipped


def test_a_line_too_long_is_skipped_without_being_kept_and_the_next_line_read():
    huge = (b"x" * 65536 for _ in range(160))  # 10 MB without a line end
    reading = feed_formats.read([b"first.example\n", *huge, b"\nlast.example\n"], "domains", [])
    assert list(reading.domains) == ["first.example", "last.example"]
    assert reading.skipped == {"overlong": 1}


def test_a_file_not_utf8_is_counted_malformed_line_by_line():
    reading = read(b"ok.example\n\xff\xfe.example\n", "domains")
    assert list(reading.domains) == ["ok.example"]
    assert reading.skipped == {"malformed": 1}


def test_the_sites_own_short_domains_and_domains_above_them_are_never_taken():
    reading = read(
        b"s.torii.example\ntorii.example\nx.s.torii.example\nother.example\n",
        "domains",
        ["s.torii.example"],
    )
    assert list(reading.domains) == ["other.example"]
    assert reading.skipped == {"own": 3}


def test_the_settings_parser_knows_the_same_formats():
    assert environment.FEED_FORMATS == feed_formats.FORMATS


def test_blocklist_feeds_setting_reads_sources_formats_and_paths(monkeypatch, tmp_path):
    monkeypatch.setenv("BLOCKLIST_FEEDS", f"urlhaus:urlhaus={tmp_path}/u.csv, ads=feeds/hosts")
    assert environment.blocklist_feeds("BLOCKLIST_FEEDS", tmp_path) == [
        {"source": "urlhaus", "format": "urlhaus", "path": tmp_path / "u.csv"},
        {"source": "ads", "format": "auto", "path": tmp_path / "feeds/hosts"},
    ]


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("/srv/feed.txt", "is not source=path"),
        ("a b=/srv/x", "is not source=path"),
        ("ads:csv=/srv/x", "names the format 'csv'"),
        ("ads=/a,ads=/b", "the source 'ads' is named twice"),
    ],
)
def test_blocklist_feeds_setting_refuses_junk_naming_the_variable(monkeypatch, value, said):
    monkeypatch.setenv("BLOCKLIST_FEEDS", value)
    with pytest.raises(ImproperlyConfigured, match="BLOCKLIST_FEEDS") as refused:
        environment.blocklist_feeds("BLOCKLIST_FEEDS", environment.Path("/"))
    assert said in str(refused.value)


# --- importing: the command and the task, on the database ------------------------


def run(path, *args) -> str:
    out = io.StringIO()
    call_command("import_blocklist", str(path), *args, stdout=out)
    return out.getvalue().strip()


@pytest.fixture
def feed(tmp_path):
    def write(data: bytes, name: str = "feed.txt"):
        path = tmp_path / name
        path.write_bytes(data)
        return path

    return write


@pytest.mark.django_db
@pytest.mark.parametrize(
    "data", [HOSTS, DOMAINS, URLHAUS, ADBLOCK], ids=["hosts", "domains", "urlhaus", "adblock"]
)
def test_a_feed_blocks_its_domains_and_quarantines_links_and_rules_leading_there(
    feed, data, django_capture_on_commit_callbacks
):
    owner = make_user()
    direct = make_link(target="https://www.evil.example/login", owner=owner)
    by_rule = make_link(
        target="https://fine.example/",
        rules=[{"kind": "device", "value": "mobile", "target": "https://tracker.example/m"}],
        owner=owner,
    )
    untouched = make_link(target="https://fine.example/other", owner=owner)
    with django_capture_on_commit_callbacks(execute=True):
        said = run(feed(data), "--source", "abuse")
    assert "newly blocked, 0 already blocked; quarantined 2 link(s)" in said
    assert f"{direct.key}" in said and f"{by_rule.key}" in said
    entries = BlockedDomain.objects.filter(domain__in=["evil.example", "tracker.example"])
    assert {(e.source, e.reason) for e in entries} == {
        ("feed:abuse", "On the blocklist feed abuse.")
    }
    for link, entry in ((direct, "evil.example"), (by_rule, "tracker.example")):
        link.refresh_from_db()
        assert link.quarantined_at is not None and link.is_active  # quarantined, not disabled
        change = link.state_changes.get(action=StateChange.Action.QUARANTINED)
        assert change.reason == f"It leads to {entry}, which the blocklist feed abuse lists."
        assert change.source == "feed:abuse"
    untouched.refresh_from_db()
    assert untouched.quarantined_at is None
    # New links there are refused, as for any entry of the blocklist.
    with pytest.raises(LinkRefused):
        links.create({"target": "https://evil.example/again"}, actor=owner)


@pytest.mark.django_db
def test_the_summary_says_what_was_skipped_and_why(feed):
    said = run(feed(DOMAINS), "--source", "mixed", "--format", "domains")
    assert said.endswith(
        "skipped 3: 1 malformed, 1 wildcards, 1 public suffixes or names the blocklist refuses."
    )
    assert not BlockedDomain.objects.filter(domain__in=["wild.example", "co.uk"]).exists()


@pytest.mark.django_db
def test_a_feed_naming_the_sites_own_short_domains_does_not_block_them(feed, settings):
    settings.SITE_HOST = "short.example"
    make_domain("go.torii.example")
    said = run(
        feed(
            f"0.0.0.0 go.torii.example torii.example {settings.SITE_HOST} evil.example\n".encode()
        ),
        "--source",
        "hostile",
    )
    assert "1 newly blocked" in said
    assert "3 this site's own short domains" in said
    assert list(BlockedDomain.objects.values_list("domain", flat=True)) == ["evil.example"]


@pytest.mark.django_db
def test_the_owner_sees_which_feed_quarantined_the_link(feed, client):
    owner = make_user()
    link = make_link(target="https://evil.example/", owner=owner)
    run(feed(b"evil.example\n"), "--source", "urlhaus")
    client.force_login(owner)
    body = client.get(link.get_absolute_url()).content.decode()
    assert "It leads to evil.example, which the blocklist feed urlhaus lists." in body
    assert "reported as something else" not in body


@pytest.mark.django_db
def test_reading_the_same_feed_again_changes_nothing_and_keeps_a_release(feed):
    staff = make_user("staff", is_staff=True)
    link = make_link(target="https://evil.example/")
    path = feed(b"evil.example\n")
    run(path, "--source", "daily")
    link.refresh_from_db()
    links.release(link, by=staff, why="A false positive.")
    said = run(path, "--source", "daily")
    assert "0 newly blocked, 1 already blocked; quarantined 0 link(s)" in said
    link.refresh_from_db()
    assert link.quarantined_at is None
    assert BlockedDomain.objects.count() == 1


@pytest.mark.django_db
def test_an_entry_blocked_by_a_person_keeps_its_source_when_a_feed_lists_it(feed):
    links.block("evil.example", by=None, reason="seen it", source="command")
    run(feed(b"evil.example\nnew.example\n"), "--source", "abuse")
    assert dict(BlockedDomain.objects.values_list("domain", "source")) == {
        "evil.example": "command",
        "new.example": "feed:abuse",
    }


@pytest.mark.django_db
def test_a_missing_file_fails_with_a_sentence_and_writes_nothing(tmp_path):
    with pytest.raises(CommandError, match=r"cannot be read from .*No such file"):
        run(tmp_path / "gone.txt", "--source", "abuse")
    assert not BlockedDomain.objects.exists()


@pytest.mark.django_db
def test_a_feed_too_large_writes_nothing(feed, monkeypatch):
    monkeypatch.setattr(feed_formats, "MAX_DOMAINS", 2)
    make_link(target="https://a.example/")
    with pytest.raises(CommandError, match="more than 2 domains; nothing was imported"):
        run(feed(b"a.example\nb.example\nc.example\n"), "--source", "big")
    assert not BlockedDomain.objects.exists()
    assert not Link.objects.filter(quarantined_at__isnull=False).exists()


@pytest.mark.django_db
def test_a_failure_while_writing_leaves_no_half_imported_feed(feed, monkeypatch):
    make_link(target="https://a.example/")
    make_link(target="https://b.example/")
    calls = []

    def failing(link, **kwargs):
        calls.append(link)
        if len(calls) == 2:
            raise RuntimeError("the database went away")
        return real(link, **kwargs)

    real = links.quarantine
    monkeypatch.setattr(links, "quarantine", failing)
    with pytest.raises(RuntimeError):
        run(feed(b"a.example\nb.example\n"), "--source", "abuse")
    assert not BlockedDomain.objects.exists()
    assert not Link.objects.filter(quarantined_at__isnull=False).exists()


@pytest.mark.django_db
def test_a_feed_of_thousands_reaches_links_in_one_pass(feed):
    names = [f"d{i}.example" for i in range(5000)]
    link = make_link(target="https://deep.sub.d4321.example/x")
    said = run(feed("\n".join(names).encode()), "--source", "many")
    assert "5000 newly blocked" in said and link.key in said


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "said"),
    [
        ((), "Name the feed file and its --source"),
        (("f.txt",), "Name the feed file and its --source"),
        (("f.txt", "--source", "a b"), "Name the feed's source"),
        (("--configured",), "BLOCKLIST_FEEDS names no feed."),
    ],
)
def test_the_command_refuses_what_it_cannot_do(args, said):
    with pytest.raises(CommandError, match=said):
        call_command("import_blocklist", *args)
    assert not BlockedDomain.objects.exists()


@pytest.mark.django_db
def test_the_daily_task_imports_every_configured_feed_and_queues_the_next(feed, settings):
    from django_tasks_db.models import DBTaskResult

    settings.BLOCKLIST_FEEDS = [
        {"source": "hosts", "format": "hosts", "path": feed(HOSTS, "hosts")},
        {"source": "gone", "format": "auto", "path": feed(b"", "x").parent / "missing"},
        {"source": "ads", "format": "adblock", "path": feed(b"||ads.example^\n", "ads")},
    ]
    settings.TASKS = {
        "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}
    }
    said = feeds.daily_feeds.call()
    assert "Feed hosts" in said and "Feed ads" in said
    assert "The feed gone cannot be read" in said
    assert set(BlockedDomain.objects.values_list("source", flat=True)) == {"feed:hosts", "feed:ads"}
    waiting = DBTaskResult.objects.get(task_path=feeds.daily_feeds.module_path)
    assert waiting.run_after.time() == feeds.AT.replace(tzinfo=None)
    assert not feeds.schedule_next(datetime(2026, 12, 1, 1, tzinfo=UTC))  # one waits already


def test_the_operations_page_states_the_limits_the_code_enforces():
    from pathlib import Path

    page = " ".join(
        (Path(__file__).resolve().parent.parent / "docs/operations.md").read_text().split()
    )
    assert f"lines longer than {feed_formats.MAX_LINE} bytes" in page
    assert f"names more than {feed_formats.MAX_DOMAINS:,} domains" in page
    assert f"at {feeds.AT:%H:%M} UTC" in page
