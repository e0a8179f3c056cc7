"""The small things people notice: admin's name, a way back from the API docs, sign-up
from sign-in, the QR code's viewBox, the preview's short URL, the copy button hidden
without scripts."""

import re

import pytest
from django.conf import settings
from django.urls import reverse
from waffle.testutils import override_flag

from shortener.models import Link
from tests.conftest import make_link, make_user

pytestmark = pytest.mark.django_db


def test_admin_names_torii(client):
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    body = client.get(reverse("admin:index")).content.decode()
    assert "Torii administration" in body and "Django administration" not in body


@override_flag("api_v1", active=True)
def test_the_api_docs_page_leads_back_to_the_site(client):
    body = client.get(reverse("api-v1:openapi-view")).content.decode()
    assert '<html lang="en">' in body
    assert '<a href="/">← Back to Torii</a>' in body


@pytest.mark.parametrize("on", [True, False])
def test_sign_in_offers_sign_up_only_while_open_signup_is_on(client, on):
    with override_flag("open_signup", active=on):
        body = client.get(reverse("login")).content.decode()
    assert ('href="/accounts/signup/">Create an account</a>' in body) is on


@override_flag("qr_codes", active=True)
def test_the_qr_code_scales_to_its_box(client):
    user = make_user()
    client.force_login(user)
    link = make_link(owner=user)
    body = client.get(link.get_absolute_url()).content.decode()
    svg = re.search(r"<svg[^>]*>", body.split('class="qr"')[1]).group(0)
    assert "viewBox=" in svg and "width=" not in svg


def test_the_preview_shows_the_short_url_as_its_own_link(client):
    link = make_link()
    body = client.get(f"/{link.slug}+").content.decode()
    short = link.short_url
    assert f'<a class="short-url" href="{short}">{short}</a>' in body


def test_copy_buttons_are_hidden_until_scripts_reveal_them(client):
    user = make_user()
    client.force_login(user)
    link = make_link(owner=user)
    body = client.get(link.get_absolute_url()).content.decode()
    assert re.search(r'<button type="button"[^>]*data-copy="[^"]+" hidden>', body)
    css = settings.BASE_DIR / "static" / "css" / "site.css"
    assert "[hidden] { display: none !important; }" in css.read_text()


def test_the_created_message_without_javascript_links_the_short_url(client):
    user = make_user()
    client.force_login(user)
    response = client.post(reverse("link-list"), {"target": "example.com/x"}, follow=True)
    body = response.content.decode()
    slug = response.redirect_chain[-1][0].strip("/").split("/")[-1]
    short = Link.objects.get(slug=slug).short_url
    assert f'Created <a href="{short}" rel="nofollow">{short}</a>' in body
