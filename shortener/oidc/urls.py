"""Included under accounts/oidc/ only when OIDC_ISSUER is set (config/urls.py)."""

from django.urls import path

from shortener.oidc import views

urlpatterns = [
    path("start/", views.start, name="oidc-start"),
    path("callback/", views.callback, name="oidc-callback"),
]
