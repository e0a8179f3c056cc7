"""The site's root URLs. Every top-level path here is also a reserved slug (shortener/slugs.py)."""

from django.contrib import admin
from django.urls import include, path, re_path

from config.health import healthz
from config.password_reset import password_reset
from shortener import redirects, slugs
from shortener import token_views as tokens
from shortener import views as links
from shortener.webhooks.receiver import receive as receive_webhook

SLUG = rf"(?P<slug>{slugs.SLUG_PATTERN})"

# Admin names the site it belongs to, not the framework.
admin.site.site_header = "Torii administration"
admin.site.site_title = "Torii admin"
admin.site.index_title = "Links, users, flags and webhooks"

urlpatterns = [
    path("", links.home, name="home"),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/signup/", links.signup, name="signup"),
    path("flags/", include("flags.urls")),
    # Before auth's own: without mail set up it says so instead of pretending to send.
    path("accounts/password_reset/", password_reset, name="password_reset"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("webhooks/<str:source>/", receive_webhook, name="webhook-receive"),
    path("api/v1/", include(("shortener.api.urls", "api-v1"), namespace="api-v1")),
    path("tokens/", tokens.token_list, name="token-list"),
    path("tokens/<int:token_id>/", tokens.token_row, name="token-row"),
    path("tokens/<int:token_id>/revoke/", tokens.token_revoke, name="token-revoke"),
    path("links/", links.link_collection, name="link-list"),
    path("links/bulk/", links.link_bulk, name="link-bulk"),
    re_path(rf"^links/{SLUG}/$", links.link_detail, name="link-detail"),
    re_path(rf"^links/{SLUG}/edit/$", links.link_edit, name="link-edit"),
    re_path(rf"^links/{SLUG}/disable/$", links.link_disable, name="link-disable"),
    re_path(rf"^links/{SLUG}/enable/$", links.link_enable, name="link-enable"),
    re_path(rf"^links/{SLUG}/delete/$", links.link_delete, name="link-delete"),
    re_path(rf"^links/{SLUG}/stats/$", links.link_stats, name="link-stats"),
    re_path(rf"^links/{SLUG}/visits\.csv$", links.link_visits_csv, name="link-visits-csv"),
    re_path(rf"^links/{SLUG}/qr\.(?P<kind>svg|png)$", links.link_qr, name="link-qr"),
    re_path(rf"^{SLUG}\+$", redirects.preview, name="preview"),
    re_path(rf"^{SLUG}$", redirects.follow, name="follow"),
]
