from django.db.models import F
from django.shortcuts import get_object_or_404, redirect
from django.urls import path

from bench.baseline.models import Link


def follow(request, slug):
    link = get_object_or_404(Link, slug=slug)
    Link.objects.filter(pk=link.pk).update(clicks=F("clicks") + 1)
    return redirect(link.url)


urlpatterns = [path("<slug:slug>", follow)]
