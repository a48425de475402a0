"""Vobiz's callbacks: their signatures, their nonces and their fields.

Vobiz signs the URL it called and a nonce, not the body (see docs.vobiz.ai/concepts/validating-
callbacks): V2 is base64(HMAC-SHA256(token, url + nonce)), V3 the same over url + "." + nonce, and
the MA- variants are keyed with the parent account's token. So a valid signature proves Vobiz sent
the callback, never what its fields say: a recording callback only names the recording to fetch
from the API, and a nonce is accepted once, ever (a digest of each is kept).
"""

import base64
import hashlib
import hmac
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import parse_qsl

from django.conf import settings
from django.db import connection

from recordings.models import CallbackNonce
from recordings.sync.normalise import as_decimal, field_length, is_path_safe, without_nul

logger = logging.getLogger(__name__)

# (signature header, nonce header, version, keyed with the parent account's token?)
SIGNATURES = (
    ("X-Vobiz-Signature-V3", "X-Vobiz-Signature-V3-Nonce", "v3", False),
    ("X-Vobiz-Signature-V2", "X-Vobiz-Signature-V2-Nonce", "v2", False),
    ("X-Vobiz-Signature-MA-V3", "X-Vobiz-Signature-V3-Nonce", "v3", True),
    ("X-Vobiz-Signature-MA-V2", "X-Vobiz-Signature-V2-Nonce", "v2", True),
)
MAX_NONCE_LENGTH = 64  # Vobiz's are 20 digits
MAX_SIGNATURE_LENGTH = 200  # a base64 SHA-256 is 44 characters
MAX_BODY_BYTES = 1024 * 1024  # a four-hour call's transcript is a few hundred kilobytes


class CallbackRefused(Exception):
    """A callback that is not Vobiz's, or one it sent before. `reason` is for the log only."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CallbackInvalid(Exception):
    """A signed callback whose body cannot be used; the message is for the answer and the log."""


class CallbackTooLarge(CallbackInvalid):
    pass


MAX_FIELDS = 200  # Vobiz's callbacks have about twenty


def form_fields(body: bytes) -> dict[str, str]:
    """The fields of a form-encoded body, each name's last value; CallbackInvalid if it is not one."""
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict", max_num_fields=MAX_FIELDS)
    except UnicodeDecodeError:
        raise CallbackInvalid("the body is not form-encoded UTF-8 text") from None
    except ValueError:
        raise CallbackTooLarge(f"more than {MAX_FIELDS} fields") from None
    return dict(pairs)


def sign(token: str, url: str, nonce: str, version: str = "v3") -> str:
    """The signature Vobiz sends for `url` and `nonce` (the fake Vobiz signs with a copy of its own in
    vobiz/fake/callbacks.py, kept apart from the app, so the tests hold one against the other)."""
    separator = "." if version == "v3" else ""
    digest = hmac.new(token.encode(), f"{url}{separator}{nonce}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def signed_url(path: str) -> str:
    """The URL Vobiz called and signed: the public base URL and the path, without a query."""
    return settings.DASHBOARD_PUBLIC_URL + path


def verified_nonces(headers: Mapping[str, str], path: str) -> list[str]:
    """The nonces of every valid signature in `headers` for `path`; CallbackRefused if none is.

    Every valid one is returned so that all are spent: a replay must not get in with another
    version's header of the same callback.
    """
    if not settings.DASHBOARD_PUBLIC_URL:
        raise CallbackRefused("DASHBOARD_PUBLIC_URL is not set, so no signature can be checked")
    tokens = {False: settings.VOBIZ_AUTH_TOKEN, True: settings.VOBIZ_PARENT_AUTH_TOKEN}
    if not tokens[False] and not tokens[True]:
        raise CallbackRefused("VOBIZ_AUTH_TOKEN is not set, so no signature can be checked")
    url = signed_url(path)
    present: list[str] = []
    nonces: set[str] = set()
    for signature_header, nonce_header, version, parent in SIGNATURES:
        signature = headers.get(signature_header, "")
        nonce = headers.get(nonce_header, "")
        if not signature:
            continue
        present.append(signature_header)
        if not tokens[parent] or not nonce or len(nonce) > MAX_NONCE_LENGTH or len(signature) > MAX_SIGNATURE_LENGTH:
            continue
        expected = sign(tokens[parent], url, nonce, version)
        if hmac.compare_digest(expected.encode(), signature.strip().encode()):
            nonces.add(nonce)
    if not present:
        raise CallbackRefused("no X-Vobiz-Signature-V2 or -V3 header")
    if not nonces:
        raise CallbackRefused(f"no valid signature for {url} among {', '.join(present)}")
    return sorted(nonces)


def nonce_digest(nonce: str) -> int:
    """What is kept of a nonce: the first 8 bytes of its SHA-256, as a signed 64-bit integer.

    Vobiz picks the nonces, not a sender: with a hundred million kept, a new nonce matches one of
    them by chance once in about 180 billion callbacks, and is then refused as a replay."""
    return int.from_bytes(hashlib.sha256(nonce.encode()).digest()[:8], "big", signed=True)


def spend_nonces(nonces: list[str]) -> None:
    """Records the nonces as used, in the caller's transaction; CallbackRefused if one was seen.

    One statement, so that answering Vobiz costs few round trips to the database: an insert that
    skips a nonce already there, and says how many it added."""
    digests = sorted({nonce_digest(nonce) for nonce in nonces})
    table = connection.ops.quote_name(CallbackNonce._meta.db_table)
    rows = ", ".join(["(%s)"] * len(digests))
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} (digest) VALUES {rows} ON CONFLICT (digest) DO NOTHING", digests)
        added = cursor.rowcount
    if added != len(digests):
        raise CallbackRefused("nonce already used: a replayed callback")


