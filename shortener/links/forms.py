"""The link's fields as plain form fields, shared by the two HTML adapters (the pages and
admin): each carries its raw value to the link core, and the core's refusal goes back onto
the field it names. No rule lives here, so a refusal reads the same on every entry point.
"""

from django import forms

from shortener.links.models import Link, QueryForwarding, RedirectCode
from shortener.links.refusal import LinkRefused

PERMANENT_NOTE = (
    "301 and 308 are permanent: browsers cache them and skip Torii next time, "
    "so later clicks go uncounted and a changed destination may not be seen."
)
EXPIRY_FORMAT = "%Y-%m-%dT%H:%M"


def text(label: str, help_text: str = "", widget=None) -> forms.CharField:
    field = forms.CharField(label=label, required=False, help_text=help_text, widget=widget)
    field.validators = []  # not even Django's NUL check: the core says what is wrong
    return field


class LinkFields(forms.Form):
    """The fields every link form shows, in this order; `values()` is what the core gets."""

    target = text(
        "Destination",
        widget=forms.URLInput(
            attrs={"placeholder": "https://example.com/a/long/address", "required": True}
        ),
    )
    title = text("Title")
    notes = text("Notes", widget=forms.Textarea(attrs={"rows": 3}))
    tags = text("Tags", "Comma separated, for example: launch, newsletter")
    redirect_code = text(
        "Redirect", PERMANENT_NOTE, widget=forms.Select(choices=RedirectCode.choices)
    )
    expires_at = text(
        "Expires",
        "After this time (UTC) the short link answers 410 Gone.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=EXPIRY_FORMAT),
    )
    max_visits = text(
        "Maximum visits",
        "After this many visits the short link answers 410 Gone.",
        widget=forms.NumberInput(attrs={"min": 1}),
    )

    password = text(
        "Password",
        "Optional: visitors must type it before the link leads anywhere. It is never shown "
        "again; leave empty to keep the current one.",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    forward_query = text(
        "Query forwarding",
        "Pass the short URL's query string (?utm_source=…) on to the destination.",
        widget=forms.Select(choices=QueryForwarding.choices),
    )

    core_fields = ("target", "title", "notes", "tags", "redirect_code", "expires_at")
    core_fields += ("max_visits", "password", "forward_query")

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.fields["redirect_code"].initial = RedirectCode.FOUND

    def values(self) -> dict:
        names = [n for n in self.fields if n in self.core_fields or n in ("slug", "domain")]
        values = {name: self.cleaned_data.get(name, "") for name in names}
        if "tags" in values:  # typed as "a, b; c"
            values["tags"] = values["tags"].replace(";", ",").split(",")
        if values.get("password") == "":  # an empty box keeps the password as it is
            del values["password"]
        if self.cleaned_data.get("remove_password"):
            values["password"] = None
        return values

    def refused(self, refusal: LinkRefused) -> None:
        """Show the core's sentences on their fields (others above the form)."""
        for field, reason in refusal.errors.items():
            self.add_error(field if field in self.fields else None, reason)


def initial_of(link: Link) -> dict:
    """What an edit form starts from: the link as stored."""
    return {
        "target": link.target,
        "title": link.title,
        "notes": link.notes,
        "tags": ", ".join(tag.name for tag in link.tags.all()),
        "redirect_code": link.redirect_code,
        "expires_at": link.expires_at.strftime(EXPIRY_FORMAT) if link.expires_at else "",
        "max_visits": link.max_visits or "",
        "forward_query": link.forward_query,
    }
