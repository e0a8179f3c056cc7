"""Forms for creating and editing links; every target goes through the one target policy."""

import re

from django import forms
from django.db import IntegrityError, transaction
from django.db.models import Q

from shortener import slugs
from shortener.models import Link, RedirectCode, check_target, create_link

PERMANENT_NOTE = (
    "301 and 308 are permanent: browsers cache them and skip Torii next time, "
    "so later clicks go uncounted and a changed destination may not be seen."
)
TAG_PATTERN = re.compile(r"[\w-]{1,50}")


class TargetField(forms.CharField):
    def __init__(self, **kwargs):
        super().__init__(
            label="Destination",
            max_length=None,  # the policy says it better than a generic length error
            widget=forms.URLInput(attrs={"placeholder": "https://example.com/a/long/address"}),
            **kwargs,
        )


def parse_tags(raw: str) -> list[str]:
    names = [name.strip().lower() for name in raw.replace(";", ",").split(",")]
    return list(dict.fromkeys(name for name in names if name))


class LinkFieldsMixin:
    """Validation shared by the create and edit forms."""

    request_host: str | None = None

    def clean_target(self) -> str:
        verdict = check_target(self.cleaned_data["target"], request_host=self.request_host)
        if not verdict.ok:
            raise forms.ValidationError(verdict.reason)
        return verdict.url

    def clean_tags(self) -> list[str]:
        names = parse_tags(self.cleaned_data.get("tags", ""))
        bad = [name for name in names if not TAG_PATTERN.fullmatch(name)]
        if bad:
            raise forms.ValidationError(
                f"Tags are single words of letters, digits, - or _ (at most 50): {', '.join(bad)}."
            )
        if len(names) > 20:
            raise forms.ValidationError("A link can carry at most 20 tags.")
        return names


class LinkForm(LinkFieldsMixin, forms.ModelForm):
    """Edit a link: everything but the slug, which never changes."""

    target = TargetField()
    tags = forms.CharField(
        required=False, help_text="Comma separated, for example: launch, newsletter"
    )
    expires_at = forms.DateTimeField(
        required=False,
        label="Expires",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="After this time (UTC) the short link answers 410 Gone.",
    )

    field_order = ["target", "title", "notes", "tags", "redirect_code", "expires_at", "max_visits"]

    class Meta:
        model = Link
        fields = ["target", "title", "notes", "redirect_code", "expires_at", "max_visits"]
        labels = {"max_visits": "Maximum visits", "redirect_code": "Redirect"}
        help_texts = {
            "redirect_code": PERMANENT_NOTE,
            "max_visits": "After this many visits the short link answers 410 Gone.",
        }
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, request_host: str | None = None, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.request_host = request_host
        if self.instance.pk and not self.is_bound:
            self.initial["tags"] = ", ".join(t.name for t in self.instance.tags.all())
        self.fields["redirect_code"].choices = RedirectCode.choices
        self.fields["max_visits"].min_value = 1
        self.fields["max_visits"].widget.attrs["min"] = 1

    def clean_max_visits(self):
        value = self.cleaned_data.get("max_visits")
        if value is not None and value < 1:
            raise forms.ValidationError("Maximum visits must be at least 1, or left empty.")
        return value

    def save_edit(self, by) -> Link:
        """Save a valid edit with its destination history and tags, all or nothing."""
        old_target = Link.objects.values_list("target", flat=True).get(pk=self.instance.pk)
        with transaction.atomic():
            link = self.save()
            link.record_target_change(old_target, by=by)
            link.set_tags(self.cleaned_data["tags"])
        return link


class CreateLinkForm(LinkForm):
    """Create a link; offers a custom slug when the custom_slugs flag is on for the user."""

    slug = forms.CharField(
        required=False,
        label="Custom slug",
        max_length=64,
        help_text="Optional: 3 to 64 letters, digits, - or _. It can never be changed later.",
    )

    def __init__(self, *args, allow_custom_slug: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not allow_custom_slug:
            del self.fields["slug"]
        else:
            self.order_fields(["target", "slug"])

    def clean_slug(self) -> str:
        slug = self.cleaned_data.get("slug", "").strip()
        if not slug:
            return ""
        problem = slugs.custom_slug_problem(slug)
        if problem:
            raise forms.ValidationError(problem)
        if Link.objects.filter(Q(slug=slug)).exists():
            raise forms.ValidationError(taken(slug))
        return slug

    def create(self, owner) -> Link | None:
        """Create the link from a valid form; None (with a slug error) if the slug was taken."""
        data = self.cleaned_data
        try:
            return create_link(
                target=data["target"],
                owner=owner,
                slug=data.get("slug") or None,
                tags=data["tags"],
                title=data["title"],
                notes=data["notes"],
                redirect_code=data["redirect_code"],
                expires_at=data["expires_at"],
                max_visits=data["max_visits"],
            )
        except IntegrityError:
            self.add_error("slug", taken(data.get("slug")))
            return None


def taken(slug) -> str:
    return f"“{slug}” is already taken; choose another."
