"""Forms for links: they carry the raw values to the link core and show its refusals.

No rule lives here. Every field is a plain text field whose value goes to
`shortener.links` as typed, so a refusal reads the same on the page as in the API,
webhooks and admin.
"""

from django import forms

from shortener import slugs
from shortener.device_facts import DEVICE_CLASSES, OS_LABELS
from shortener.links import LinkRefused
from shortener.models import Link, QueryForwarding, RedirectCode

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


class LinkForm(LinkFields):
    """Edit a link: everything but the slug, which never changes."""

    remove_password = forms.BooleanField(label="Remove the password", required=False)

    def __init__(self, data=None, *, instance: Link, **kwargs):
        super().__init__(data, initial=initial_of(instance), **kwargs)
        self.instance = instance
        if not instance.is_protected:
            del self.fields["remove_password"]
        else:
            self.fields[
                "password"
            ].help_text = "This link has a password. Type a new one to change it, or leave empty."


class CreateLinkForm(LinkFields):
    """Create a link; offers a custom slug when the custom_slugs flag is on for the user,
    and a choice of domain when the user may use more than one (the default first)."""

    domain = text("Domain", widget=forms.Select())

    slug = text(
        "Custom slug",
        f"Optional: {slugs.CUSTOM_MIN_LENGTH} to {slugs.MAX_LENGTH} letters, digits, - or _. "
        "It can never be changed later.",
    )

    def __init__(self, *args, allow_custom_slug: bool = False, domains=(), **kwargs):
        super().__init__(*args, **kwargs)
        if not allow_custom_slug:
            del self.fields["slug"]
        hosts = [domain.host for domain in domains]
        if len(hosts) > 1:
            self.fields["domain"].widget.choices = [(host, host) for host in hosts]
            self.fields["domain"].initial = hosts[0]
        else:
            del self.fields["domain"]  # nothing to choose: the core takes the default
        self.order_fields(["target", "domain", "slug"])


class ListField(forms.Field):
    """Checkboxes whose ticked values go to the core as a list, unjudged."""

    widget = forms.CheckboxSelectMultiple

    def to_python(self, value):
        return list(value or [])


class RuleForm(forms.Form):
    """One redirect rule as the link's page adds it; `values()` is the core's rule shape."""

    target = text(
        "Leads to",
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/for-them"}),
    )
    device = ListField(
        label="Device",
        required=False,
        widget=forms.CheckboxSelectMultiple(
            choices=[(name, name.capitalize()) for name in DEVICE_CLASSES]
        ),
    )
    os = ListField(
        label="Operating system",
        required=False,
        widget=forms.CheckboxSelectMultiple(choices=list(OS_LABELS.items())),
    )
    language = text("Browser language", "Codes, comma separated: de, fr-CH")
    country = text("Country", "ISO codes, comma separated: DE, AT, CH")
    time_from = text("From (UTC)", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    time_until = text("Until (UTC)", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    query_name = text("Query parameter")
    query_value = text("equals")

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        kwargs.setdefault("prefix", "rule")
        super().__init__(*args, **kwargs)

    def values(self) -> dict:
        data = self.cleaned_data
        when: dict = {}
        for name in ("device", "os"):
            if data.get(name):
                when[name] = data[name]
        for name in ("language", "country"):
            if data.get(name, "").strip():
                when[name] = data[name].replace(";", ",").split(",")
        if data.get("time_from") or data.get("time_until"):
            when["time"] = {
                key: data[field]
                for key, field in (("from", "time_from"), ("until", "time_until"))
                if data.get(field)
            }
        if data.get("query_name") or data.get("query_value"):
            when["query"] = {
                "name": data.get("query_name", ""),
                "value": data.get("query_value", ""),
            }
        return {"target": data.get("target", ""), "when": when}

    def refused(self, refusal: LinkRefused) -> None:
        for reason in refusal.errors.values():
            self.add_error(None, reason)
