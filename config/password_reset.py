"""Password reset only where mail can be sent: otherwise the page says to ask staff.

Django's reset views (django.contrib.auth.urls) do the rest: the mailed one-time link,
the new password, and the pages between.
"""

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

_reset = auth_views.PasswordResetView.as_view()


def mail_status(request: HttpRequest) -> dict:
    """Templates draw the way to a reset only when mail is set up (EMAIL_URL)."""
    return {"mail_is_set_up": settings.EMAIL_CONFIGURED}


def password_reset(request: HttpRequest) -> HttpResponse:
    if settings.EMAIL_CONFIGURED:
        return _reset(request)
    # Nothing could reach the person: no form, and a POST sends nothing.
    return render(request, "registration/password_reset_form.html", status=503)
