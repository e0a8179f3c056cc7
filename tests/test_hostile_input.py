"""Property test: whatever is posted as a target, the answer is never a 5xx and every
stored link passes the target policy."""

import pytest
from django.conf import settings
from django.test import Client, override_settings
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from shortener.models import Link
from shortener.policy import targets
from tests.conftest import make_user

urlish = st.one_of(
    st.text(max_size=200),
    st.builds(
        lambda scheme, host, rest: f"{scheme}://{host}{rest}",
        st.sampled_from(["http", "https", "HTTP", "javascript", "ftp", "data", ""]),
        st.text(alphabet="abcxyz0123456789.-:[]@%_", max_size=30),
        st.text(max_size=40),
    ),
)


@pytest.mark.django_db
@hypothesis_settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(target=urlish)
def test_posting_arbitrary_targets_never_fails_and_stores_only_policy_passing_links(target):
    client = Client(raise_request_exception=False)
    user = _user() or make_user("prop")
    client.force_login(user)
    before = Link.objects.count()
    # Hundreds of posts in a row: the create rate limit is not what this test is about.
    no_create_limit = {**settings.RATE_LIMITS, "create": None}
    with override_settings(RATE_LIMITS=no_create_limit):
        response = client.post(reverse("link-list"), {"target": target, "redirect_code": "302"})
    assert response.status_code < 500
    if response.status_code == 303:
        assert Link.objects.count() == before + 1
    else:
        assert response.status_code == 422
        assert Link.objects.count() == before
    for link in Link.objects.all():
        verdict = targets.check(link.target)
        assert verdict.ok and verdict.url == link.target


def _user():
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(username="prop").first()
