"""Forms for links: they carry the raw values to the link core and show its refusals.

No rule lives here. Every field is a plain text field whose value goes to
`shortener.links` as typed, so a refusal reads the same on the page as in the API,
webhooks and admin.
"""

from django import forms
from django.contrib.auth.forms import UserCreationForm

from shortener.links import LinkRefused
from shortener.links.forms import LinkFields, initial_of, text
from shortener.links.models import Link
from shortener.policy import slugs
from shortener.policy.devices import DEVICE_CLASSES, OS_LABELS
from shortener.visits import countries as country_sources

NO_COUNTRIES = (
    "No country database is configured on this site: a country rule never matches "
    "until the operator sets one up (GEOIP_PATH)."
)


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

    fill_title = forms.BooleanField(
        # Its words are in no other label of the form (e2e tests find fields by label).
        label="Ask the page for a caption if left empty",
        required=False,
        help_text="When the title is empty, Torii reads the page's <title> once, later.",
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
        if not country_sources.known_from():
            # Turned off (GEOIP_PATH=off, no proxy header) or the file is missing: a
            # country rule would never match, and the page says so where it is typed
            # (still accepted: it holds once the operator sets a database up).
            self.fields["country"].help_text = NO_COUNTRIES

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


class SignupForm(UserCreationForm):
    """A new account; its e-mail address (optional) is where password resets go, and what
    an invitation sent to an address is matched against."""

    email = forms.EmailField(
        required=False,
        help_text="Optional: for password resets, and invitations sent to this address.",
    )

    class Meta(UserCreationForm.Meta):
        fields = ("username", "email")
