"""Turns a recording object from Vobiz, in any of its documented shapes, into model fields.

Vobiz documents three shapes (see vobiz-api.md) and types its fields loosely: decimals in strings,
null or "", timestamps with a space or a "T". An object without a usable id is refused with a
reason; any other field that cannot be read, the time included, is stored as empty rather than
losing the recording (the sync first tries to complete objects in the older shapes by retrieving
them).
"""

import hashlib
import json
import math
import re
from collections.abc import Iterable
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, overload

import orjson

from recordings.models import Recording
from vobiz.client import is_safe_id

BIGINT_MAX = 2**63 - 1
INT_MAX = 2**31 - 1
MONEY_LIMIT = Decimal(10) ** 10  # what DecimalField(max_digits=16, decimal_places=6) holds
MICROS = Decimal("0.000001")
EXPONENT_BELOW = 1e-4  # floats under it (but 0) are written with an exponent: see writes_alike
NON_DIGITS = re.compile(r"\D")
SURROGATE = re.compile("[\ud800-\udfff]")

# Model field -> where each documented shape keeps it, first match wins.
TEXT_SOURCES = {
    "call_uuid": ("call_uuid", "call_id"),
    "recording_type": ("recording_type",),
    "recording_format": ("recording_format", "file_format", "format"),
    "recording_url": ("recording_url", "url", "download_path"),
    "from_number": ("from_number",),
    "to_number": ("to_number",),
    "conference_name": ("conference_name",),
    "resource_uri": ("resource_uri",),
}
MILLISECOND_FIELDS = ("recording_duration_ms", "recording_start_ms", "recording_end_ms")
WHOLE_NUMBER_FIELDS = ("rounded_recording_duration", "recording_storage_duration")
MONEY_FIELDS = ("recording_storage_rate", "monthly_recording_storage_amount")


class UnusableRecording(ValueError):
    """The object cannot be stored; the message says why."""


# Keys of the main shape that the older shapes lack: an object without them is completed by
# retrieving it by id.
MAIN_SHAPE_KEYS = ("add_time", "call_uuid")
# Part of the response, not of the recording: new on every answer.
RESPONSE_KEYS = ("api_id",)


def needs_completion(obj: Any) -> bool:
    """Whether an object is in one of the older, shorter shapes (or lacks the main shape's keys)."""
    return isinstance(obj, dict) and "recording_id" in obj and any(key not in obj for key in MAIN_SHAPE_KEYS)


def is_incomplete(fields: dict[str, Any]) -> bool:
    """Whether normalised fields lack what the table needs to place a recording: its time or call."""
    return fields["add_time"] is None or needs_completion(fields["raw"])


def listed_add_time(obj: Any) -> datetime | None:
    """The add_time of an object as listed, or None if it has none that reads."""
    if not isinstance(obj, dict):
        return None
    try:
        return timestamp(first_present(obj, ("add_time", "created_at")))
    except (UnusableRecording, TypeError, ValueError):
        return None


