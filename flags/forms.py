"""What the flag board accepts: an action on one flag or switch, and the confirmation."""

from decimal import Decimal

from django import forms

FLAG_ACTIONS = {
    "on": "Turn on for everyone",
    "off": "Turn off for everyone",
    "percent": "Roll out to a percentage",
}
SWITCH_ACTIONS = {"on": "Turn on", "off": "Turn off"}


class SwitchChangeForm(forms.Form):
    action = forms.ChoiceField(choices=SWITCH_ACTIONS.items())
    confirmed = forms.BooleanField(required=False)


class FlagChangeForm(forms.Form):
    action = forms.ChoiceField(choices=FLAG_ACTIONS.items())
    percent = forms.DecimalField(
        min_value=Decimal(0),
        max_value=Decimal(100),
        max_digits=4,
        decimal_places=1,
        required=False,
        label="Percent of visitors",
    )
    confirmed = forms.BooleanField(required=False)

    def clean(self):
        data = super().clean()
        if data.get("action") == "percent" and data.get("percent") is None:
            self.add_error("percent", "Give a percentage from 0 to 100.")
        return data
