"""UK phone numbers as clients give them, as the clinic stores them (E.164) and shows them (national).

Stored as E.164 ("+447700900123") in a django-phonenumber-field column, so one number has one
spelling and a search for it is an exact, indexed lookup whatever spacing staff type. The UK
check is the numbering plan's shape, not libphonenumber's list of allocated ranges: that list
calls Ofcom's drama ranges (07700 900xxx, the demo's and the tests' numbers) invalid, and a
range allocated after the library's release would be refused at the desk.
"""

from __future__ import annotations

import re

import phonenumbers
from django import forms
from django.core import validators
from django.core.exceptions import ValidationError
from phonenumber_field.modelfields import PhoneNumberDescriptor, PhoneNumberField
from phonenumber_field.phonenumber import PhoneNumber

REGION = "GB"
INVALID_MESSAGE = "Enter a UK phone number, e.g. 07700 900123 or 0161 496 0000."
# Spacing and punctuation people type around a number.
SEPARATORS = re.compile(r"[\s\-().]")
# After +44 / 0044 / 0: mobiles (7) have 10 digits, 1, 2, 3, 5, 8 and 9 have 9 or 10 (UK numbering plan).
UK_NUMBER = re.compile(r"(?:\+44|0044|0)(7\d{9}|[123589]\d{8,9})")
# What a search box term must look like to be read as a phone number: digits and separators,
# optionally a leading +, with at least 7 digits (a reference or a name never looks like this).
PHONE_LIKE = re.compile(r"\+?[\d\s\-().]{7,30}")
# A stored UK number (E.164, as UK_NUMBER normalises it): built without libphonenumber's parse,
# which costs most of a row's time in a list or an export of thousands of clients.
UK_E164 = re.compile(r"\+44([1-9]\d{8,9})")


class ClinicPhoneNumber(PhoneNumber):
    """A PhoneNumber that is its E.164 form whenever it has a country code, allocated range or
    not: str() gives it and == compares by it, so "07700 900123" == the stored +447700900123.
    (The library's own compares what was typed when it finds the range unallocated.)"""

    def _key(self) -> str:
        return self.as_e164 if self.national_number else (self.raw_input or "")

    def __str__(self) -> str:
        return self._key()

    def __eq__(self, other) -> bool:
        if other in validators.EMPTY_VALUES:
            return False
        if isinstance(other, str | phonenumbers.PhoneNumber):
            other = to_phone(other)
            return isinstance(other, ClinicPhoneNumber) and self._key() == other._key()
        return False

    def __hash__(self) -> int:
        return hash(self._key())


def to_phone(value, region: str | None = REGION):
    """Any stored or typed value as a ClinicPhoneNumber ("" and None stay as they are)."""
    if value in validators.EMPTY_VALUES or isinstance(value, ClinicPhoneNumber):
        return value
    if isinstance(value, phonenumbers.PhoneNumber):
        number = ClinicPhoneNumber()
        number.merge_from(value)
        return number
    if not isinstance(value, str):
        raise TypeError(f"Can't convert {type(value).__name__} to a phone number.")
    if stored := UK_E164.fullmatch(value):
        # The same fields as parse(value, keep_raw_input=True) sets for this shape (a test checks).
        return ClinicPhoneNumber(
            country_code=44,
            national_number=int(stored.group(1)),
            raw_input=value,
            country_code_source=phonenumbers.CountryCodeSource.FROM_NUMBER_WITH_PLUS_SIGN,
        )
    try:
        return ClinicPhoneNumber.from_string(value, region=region)
    except phonenumbers.NumberParseException:
        return ClinicPhoneNumber(raw_input=value)


def uk_phone_parse(value: str) -> PhoneNumber:
    """A UK phone number typed in any common format, or ValidationError (code phone_invalid)."""
    match = UK_NUMBER.fullmatch(SEPARATORS.sub("", value or ""))
    if not match:
        raise ValidationError(INVALID_MESSAGE, code="phone_invalid")
    return ClinicPhoneNumber.from_string("+44" + match.group(1), region=REGION)


def normalise_uk_phone(value: str) -> str:
    """A UK phone number as E.164 (+447700900123), or ValidationError."""
    return uk_phone_parse(value).as_e164


def phone_display(value) -> str:
    """The number as people read it: national format for UK numbers, international for others."""
    if not value:
        return ""
    number = to_phone(value)
    if not isinstance(number, PhoneNumber) or not number.national_number:
        return str(value)
    if number.country_code == 44:
        return number.as_national
    return number.as_international


def phone_search_value(term: str) -> str | None:
    """The E.164 form of a search term that looks like a phone number, else None.

    "07700 900 123", "+44 7700900123" and "(07700) 900-123" all give +447700900123; an
    international number typed with its + is taken as it is.
    """
    term = (term or "").strip()
    if not PHONE_LIKE.fullmatch(term):
        return None
    try:
        return normalise_uk_phone(term)
    except ValidationError:
        pass
    if not term.startswith("+"):
        return None
    try:
        number = phonenumbers.parse(SEPARATORS.sub("", term), None)
    except phonenumbers.NumberParseException:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class UKPhoneFormField(forms.CharField):
    """A form field for a UK number: any common spelling in, E.164 out, national format shown."""

    def __init__(self, **kwargs):
        for unused in ("region", "choices_form_class"):
            kwargs.pop(unused, None)
        # Room for spacing and a prefix around the digits, whatever the column's length.
        kwargs["max_length"] = 30
        super().__init__(**kwargs)

    def prepare_value(self, value):
        # The stored +447700900123 is shown as 07700 900123; what staff typed stays as typed.
        return phone_display(value) if isinstance(value, PhoneNumber) else value

    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return ""
        return normalise_uk_phone(value)


def validate_phone_number(value) -> None:
    """A UK number in the plan's shape, or a foreign one libphonenumber finds possible."""
    number = to_phone(value)
    if not isinstance(number, PhoneNumber):
        return
    if not number.national_number:
        raise ValidationError(INVALID_MESSAGE, code="phone_invalid")
    if number.country_code == 44:
        if not UK_NUMBER.fullmatch(number.as_e164):
            raise ValidationError(INVALID_MESSAGE, code="phone_invalid")
    elif not phonenumbers.is_possible_number(number):
        raise ValidationError(INVALID_MESSAGE, code="phone_invalid")


class ClinicPhoneDescriptor(PhoneNumberDescriptor):
    def __set__(self, instance, value):
        instance.__dict__[self.field.name] = to_phone(value, region=self.field.region)


class UKPhoneNumberField(PhoneNumberField):
    """PhoneNumberField (region GB) that writes E.164 for every number with a country code.

    The library writes a number it does not find allocated as typed; reserved UK ranges (the
    drama numbers) would then be stored in whatever spacing they were given and an exact search
    would miss them.
    """

    default_validators = [validate_phone_number]
    attr_class = ClinicPhoneNumber
    descriptor_class = ClinicPhoneDescriptor

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("region", REGION)
        super().__init__(*args, **kwargs)

    def to_python(self, value):
        return to_phone(value, region=self.region)

    def from_db_value(self, value, expression, connection):
        return to_phone(value)

    def get_prep_value(self, value):
        number = to_phone(value, region=self.region) if value else value
        if isinstance(number, PhoneNumber) and number.national_number:
            return number.as_e164
        return super().get_prep_value(value)

    def formfield(self, **kwargs):
        return super().formfield(**{"form_class": UKPhoneFormField, **kwargs})