def normalise(obj: Any) -> dict[str, Any]:
    """Model field values for one API object, or `UnusableRecording`."""
    if not isinstance(obj, dict):
        raise UnusableRecording(f"not an object but {type(obj).__name__}")
    if any(key in obj for key in RESPONSE_KEYS):
        obj = {key: value for key, value in obj.items() if key not in RESPONSE_KEYS}
    encoded = canonical_json(obj, checked=True) if is_plain(obj) else None
    raw = obj
    # Rare: clean, and hash what is stored. json.dumps writes NUL as \u0000 and a lone surrogate
    # as \udxxx (characters past U+FFFF too, as pairs: cleaned, they are the same).
    if encoded is None or b"\\u0000" in encoded or b"\\ud" in encoded:
        raw = without_nul(obj)
        encoded = canonical_json(raw)

    recording_id = obj.get("recording_id")  # as sent: an id with NUL in it is refused, not another id
    if isinstance(recording_id, bool) or not isinstance(recording_id, (str, int)):
        raise UnusableRecording("recording_id is missing or not a string")
    recording_id = str(recording_id).strip(" ")  # other white space is a control character: refused
    if not recording_id:
        raise UnusableRecording("recording_id is empty")
    if len(recording_id) > FIELD_LENGTHS["recording_id"]:
        raise UnusableRecording("recording_id is too long")
    if not is_path_safe(recording_id):
        raise UnusableRecording("recording_id has a slash, a backslash, a control character or a leading dot")
    if has_surrogate(recording_id):
        raise UnusableRecording("recording_id is not valid Unicode (a lone surrogate)")

    fields: dict[str, Any] = {"recording_id": recording_id, "raw": raw, "content_hash": md5(encoded)}
    for name, sources, length in TEXT_FIELDS:
        value = as_text(first_present(raw, sources))
        if len(value) > length:
            raise UnusableRecording(f"{name} is longer than {length} characters")
        fields[name] = value
    sent_call_uuid = str(first_present(obj, TEXT_SOURCES["call_uuid"]) or "").strip(" ")  # before NUL is dropped
    if sent_call_uuid and (not is_path_safe(sent_call_uuid) or has_surrogate(sent_call_uuid)):
        fields["call_uuid"] = ""  # it names a page and a request: an id no URL can hold is no call id

    try:
        fields["add_time"] = timestamp(first_present(raw, ("add_time", "created_at")))
    except UnusableRecording:
        fields["add_time"] = None  # stored and counted as incomplete: findable by its id

    for name in MILLISECOND_FIELDS:
        fields[name] = whole_number(raw.get(name), BIGINT_MAX)
    if fields["recording_duration_ms"] is None:
        seconds = as_decimal(raw.get("duration"))  # the older shapes give seconds
        fields["recording_duration_ms"] = whole_number(seconds * 1000 if seconds is not None else None, BIGINT_MAX)
    for name in WHOLE_NUMBER_FIELDS:
        fields[name] = whole_number(raw.get(name), INT_MAX)
    for name in MONEY_FIELDS:
        money = as_decimal(raw.get(name))
        fields[name] = money.quantize(MICROS) if money is not None and abs(money) < MONEY_LIMIT else None

    fields["from_digits_reversed"] = reversed_digits(fields["from_number"])
    fields["to_digits_reversed"] = reversed_digits(fields["to_number"])
    return fields


def is_plain(obj: dict[str, Any]) -> bool:
    """Whether every value is text, a whole number, a finite float or null, and no float is one
    orjson writes otherwise than the standard library (see `canonical_json`): then the object
    encodes as it is, with nothing to clean but NUL characters (which the encoding shows)."""
    for value in obj.values():
        kind = type(value)
        if kind is float:
            if not math.isfinite(value) or 0 < abs(value) < EXPONENT_BELOW:
                return False
        elif kind is not str and kind is not int and value is not None:
            return False
    return True


def writes_alike(value: Any) -> bool:
    """Whether orjson encodes `value` as the standard library does, non-ASCII text aside (which
    `canonical_json` sees in orjson's output): no float under 1e-4 (orjson writes 2.5e-7 and
    0.00001 where the standard library writes 2.5e-07 and 1e-05), no key that is not text."""
    if type(value) is float:
        return not 0 < abs(value) < EXPONENT_BELOW
    if isinstance(value, dict):
        return all(type(key) is str and writes_alike(item) for key, item in value.items())
    if isinstance(value, list):
        return all(writes_alike(item) for item in value)
    return True


def is_path_safe(identifier: str) -> bool:
    """Ids are data, never paths, though they are path segments (/recordings/<id>/ here, and
    Vobiz's API): no slash or backslash, no control character, no leading dot (so no "." or "..").
    The Vobiz client checks the same again before it builds a request."""
    return is_safe_id(identifier)


def first_present(obj: dict[str, Any], keys: Iterable[str]) -> Any:
    for key in keys:
        if obj.get(key) not in (None, ""):
            return obj[key]
    return None


