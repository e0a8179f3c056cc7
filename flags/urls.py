"""The staff flag board's URLs, under the namespace "flags"."""

from django.urls import path, re_path

from flags import views

app_name = "flags"
urlpatterns = [
    path("", views.board, name="board"),
    re_path(r"^(?P<kind>flag|switch)/(?P<name>[^/]+)/$", views.change, name="change"),
]
