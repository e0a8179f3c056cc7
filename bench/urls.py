"""A redirect-like route for benchmarks until shortener's `follow` view exists."""

from django.http import HttpResponseRedirect
from django.urls import path


def follow(request, slug):
    return HttpResponseRedirect("https://example.com/")


urlpatterns = [path("<slug:slug>", follow, name="follow")]
