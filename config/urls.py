"""The site's root URLs. Every top-level path here is also a reserved slug."""

from django.contrib import admin
from django.urls import include, path

from config.health import healthz
from shortener import views as shortener_views

urlpatterns = [
    path("", shortener_views.home, name="home"),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("flags/", include("flags.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
]
