"""The browser's bulk create (paste or upload, progress, results) and the list's export."""

import csv
import io
import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from shortener.models import BulkJob, Link
from tests.conftest import make_link, make_user, set_flag

DATA = Path(__file__).parent / "data" / "import"
pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(client):
    user = make_user("alice")
    client.force_login(user)
    return user


def test_pasted_lines_become_links_and_the_results_page_lists_each_row(client, alice):
    set_flag("custom_slugs", everyone=True)
    make_link(slug="taken", target="https://example.com/else")
    lines = "\r\n".join(
        [
            "https://example.com/one",
            "my-two,https://example.com/two",
            "taken,https://example.com/three",
            "not a url",
            "admin,https://example.com/reserved",
        ]
    )
    response = client.post("/import/", {"lines": lines, "format": "lines"})
    assert response.status_code == 302
    job = BulkJob.objects.get()
    assert response["Location"] == f"/import/{job.pk}/"
    page = client.get(response["Location"])
    text = page.content.decode()
    assert "2 created</strong>, 3 refused" in text
    assert "Row 3: “taken” is already taken; choose another." in text
    assert "Row 5: “admin” is reserved for the site" in text
    assert "Enter the address" in text or "Row 4:" in text
    assert Link.objects.filter(owner=alice).count() == 2
    assert Link.objects.get(slug="my-two").target == "https://example.com/two"
    assert "http-equiv" not in text  # finished: no more refreshing

    download = client.get(f"/import/{job.pk}/results.csv")
    rows = list(csv.reader(io.StringIO(b"".join(download.streaming_content).decode())))
    assert rows[0] == ["row", "status", "short_url", "target", "reason"]
    assert [row[1] for row in rows[1:]] == ["created", "created", "refused", "refused", "refused"]
    assert rows[2][2].endswith("/my-two")


def test_a_running_job_shows_progress_refreshing_without_js_and_polling_with_htmx(client, alice):
    job = BulkJob.objects.create(owner=alice, format="lines", source=b"x", total=10, done=4)
    page = client.get(f"/import/{job.pk}/").content.decode()
    assert '<progress id="bulk-bar" max="10" value="4">' in page
    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in page
    assert 'hx-trigger="every 1s"' in page
    fragment = client.get(f"/import/{job.pk}/", headers={"HX-Request": "true"})
    assert fragment.content.decode().lstrip().startswith('<section id="bulk-progress"')
    assert "Vary" in fragment and "HX-Request" in fragment["Vary"]


def test_someone_elses_job_is_404(client, alice):
    job = BulkJob.objects.create(owner=make_user("bob"), format="lines", source=b"x", total=1)
    assert client.get(f"/import/{job.pk}/").status_code == 404
    assert client.get(f"/import/{job.pk}/results.csv").status_code == 404


def test_an_uploaded_peer_file_imports_with_its_slugs(client, alice):
    upload = SimpleUploadedFile("shlink.csv", (DATA / "shlink.csv").read_bytes(), "text/csv")
    response = client.post("/import/", {"file": upload, "format": "shlink"})
    assert response.status_code == 302
    assert Link.objects.get(slug="abc12").owner == alice
    assert BulkJob.objects.get().filename == "shlink.csv"


BAD = [
    ("nothing", {"lines": "   "}, "Paste some links or choose a file."),
    (
        "too many",
        {"lines": "\n".join(f"https://e.com/{n}" for n in range(1001))},
        "more than 1,000",
    ),
    ("binary file", {"file": b"\x00\x01\x02PK"}, "not a text file"),
    ("latin-1 file", {"file": "url\nhttps://caf\xe9.example/\n".encode("latin-1")}, "not UTF-8"),
    ("missing column", {"file": b"keyword,title\nabc,x\n", "format": "yourls"}, "no “url” column"),
    ("not json", {"file": b"{not json", "format": "kutt"}, "not JSON"),
]


@pytest.mark.parametrize(("case", "data", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_a_422_form_with_the_reason_and_no_job(client, alice, case, data, message):
    data = dict(data)
    data.setdefault("format", "lines")
    if "file" in data:
        data["file"] = SimpleUploadedFile("links.csv", data["file"], "text/csv")
    response = client.post("/import/", data)
    assert response.status_code == 422
    assert message in response.content.decode()
    assert not BulkJob.objects.exists() and not Link.objects.exists()


def test_the_list_links_to_bulk_create_and_exports_with_its_filters(client, alice):
    make_link(slug="tagged", owner=alice, tags=["news"])
    make_link(slug="plain", owner=alice)
    make_link(slug="gone", owner=alice, delete=True)
    page = client.get("/links/?tag=news").content.decode()
    assert 'href="/import/"' in page
    assert 'href="/links/export.csv?tag=news"' in page
    exported = client.get("/links/export.jsonl?tag=news")
    rows = [json.loads(line) for line in b"".join(exported.streaming_content).splitlines()]
    assert [row["slug"] for row in rows] == ["tagged"]
    everything = client.get("/links/export.csv")
    text = b"".join(everything.streaming_content).decode()
    assert "gone" in text and ",deleted," in text


def test_export_needs_sign_in(client, db):
    assert client.get("/links/export.csv").status_code == 302


def test_a_job_run_again_after_a_crash_goes_on_after_the_rows_it_recorded(client, alice):
    from shortener.portability.bulk import process_bulk

    lines = "\n".join(f"https://example.com/{n}" for n in range(5)).encode()
    done = [
        {"row": n, "status": "created", "slug": f"s{n}", "target": "x", "reason": ""}
        for n in (1, 2)
    ]
    job = BulkJob.objects.create(
        owner=alice, format="lines", source=lines, total=5, status="running", results=done
    )
    process_bulk.call(job.pk)
    job.refresh_from_db()
    assert job.status == "done" and job.done == 5 and job.created == 5
    assert sorted(Link.objects.values_list("target", flat=True)) == [
        f"https://example.com/{n}" for n in (2, 3, 4)
    ]


def test_prune_removes_only_old_finished_jobs(alice):
    from datetime import timedelta

    from django.core.management import call_command
    from django.utils import timezone

    old = BulkJob.objects.create(owner=alice, format="lines", source=b"x", status="done")
    running = BulkJob.objects.create(owner=alice, format="lines", source=b"x", status="running")
    recent = BulkJob.objects.create(owner=alice, format="lines", source=b"x", status="done")
    BulkJob.objects.filter(pk__in=[old.pk, running.pk]).update(
        created_at=timezone.now() - timedelta(days=40)
    )
    out = io.StringIO()
    call_command("prune_bulk_jobs", stdout=out)
    assert "Removed 1 bulk create" in out.getvalue()
    assert set(BulkJob.objects.values_list("pk", flat=True)) == {running.pk, recent.pk}
