"""The audit trail: every real change to a flag or switch, from admin, the board or code."""

import pytest
from django.contrib.auth.models import Group
from django.db import transaction
from waffle import get_waffle_switch_model

from flags import audit
from flags.models import FeatureFlag, FlagChange
from tests.conftest import make_user

Switch = get_waffle_switch_model()


def changes(name=None):
    entries = FlagChange.objects.order_by("pk")
    return list(entries.filter(name=name) if name else entries)


def flag(name="custom_slugs") -> FeatureFlag:
    return FeatureFlag.objects.get(name=name)


@pytest.mark.django_db
def test_a_change_from_code_is_recorded_with_nobody_as_who():
    f = flag()
    f.everyone = True
    f.save()
    [entry] = changes()
    assert (entry.kind, entry.name, entry.changed_by, entry.who) == (
        "flag",
        "custom_slugs",
        None,
        "code",
    )
    assert entry.before["everyone"] is False
    assert entry.after["everyone"] is True
    assert entry.changed_at is not None


@pytest.mark.django_db
def test_a_save_that_changes_nothing_is_not_recorded():
    f = flag()
    f.save()
    f.description = "Only the words changed"  # not the rule: who gets the flag is the same
    f.save()
    assert changes() == []


@pytest.mark.django_db
def test_the_same_percentage_written_differently_is_no_change():
    f = flag()
    f.roll_out_to("25")
    f.save()
    f.roll_out_to(25.0)
    f.save()
    assert len(changes()) == 1


@pytest.mark.django_db
def test_creating_and_deleting_a_flag_are_recorded():
    f = FeatureFlag.objects.create(name="new_thing", everyone=False)
    f.delete()
    created, deleted = changes("new_thing")
    assert created.before is None and created.after["everyone"] is False
    assert deleted.before["everyone"] is False and deleted.after is None
    assert deleted.after_text == "does not exist"


@pytest.mark.django_db
def test_waffle_creates_no_flag_for_an_unregistered_name_so_the_trail_has_nothing(rf, settings):
    import waffle
    from django.contrib.auth.models import AnonymousUser

    settings.FLAGS_STRICT_NAMES = False  # production: off and logged (tests raise)
    request = rf.get("/")
    request.user = AnonymousUser()
    assert not waffle.flag_is_active(request, "brand_new_flag")
    assert changes("brand_new_flag") == []


@pytest.mark.django_db
def test_groups_and_users_added_and_removed_are_recorded_from_both_sides():
    f = flag()
    beta = Group.objects.create(name="beta")
    bea = make_user("bea")
    f.groups.add(beta)
    bea.featureflag_set.add(f)  # from the user's side
    f.groups.remove(beta)
    bea.featureflag_set.clear()
    entries = changes()
    assert [(e.before["groups"], e.after["groups"]) for e in entries[:1]] == [([], ["beta"])]
    assert (entries[1].before["users"], entries[1].after["users"]) == ([], ["bea"])
    assert entries[2].after["groups"] == []
    assert entries[3].after["users"] == []
    assert len(entries) == 4


@pytest.mark.django_db
def test_adding_a_member_twice_records_once():
    f = flag()
    bea = make_user("bea")
    f.users.add(bea)
    f.users.add(bea)
    assert len(changes()) == 1


@pytest.mark.django_db
def test_switch_changes_are_recorded():
    switch = Switch.objects.get(name="read_only")
    switch.active = True
    switch.save()
    switch.save()
    [entry] = changes("read_only")
    assert entry.kind == "switch"
    assert (entry.before, entry.after) == ({"active": False}, {"active": True})
    assert (entry.before_text, entry.after_text) == ("off", "on")


@pytest.mark.django_db
def test_changes_by_names_who_and_one_change_makes_several_saves_one_entry():
    stella = make_user("stella", is_staff=True)
    beta = Group.objects.create(name="beta")
    with audit.one_change(by=stella):
        f = flag()
        f.roll_out_to(10)
        f.save()
        f.groups.set([beta])
        f.groups.set([])
        f.groups.set([beta])
    [entry] = changes()
    assert (entry.changed_by, entry.changed_by_name) == (stella, "stella")
    assert entry.before["percent"] is None and entry.before["groups"] == []
    assert entry.after["percent"] == "10.0" and entry.after["groups"] == ["beta"]


@pytest.mark.django_db
def test_one_change_that_ends_where_it_began_is_not_recorded():
    with audit.one_change():
        f = flag()
        f.everyone = True
        f.save()
        f.everyone = False
        f.save()
    assert changes() == []


@pytest.mark.django_db
def test_a_rolled_back_change_leaves_no_entry():
    with pytest.raises(RuntimeError), transaction.atomic():
        f = flag()
        f.everyone = True
        f.save()
        raise RuntimeError("the request failed")
    assert flag().everyone is False
    assert changes() == []


@pytest.mark.django_db
def test_entries_are_append_only():
    f = flag()
    f.everyone = True
    f.save()
    [entry] = changes()
    entry.name = "something_else"
    with pytest.raises(ValueError, match="append-only"):
        entry.save()
    with pytest.raises(ValueError, match="append-only"):
        entry.delete()


@pytest.mark.django_db
def test_the_trail_survives_deleting_the_user_who_changed():
    stella = make_user("stella", is_staff=True)
    with audit.changes_by(stella):
        f = flag()
        f.everyone = True
        f.save()
    stella.delete()
    [entry] = changes()
    assert entry.changed_by is None and entry.who == "stella"


# --- through the web: the board and admin say who, and admin shows the trail read-only ---