def as_text(value: Any) -> str:
    if value is None or isinstance(value, (dict, list, bool)):
        return ""
    return str(value).strip()


def as_decimal(value: Any) -> Decimal | None:
    if type(value) is int:  # most numbers: no text to read
        number = Decimal(value)
    elif value is None or value == "" or isinstance(value, (bool, dict, list)):
        return None
    else:
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            return None
    # Nothing we store comes near 10^30; refusing such values keeps later arithmetic safe.
    return number if number.is_finite() and number.adjusted() < 30 else None


def whole_number(value: Any, limit: int) -> int | None:
    """A whole number, rounded half up, from a number as Vobiz sends it or a Decimal; None if it
    does not read or is past `limit`."""
    if type(value) is int:  # no rounding to do
        return value if abs(value) <= limit else None
    number = value if isinstance(value, Decimal) else as_decimal(value)
    if number is None or abs(number) > limit:
        return None
    return int(number.to_integral_value(rounding=ROUND_HALF_UP))


def timestamp(value: Any) -> datetime:
    if value is None:
        raise UnusableRecording("add_time is missing")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        seconds = value / 1000 if value > 1e11 else value  # epoch seconds or milliseconds
        try:
            return datetime.fromtimestamp(seconds, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            raise UnusableRecording(f"add_time is out of range: {value!r}") from None
    if not isinstance(value, str):
        raise UnusableRecording(f"add_time is not a timestamp: {type(value).__name__}")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise UnusableRecording(f"add_time is not a timestamp: {value[:40]!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)  # Vobiz's naive times are UTC
    return parsed


def reversed_digits(number: str) -> str:
    return NON_DIGITS.sub("", number)[::-1][: FIELD_LENGTHS["from_digits_reversed"]]


def canonical_json(raw: Any, *, checked: bool = False) -> bytes:
    """The object's JSON, keys sorted, for its hash: byte for byte what the standard library's
    json.dumps(sort_keys=True, separators=(",", ":")) writes, so that no stored row's hash changes
    with the encoder. orjson writes it in a fifth of the time when the output is ASCII (the
    standard library escapes the rest, DEL included) and `writes_alike` holds (`checked`: the
    caller has seen it hold); otherwise, and for integers past 64 bits, the standard library
    writes it. Callers clean NaN and Infinity first (`without_nul`), which JSON columns refuse."""
    if checked or writes_alike(raw):
        try:
            encoded = orjson.dumps(raw, default=str, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:  # an integer past 64 bits
            pass
        else:
            if encoded.isascii() and b"\x7f" not in encoded:
                return encoded
    return json.dumps(raw, sort_keys=True, separators=(",", ":"), default=str, allow_nan=False).encode()


def has_surrogate(text: str) -> bool:
    """Whether text holds a lone surrogate, which JSON's \\ud800 escape gives and UTF-8 cannot hold."""
    return not text.isascii() and SURROGATE.search(text) is not None


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def content_hash(raw: Any) -> str:
    return md5(canonical_json(without_nul(raw)))


@overload
def without_nul(value: str) -> str: ...


@overload
def without_nul(value: Any) -> Any: ...


def without_nul(value: Any) -> Any:
    """Databases refuse NUL characters (PostgreSQL) and lone surrogates (no UTF-8 holds them) in
    text and JSON: NUL is dropped wherever it is, a lone surrogate replaced by U+FFFD."""
    if isinstance(value, str):
        value = value.replace("\x00", "")
        return SURROGATE.sub("\ufffd", value) if has_surrogate(value) else value
    if isinstance(value, dict):
        return {without_nul(str(k)): without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_nul(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None  # NaN/Infinity are not JSON
    return value


FIELD_LENGTHS: dict[str, int] = {f.name: f.max_length for f in Recording._meta.concrete_fields if f.max_length}
TEXT_FIELDS = [(name, sources, FIELD_LENGTHS[name]) for name, sources in TEXT_SOURCES.items()]


def field_length(name: str) -> int:
    return FIELD_LENGTHS[name]
