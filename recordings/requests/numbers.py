"""A person's number: read in any form, matched as the recordings table matches it, and replaced by
a keyed hash wherever it is erased.

The hash is an HMAC of the number in E.164 under a key derived from SECRET_KEY, so the same number
always gives the same hash (a later request finds the earlier one and the recordings it erased),
while the hash cannot be turned back into the number without the key, nor found by trying every
number without it.
"""

import re
from dataclasses import dataclass
from typing import Any

import phonenumbers
from django.conf import settings
from django.db.models import Q
from django.utils.crypto import salted_hmac

from recordings.browsing.search import matching_number, number_digits_query

HASH_PREFIX = "dsr:"
HASH_SALT = "recordings.requests.number"
# A run of digits as numbers are written in text: "+91 98765 43210", "(080) 1234-5678", "919876543210".
PHONE_RUN = re.compile(r"\+?\d(?:[\s().-]?\d){5,}")


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


def keyed_hash(e164: str) -> str:
    """ "dsr:" and 40 hex digits (160 bits): short enough for the number columns it replaces."""
    return HASH_PREFIX + salted_hmac(HASH_SALT, e164, algorithm="sha256").hexdigest()[:40]


def matching(e164: str) -> Q:
    """Recordings with the number as caller or callee, as the table's number search finds them."""
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

    def is_the_number(self, written: str) -> bool:
        return bool(self.digits) and re.sub(r"\D", "", written).endswith(self.digits)

    def text(self, value: str) -> str:
        if not value:
            return value
        return PHONE_RUN.sub(lambda run: self.replacement if self.is_the_number(run[0]) else run[0], value)

    def json(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.json(item) for item in value]
        if isinstance(value, dict):
            return {key: self.json(item) for key, item in value.items()}
        return value
