from __future__ import annotations

from django import forms
from django_otp import devices_for_user

CODE_REQUIRED = {"required": "Enter the 6-digit code your authenticator app shows."}
CODE_WIDGET = forms.TextInput(
    attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "pattern": r"[0-9 ]*", "autofocus": True}
)


class TokenForm(forms.Form):
    """The code from an authenticator app; the device is chosen when the user has more than one."""

    device = forms.ChoiceField(label="Authenticator app", choices=())
    token = forms.CharField(label="6-digit code", max_length=12, widget=CODE_WIDGET, error_messages=CODE_REQUIRED)

    def __init__(self, user, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        choices = [(device.persistent_id, device.name) for device in devices_for_user(user)]
        self.fields["device"].choices = choices
        if len(choices) == 1:
            self.fields["device"].initial = choices[0][0]
            self.fields["device"].widget = forms.HiddenInput()


class EnrolForm(forms.Form):
    name = forms.CharField(
        label="Name this app", max_length=64, initial="Authenticator app", help_text="E.g. the phone it is on."
    )
    token = forms.CharField(
        label="6-digit code it shows now", max_length=12, widget=CODE_WIDGET, error_messages=CODE_REQUIRED
    )