def let_commit_lag() -> None:
    """Lets the current transaction's commit return before it is on disk (PostgreSQL's
    synchronous_commit, for this transaction only): a crash in the next fraction of a second may
    lose it, never corrupt anything. Waiting for the disk took 2 to 14 ms a commit here. For what
    the next sync brings back anyway: a recording callback's nonce and queued fetch."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


@dataclass
class RecordingCallback:
    recording_id: str
    call_uuid: str = ""


@dataclass
class TranscriptionCallback:
    recording_id: str
    call_uuid: str
    text: str
    error: str
    duration_seconds: Decimal | None
    charge: Decimal | None
    rate: Decimal | None


def first_field(fields: Mapping[str, str], *names: str) -> str:
    """The first of `names` holding more than white space, stripped of spaces only, as the sync's
    normaliser strips ids: other white space at an id's end (a tab, a NEL) is refused with it."""
    for name in names:
        value = fields.get(name, "")
        if value.strip():
            return value.strip(" ")
    return ""


def checked_id(value: str, name: str, required: bool = True) -> str:
    if not value:
        if required:
            raise CallbackInvalid(f"{name} is missing")
        return ""
    if len(value) > field_length(name) or not is_path_safe(value):
        raise CallbackInvalid(f"{name} is not an id Vobiz would send")
    return value


def recording_callback(fields: Mapping[str, str]) -> RecordingCallback:
    """The recording a callback names: the <Record> action's CamelCase fields or the Start
    Recording API's snake_case ones. The rest of the body is not trusted, so not read."""
    return RecordingCallback(
        recording_id=checked_id(first_field(fields, "RecordingID", "recording_id"), "recording_id"),
        call_uuid=checked_id(first_field(fields, "CallUUID", "call_uuid"), "call_uuid", required=False),
    )


def transcription_callback(fields: Mapping[str, str]) -> TranscriptionCallback:
    text = without_nul(fields.get("transcription", ""))  # PostgreSQL refuses NUL in text
    error = without_nul(first_field(fields, "error"))
    if not text.strip() and not error:
        raise CallbackInvalid("neither transcription nor error is given")
    return TranscriptionCallback(
        recording_id=checked_id(first_field(fields, "recording_id", "RecordingID"), "recording_id"),
        call_uuid=checked_id(first_field(fields, "call_uuid", "CallUUID"), "call_uuid", required=False),
        text=text.strip(),
        error=error[:2000],
        duration_seconds=amount(first_field(fields, "duration"), 10**8, "0.001"),
        charge=billed(fields, "transcription_charge"),
        rate=billed(fields, "transcription_rate"),
    )


def billed(fields: Mapping[str, str], name: str) -> Decimal | None:
    """A charge or rate in the billing currency. Vobiz documents no currency for transcriptions,
    so one without is taken to be in it (the spend page says so); one in another is not kept, as
    the call records' charges in another are not added up."""
    currency = first_field(fields, "currency").upper()
    if currency and currency != settings.BILLING_CURRENCY:
        return None
    return amount(first_field(fields, name), 10**10, "0.000001")


def amount(text: str, limit: int, places: str) -> Decimal | None:
    """A figure that fits its column, or None: a callback's odd number loses only itself."""
    value = as_decimal(text)
    if value is None or abs(value) >= limit:
        return None
    return value.quantize(Decimal(places))
