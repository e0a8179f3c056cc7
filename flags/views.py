"""The staff flag board: see every flag and switch, change one with a confirmation."""

import copy
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_POST, require_safe
from waffle import get_waffle_switch_model

from flags import audit
from flags.board import flag_rows, flags_with_members, row_for, switch_rows
from flags.forms import FLAG_ACTIONS, SWITCH_ACTIONS, FlagChangeForm, SwitchChangeForm
from flags.models import FeatureFlag, FlagChange
from flags.rules import describe, flag_rule, switch_rule
from hypermedia.announcements import announce
from hypermedia.fragments import wants_fragment


def staff_only(view: Callable) -> Callable:
    """The board does not exist for anyone but staff: 404, not 403, and no sign-in prompt."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs):
        if not (request.user.is_active and request.user.is_staff):
            raise Http404
        return view(request, *args, **kwargs)

    return wrapped


def change_flag(flag: FeatureFlag, data: dict) -> None:
    if data["action"] == "percent":
        flag.roll_out_to(data["percent"])
    else:
        flag.set_everyone(data["action"] == "on")


def change_switch(switch, data: dict) -> None:
    switch.active = data["action"] == "on"


@dataclass(frozen=True)
class Changeable:
    """How the board finds, validates, changes and describes one kind of thing."""

    objects: Callable
    form: type
    apply: Callable
    rule: Callable
    actions: dict[str, str]


KINDS = {
    FlagChange.Kind.FLAG: Changeable(
        flags_with_members, FlagChangeForm, change_flag, flag_rule, FLAG_ACTIONS
    ),
    FlagChange.Kind.SWITCH: Changeable(
        get_waffle_switch_model().objects.all,
        SwitchChangeForm,
        change_switch,
        switch_rule,
        SWITCH_ACTIONS,
    ),
}


@staff_only
@require_safe
def board(request: HttpRequest) -> HttpResponse:
    context = {
        "flag_rows": flag_rows(request),
        "switch_rows": switch_rows(),
        "trail": FlagChange.objects.select_related("changed_by")[:50],
    }
    return render(request, "flags/board.html", context)


@staff_only
@require_POST
def change(request: HttpRequest, kind: str, name: str) -> HttpResponse:
    """First post: the confirmation (page, or the row with htmx). Confirmed post: the change."""
    changeable = KINDS[kind]
    obj = get_object_or_404(changeable.objects(), name=name)
    form = changeable.form(request.POST)
    fragment = wants_fragment(request)
    context = {"row": row_for(request, kind, obj), "form": form, "fragment": fragment}
    if not form.is_valid():
        response = confirmation(request, context, fragment, status=422)
    elif not form.cleaned_data["confirmed"]:
        planned = copy.copy(obj)
        changeable.apply(planned, form.cleaned_data)
        context |= {
            "label": changeable.actions[form.cleaned_data["action"]],
            "planned": describe(changeable.rule(planned)),
        }
        response = confirmation(request, context, fragment)
    else:
        with audit.one_change(by=request.user):
            changeable.apply(obj, form.cleaned_data)
            obj.save()
        if fragment:
            context["row"] = row_for(request, kind, obj)
            context["row_focus"] = True
            response = render(request, "flags/board.html#row", context)
            announce(response, f"{name} is now {context['row'].rule}.")
        else:
            messages.success(request, f"{name} is now {row_for(request, kind, obj).rule}.")
            response = HttpResponseRedirect(reverse("flags:board") + f"#{kind}-{name}")
            response.status_code = 303
    patch_vary_headers(response, ["HX-Request"])
    return response


def confirmation(request: HttpRequest, context: dict, fragment: bool, status: int = 200):
    template = "flags/board.html#confirm_row" if fragment else "flags/confirm.html"
    return render(request, template, context, status=status)
