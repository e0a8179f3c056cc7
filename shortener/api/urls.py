"""/api/v1/ URLs: ninja's operations and docs, each behind the gate, then a problem 404."""

from django.urls import re_path

from shortener.api.gate import gate, gated_patterns, unknown_path
from shortener.api.views import api

patterns, app_name, namespace = api.urls
urlpatterns = [*gated_patterns(patterns), re_path(r"^(?P<rest>.*)$", gate(unknown_path))]
