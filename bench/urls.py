"""A stand-in URL map with a `follow` route, so the rate limiter's own cost is measured
without the site's views or database (bench/ratelimit.py)."""

from django.http import HttpResponseRedirect
from django.urls import path


def follow(request, slug):
    return HttpResponseRedirect("https://example.com/")


urlpatterns = [path("<slug:slug>", follow, name="follow")]
