"""The site's root URLs. Every top-level path here is also a reserved slug (shortener/slugs.py)."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path

from config.health import healthz, livez
from config.metrics.scrape import metrics
from config.password_reset import password_reset
from config.robots import robots_txt
from shortener.pages import audit, bulk, members, reports, rules, tokens, workspaces
from shortener.pages import views as links
from shortener.policy import slugs
from shortener.redirect import views
from shortener.webhooks.receiver import receive as receive_webhook

SLUG = rf"(?P<slug>{slugs.SLUG_PATTERN})"
# A link's pages name it by key: its slug, or slug@domain off the site's own host.
KEY = rf"(?P<slug>{slugs.KEY_PATTERN})"

# Admin names the site it belongs to, not the framework.
admin.site.site_header = "Torii administration"
admin.site.site_title = "Torii admin"
admin.site.index_title = "Links, users, flags and webhooks"

# A known outage (the database or a shared cache away) answers 503, anything else 500.
handler500 = "config.outages.server_error"

urlpatterns = [
    path("", links.home, name="home"),
    # Answered by config.health.HealthMiddleware first; here for reverse() and the views.
    path("livez", livez, name="livez"),
    path("healthz", healthz, name="healthz"),
    path("robots.txt", robots_txt, name="robots-txt"),
    path("readyz", healthz, name="readyz"),
    path("metrics", metrics, name="metrics"),  # the operator's Prometheus (METRICS_TOKEN)
    path("admin/", admin.site.urls),
    path("accounts/signup/", links.signup, name="signup"),
    path("flags/", include("flags.urls")),
    # Before auth's own: without mail set up it says so instead of pretending to send.
    path("accounts/password_reset/", password_reset, name="password_reset"),
    # Only when a provider is configured (OIDC_ISSUER): otherwise these URLs do not exist.
    *([path("accounts/oidc/", include("shortener.oidc.urls"))] if settings.OIDC_ENABLED else []),
    path("accounts/", include("django.contrib.auth.urls")),
    path("webhooks/<str:source>/", receive_webhook, name="webhook-receive"),
    path("api/v1/", include(("shortener.api.urls", "api-v1"), namespace="api-v1")),
    path("tokens/", tokens.token_list, name="token-list"),
    path("tokens/<int:token_id>/", tokens.token_row, name="token-row"),
    path("tokens/<int:token_id>/revoke/", tokens.token_revoke, name="token-revoke"),
    path("links/", links.link_collection, name="link-list"),
    path("workspaces/", members.workspace_list, name="workspace-list"),
    path("workspaces/switch/", workspaces.switch, name="workspace-switch"),
    path(
        "workspaces/<int:workspace_id>/members/",
        members.workspace_members,
        name="workspace-members",
    ),
    path("workspaces/<int:workspace_id>/invite/", members.member_invite, name="workspace-invite"),
    path(
        "workspaces/<int:workspace_id>/members/<int:membership_id>/role/",
        members.member_role,
        name="workspace-member-role",
    ),
    path(
        "workspaces/<int:workspace_id>/members/<int:membership_id>/remove/",
        members.member_remove,
        name="workspace-member-remove",
    ),
    path("invitations/<str:token>/", members.invitation, name="invitation"),
    path("import/", bulk.bulk_create, name="bulk-create"),
    path("import/<int:job_id>/", bulk.bulk_detail, name="bulk-detail"),
    path(
        "import/<int:job_id>/results.csv",
        bulk.bulk_results_csv,
        name="bulk-results-csv",
    ),
    path("links/bulk/", links.link_bulk, name="link-bulk"),
    re_path(r"^links/export\.(?P<kind>csv|jsonl)$", bulk.link_export, name="link-export"),
    re_path(
        r"^links/redirects\.(?P<kind>nginx|apache|caddy|redirects|static)$",
        bulk.redirects_export,
        name="redirects-export",
    ),
    path("links/redirects/<int:job_id>/", bulk.exit_job, name="exit-job"),
    path("links/redirects/<int:job_id>/download", bulk.exit_download, name="exit-download"),
    re_path(rf"^links/{KEY}/$", links.link_detail, name="link-detail"),
    re_path(rf"^links/{KEY}/edit/$", links.link_edit, name="link-edit"),
    re_path(rf"^links/{KEY}/disable/$", links.link_disable, name="link-disable"),
    re_path(rf"^links/{KEY}/enable/$", links.link_enable, name="link-enable"),
    re_path(rf"^links/{KEY}/delete/$", links.link_delete, name="link-delete"),
    re_path(rf"^links/{KEY}/rules/$", rules.rule_add, name="link-rule-add"),
    re_path(
        rf"^links/{KEY}/rules/(?P<number>[0-9]{{1,2}})/move/$",
        rules.rule_move,
        name="link-rule-move",
    ),
    re_path(
        rf"^links/{KEY}/rules/(?P<number>[0-9]{{1,2}})/remove/$",
        rules.rule_remove,
        name="link-rule-remove",
    ),
    re_path(rf"^links/{KEY}/stats/$", links.link_stats, name="link-stats"),
    re_path(rf"^links/{KEY}/visits\.csv$", links.link_visits_csv, name="link-visits-csv"),
    re_path(rf"^links/{KEY}/qr\.(?P<kind>svg|png)$", links.link_qr, name="link-qr"),
    path("stats/", links.site_stats, name="site-stats"),
    path("stats/days.csv", links.site_stats_csv, name="site-stats-csv"),
    path("reports/", reports.queue, name="report-queue"),
    path("audit/", audit.audit_log, name="audit"),
    path("audit/export.csv", audit.audit_csv, name="audit-csv"),
    path("reports/<int:link_id>/", reports.decide, name="report-decide"),
    re_path(rf"^{SLUG}\+$", views.preview, name="preview"),
    re_path(rf"^{SLUG}\+report$", reports.report_link, name="report"),
    re_path(rf"^{SLUG}\+continue$", views.go_on, name="continue"),
    re_path(rf"^{SLUG}$", views.follow, name="follow"),
]