@pytest.fixture
def admin_client_(client):
    user = make_user("root", is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


def admin_form(f: FeatureFlag, **changes) -> dict:
    data = {
        "name": f.name,
        "description": f.description,
        "contact": f.contact,
        "everyone": {True: "true", False: "false", None: "unknown"}[f.everyone],
        "percent": "" if f.percent is None else str(f.percent),
        "languages": f.languages,
        "note": f.note,
        "created_0": f.created.strftime("%Y-%m-%d"),
        "created_1": f.created.strftime("%H:%M:%S"),
        "modified_0": f.modified.strftime("%Y-%m-%d"),
        "modified_1": f.modified.strftime("%H:%M:%S"),
        "groups": [g.pk for g in f.groups.all()],
        "users": ",".join(str(u.pk) for u in f.users.all()),
    }
    return {**data, **changes}


@pytest.mark.django_db
def test_an_admin_save_of_fields_groups_and_users_is_one_entry_by_that_user(admin_client_):
    f = flag()
    beta = Group.objects.create(name="beta")
    bea = make_user("bea")
    data = admin_form(f, everyone="unknown", percent="5", groups=[beta.pk], users=str(bea.pk))
    response = admin_client_.post(f"/admin/flags/featureflag/{f.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    [entry] = changes()
    assert entry.who == "root"
    assert entry.before["everyone"] is False
    assert (entry.after["everyone"], entry.after["percent"]) == (None, "5.0")
    assert (entry.after["groups"], entry.after["users"]) == (["beta"], ["bea"])


@pytest.mark.django_db
def test_an_admin_save_that_changes_nothing_is_not_recorded(admin_client_):
    f = flag()
    response = admin_client_.post(f"/admin/flags/featureflag/{f.pk}/change/", admin_form(f))
    assert response.status_code == 302
    assert changes() == []


@pytest.mark.django_db
def test_admin_rejects_a_percentage_above_100(admin_client_):
    f = flag()
    response = admin_client_.post(
        f"/admin/flags/featureflag/{f.pk}/change/", admin_form(f, everyone="unknown", percent="101")
    )
    assert response.status_code == 200  # the form again, with the error
    assert flag().percent is None and changes() == []


@pytest.mark.django_db
def test_admin_does_not_offer_testing_mode(admin_client_):
    body = admin_client_.get(f"/admin/flags/featureflag/{flag().pk}/change/").content.decode()
    assert 'name="testing"' not in body


@pytest.mark.django_db
def test_the_waffle_switch_admin_action_is_recorded(admin_client_):
    switch = Switch.objects.get(name="read_only")
    response = admin_client_.post(
        "/admin/waffle/switch/", {"action": "enable_switches", "_selected_action": [switch.pk]}
    )
    assert response.status_code == 302
    [entry] = changes("read_only")
    assert entry.who == "root" and entry.after == {"active": True}


@pytest.mark.django_db
def test_admin_shows_the_trail_but_cannot_add_change_or_delete(admin_client_):
    f = flag()
    f.everyone = True
    f.save()
    [entry] = changes()
    listing = admin_client_.get("/admin/flags/flagchange/")
    assert listing.status_code == 200
    assert "custom_slugs" in listing.content.decode()
    assert admin_client_.get("/admin/flags/flagchange/add/").status_code == 403
    detail = admin_client_.get(f"/admin/flags/flagchange/{entry.pk}/change/")
    assert detail.status_code == 200
    assert 'type="submit"' not in detail.content.decode().split('id="content-main"')[1]
    admin_client_.post(f"/admin/flags/flagchange/{entry.pk}/change/", {"name": "x"})
    assert admin_client_.post(f"/admin/flags/flagchange/{entry.pk}/delete/").status_code == 403
    assert changes()[0].name == "custom_slugs"


@pytest.mark.django_db
def test_the_board_shows_the_trail(client):
    stella = make_user("stella", is_staff=True)
    client.force_login(stella)
    client.post("/flags/flag/custom_slugs/", {"action": "on", "confirmed": "on"})
    body = client.get("/flags/").content.decode()
    trail = body[body.index('id="trail"') :]
    assert "<code>custom_slugs</code>" in trail
    assert '<td data-label="Who">stella</td>' in trail
    assert '<td data-label="Before">off for everyone</td>' in trail
    assert '<td data-label="After">on for everyone</td>' in trail


# --- ChangedByMiddleware, on its own with a dummy get_response ---


def flip_custom_slugs(request):
    from django.http import HttpResponse

    f = flag()
    f.everyone = not f.everyone
    f.save()
    return HttpResponse("flipped")


@pytest.mark.django_db
def test_the_middleware_names_the_signed_in_user_for_the_request_only(rf):
    stella = make_user("stella", is_staff=True)
    request = rf.post("/")
    request.user = stella
    assert audit.ChangedByMiddleware(flip_custom_slugs)(request).content == b"flipped"
    flip_custom_slugs(rf.post("/"))  # after the request: code again
    assert [entry.who for entry in changes()] == ["stella", "code"]


@pytest.mark.django_db
def test_a_change_during_an_anonymous_request_is_by_nobody(rf):
    from django.contrib.auth.models import AnonymousUser

    request = rf.get("/")
    request.user = AnonymousUser()
    audit.ChangedByMiddleware(flip_custom_slugs)(request)
    [entry] = changes()
    assert entry.changed_by is None and entry.who == "code"


def test_the_middleware_leaves_the_user_unloaded_when_nothing_changes(rf):
    from django.http import HttpResponse
    from django.utils.functional import SimpleLazyObject

    def load_user():
        raise AssertionError("the session and user were loaded for nothing")

    request = rf.get("/some-slug")
    request.user = SimpleLazyObject(load_user)
    response = audit.ChangedByMiddleware(lambda request: HttpResponse("redirect"))(request)
    assert response.content == b"redirect"
