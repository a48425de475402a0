"""A person's number: read in any form, found as the recordings table's number search finds it (then
kept only where it is the very number, country code and all), and replaced by a keyed hash however
it is written wherever it is erased.

The hash is an HMAC of the number in E.164 under a key derived from SECRET_KEY, so the same number
always gives the same hash (a later request finds the earlier one and the recordings it erased),
while the hash cannot be turned back into the number without the key, nor found by trying every
number without it.
"""

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlencode

import phonenumbers
from django.conf import settings
from django.db.models import Q
from django.utils.crypto import salted_hmac

from recordings.browsing.search import NATIONAL_DIGITS, matching_number, number_digits_query
from recordings.models import ERASED_NUMBER_PREFIX

HASH_PREFIX = ERASED_NUMBER_PREFIX
HASH_SALT = "recordings.requests.number"
# What may stand between two digits of a number written in text or in a URL: "+91 (98765)  43210",
# "98450-12345", "98450+12345" and "%2B91%2098450%2012345" (a query string's space and plus).
SEPARATORS = r"(?:[\s().+/-]|%(?:20|2[bB]|28|29|2[dD]|2[fF])){0,8}"
# Wider, as a regular expression both PostgreSQL and SQLite (Python's re) read, to find candidate rows.
DB_SEPARATORS = r"([^0-9]|%[0-9A-Fa-f][0-9A-Fa-f]){0,8}"
# An international prefix and country code right before a match: "+1 ", "001-", "%2B1+".
OTHER_COUNTRY = re.compile(rf"(?:\+|%2[bB]|\b00)\d{{1,3}}{SEPARATORS}$")


class NotANumber(ValueError):
    """The text is no phone number; the message says so, for the form."""


def parse_number(text: str) -> str:
    """The number in E.164 ("+919876543210"), from any way it is written; without a country code it
    is read as one of PHONE_REGION's."""
    try:
        number = phonenumbers.parse(text, settings.PHONE_REGION)
    except phonenumbers.NumberParseException:
        raise NotANumber(f"{text!r} is not a phone number.") from None
    if not phonenumbers.is_possible_number(number):
        raise NotANumber(f"{text!r} is not a possible phone number: check its digits and country code.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def stored_e164(written: str) -> str | None:
    """The number a recording's from/to field holds, in E.164, or None when it is no number. Digits
    after "+" or "00", or more than a national number has, carry their country code ("919845012345"
    is +91…, "19845012345" is +1…); fewer are a number of PHONE_REGION."""
    digits = re.sub(r"\D", "", written)
    if not digits:
        return None
    if written.lstrip().startswith("+"):
        text = "+" + digits
    elif digits.startswith("00"):
        text = "+" + digits[2:]
    elif len(digits) > NATIONAL_DIGITS and not digits.startswith("0"):
        text = "+" + digits
    else:
        text = digits
    try:
        return parse_number(text)
    except NotANumber:
        return None


def stored_forms(e164: str) -> list[str]:
    """The reversed digits (as a recording's from/to_digits_reversed keep them) of every way a from/to
    field holds this very number: its national digits, after a trunk "0", its country code or "00"
    and its country code, as far as stored_e164 reads each as this number."""
    parsed = phonenumbers.parse(e164)
    national, country = phonenumbers.national_significant_number(parsed), str(parsed.country_code)
    forms = {national, "0" + national, country + national, "00" + country + national}
    return sorted(form[::-1] for form in forms if stored_e164(form) == e164)


def keyed_hash(e164: str) -> str:
    """ "dsr:" and 40 hex digits (160 bits): short enough for the number columns it replaces."""
    return HASH_PREFIX + salted_hmac(HASH_SALT, e164, algorithm="sha256").hexdigest()[:40]


def matching(e164: str) -> Q:
    """Recordings with the number's national digits as caller or callee, as the table's number search
    finds them: the same number, and any other country's with the same digits (see stored_e164)."""
    return matching_number("from", e164) | matching_number("to", e164)


@dataclass(frozen=True)
class Redactor:
    """Replaces the number, however it is written, by its keyed hash in text and JSON."""

    e164: str
    replacement: str

    @classmethod
    def of(cls, e164: str) -> "Redactor":
        return cls(e164=e164, replacement=keyed_hash(e164))

    @property
    def digits(self) -> str:
        """The national digits that every written form of the number ends with."""
        return number_digits_query(self.e164)[::-1]

    @cached_property
    def written(self) -> "re.Pattern[str]":
        """The number in text however written: its national digits with any separators between them,
        after its country code ("+91", "0091", "%2B91") or a trunk "0", and no digit on either side."""
        parsed = phonenumbers.parse(self.e164)
        national = SEPARATORS.join(phonenumbers.national_significant_number(parsed))
        country = SEPARATORS.join(str(parsed.country_code))
        prefix = rf"(?:(?:(?:\+|%2[bB]|00){SEPARATORS})?{country}{SEPARATORS}|0{SEPARATORS})?"
        return re.compile(rf"(?<!\d){prefix}{national}(?!\d)")

    def replace(self, found: "re.Match[str]") -> str:
        # The same national digits after another country's code ("+1 984 501 2345") are another number.
        # (A match takes its own country code in, so a code right before it is another's.)
        if OTHER_COUNTRY.search(found.string, 0, found.start()):
            return found[0]
        return self.replacement

    @property
    def loose_pattern(self) -> str:
        """A database regular expression matching every text `written` matches, and a few more."""
        return DB_SEPARATORS.join(self.digits)

    def is_the_number(self, written: str) -> bool:
        """Whether a from/to field holds the number itself, not another country's with its digits."""
        return re.sub(r"\D", "", written)[::-1] in stored_forms(self.e164)

    def text(self, value: str) -> str:
        if not value:
            return value
        return self.written.sub(self.replace, value)

    def query(self, value: str) -> str:
        """A query string with the number in none of its values, however they are encoded (even
        "%39%38…"): as text first, then, if its decoded form still shows the number, value by value,
        decoded and encoded again."""
        value = self.text(value)
        if not self.written.search(unquote_plus(value)):
            return value
        pairs = parse_qsl(value.lstrip("?"), keep_blank_values=True)
        redacted = [(name, self.text(item)) for name, item in pairs]
        return urlencode(redacted) if redacted != pairs else value

    def json(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.query(value) if "=" in value and " " not in value else self.text(value)
        if isinstance(value, list):
            return [self.json(item) for item in value]
        if isinstance(value, dict):
            return {key: self.json(item) for key, item in value.items()}
        return value
