"""Links and the blocklist in Django admin."""

import pytest
from django.urls import reverse

from shortener.models import BlockedDomain, Link, LinkState
from tests.conftest import make_link, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    return client


def add_form(**data):
    return {"target": "https://example.com/", "redirect_code": "302", "is_active": "on", **data}


def test_admin_creates_a_link_with_a_generated_slug(admin_client):
    response = admin_client.post(reverse("admin:shortener_link_add"), add_form(title="From admin"))
    assert response.status_code == 302
    link = Link.objects.get()
    assert len(link.slug) == 7 and link.title == "From admin"
    assert link.destination_changes.count() == 1


def test_admin_refuses_a_hostile_target_and_writes_nothing(admin_client):
    response = admin_client.post(
        reverse("admin:shortener_link_add"), add_form(target="http://169.254.169.254/")
    )
    assert response.status_code == 200
    assert "private, local or reserved network address" in response.content.decode()
    assert Link.objects.count() == 0


def test_the_slug_is_read_only_in_admin(admin_client):
    link = make_link()
    url = reverse("admin:shortener_link_change", args=[link.pk])
    page = admin_client.get(url).content.decode()
    assert 'name="slug"' not in page and link.slug in page
    admin_client.post(url, add_form(slug="changed", target="https://example.org/"))
    link.refresh_from_db()
    assert link.slug != "changed" and link.target == "https://example.org/"
    assert link.destination_changes.first().new_target == "https://example.org/"


def test_bulk_disable_and_enable(admin_client):
    links = [make_link(), make_link()]
    changelist = reverse("admin:shortener_link_changelist")
    ids = [str(link.pk) for link in links]
    admin_client.post(changelist, {"action": "disable_links", "_selected_action": ids})
    assert {link.state for link in Link.objects.all()} == {LinkState.DISABLED}
    admin_client.post(changelist, {"action": "enable_links", "_selected_action": ids})
    assert {link.state for link in Link.objects.all()} == {LinkState.ACTIVE}


def test_admin_filters_by_state_and_searches(admin_client):
    off = make_link(target="https://example.com/off", is_active=False)
    on = make_link(target="https://example.com/on")
    changelist = reverse("admin:shortener_link_changelist")
    body = admin_client.get(changelist, {"state": "disabled"}).content.decode()
    assert off.slug in body and on.slug not in body
    body = admin_client.get(changelist, {"q": "/on"}).content.decode()
    assert on.slug in body and off.slug not in body


def test_blocklist_entries_are_normalised_and_block_subdomains(admin_client):
    admin_client.post(reverse("admin:shortener_blockeddomain_add"), {"domain": " Bad.Example. "})
    assert list(BlockedDomain.objects.values_list("domain", flat=True)) == ["bad.example"]
    response = admin_client.post(
        reverse("admin:shortener_link_add"), add_form(target="https://cdn.bad.example/x")
    )
    assert "Links to bad.example are blocked" in response.content.decode()


def test_non_staff_cannot_reach_link_admin(client):
    client.force_login(make_user())
    response = client.get(reverse("admin:shortener_link_changelist"))
    assert response.status_code == 302 and "login" in response["Location"]


def test_a_tombstone_cannot_be_edited_in_admin_and_says_so(admin_client):
    link = make_link(title="Gone", delete=True)
    url = reverse("admin:shortener_link_change", args=[link.pk])
    response = admin_client.post(url, add_form(title="Back?", target="https://example.org/"))
    assert response.status_code == 200
    assert "A deleted link cannot be changed." in response.content.decode()
    link.refresh_from_db()
    assert link.title == "Gone" and link.target == "https://example.com/some/long/path"


def test_staff_see_import_jobs_and_their_refusals_read_only(admin_client):
    from shortener.models import BulkJob

    owner = make_user("importer")
    job = BulkJob.objects.create(
        owner=owner,
        format="torii",
        source=b"slug,target\n",
        filename="links.csv",
        status="done",
        total=2,
        done=2,
        created=1,
        refused=1,
        results=[
            {"row": 2, "status": "created", "slug": "ok", "target": "https://example.com/"},
            {"row": 3, "status": "refused", "slug": "x", "reason": "<b>Bad</b> target"},
        ],
    )
    listing = admin_client.get(reverse("admin:shortener_bulkjob_changelist"))
    assert listing.status_code == 200 and "links.csv" in listing.content.decode()
    page = admin_client.get(reverse("admin:shortener_bulkjob_change", args=[job.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "Row 3: &lt;b&gt;Bad&lt;/b&gt; target" in html and "Row 2" not in html
    assert admin_client.get(reverse("admin:shortener_bulkjob_add")).status_code == 403
    changed = admin_client.post(
        reverse("admin:shortener_bulkjob_change", args=[job.pk]), {"status": "queued"}
    )
    assert changed.status_code == 403
    job.refresh_from_db()
    assert job.status == "done"
