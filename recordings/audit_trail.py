"""The audit log: who (the user, their address and browser) did what, and when.

Every event is chained (sealed by `seal_pending`, within seconds of being written): its `hash` is
the SHA-256 of its content and of the previous event's hash, so editing, removing or reordering an
event breaks the chain from there on (recordings/auditing/integrity.py walks it). The personal
fields (PERSONAL_FIELDS) enter the content as salted hashes of their own, so that `redact_events`
can replace their values and keep their hashes, with the salt erased so that the hashes cannot be
reversed by trying every number.

Anyone who can write to the database could rebuild such a chain. So each event also carries, from
when it is written, an HMAC of its content keyed by a secret derived from SECRET_KEY, which the
database does not hold: the sealer chains only events whose HMAC holds, and verify_audit checks
every one. A redaction event's HMAC covers the hashes of the values it left, so that neither a
redaction nor a later edit of a redacted field can be made without the key."""

import hashlib
import hmac
import ipaddress
import json
import logging
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol, cast

from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.models import Field
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import salted_hmac

from recordings.models import AuditChainHead, AuditEvent, Recording

# A listen logged this recently covers the same user's later responses of that recording (seeking,
# buffering): counted from the logged event, not the latest request, so a playback longer than this
# logs again.
PLAYBACK_WINDOW = timedelta(minutes=10)
Action = AuditEvent.Action
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Actor:
    """Who does what the audit log keeps: made once per request, or from what a deletion batch kept."""

    user: User | None  # None for a batch whose requester's account is gone, or a command (verify_audio)
    ip_address: str | None
    user_agent: str

    @property
    def username(self) -> str:
        """The name the log keeps, which outlives the user account ("" with none)."""
        return self.user.get_username() if self.user else ""


def client_ip(request: HttpRequest) -> str | None:
    """The client's address as the outermost of the TRUSTED_PROXY_COUNT proxies in front saw it.

    Each proxy appends the address it was connected from to X-Forwarded-For, so the address that
    many places from the right is the outermost proxy's; whatever is left of it the client wrote
    itself. Without trusted proxies the header is ignored. (Hand-written rather than taken from
    ipware, whose default also trusts a list of other headers any client can send.)
    """
    remote = request.META.get("REMOTE_ADDR") or None
    proxies = settings.TRUSTED_PROXY_COUNT
    if not proxies:
        return remote
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    if not hops:
        return remote
    candidate = hops[-min(proxies, len(hops))]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


# The fields that can name a person (a user, their address and browser, a caller's number in a
# note or a call's id): the chain covers each one's salted hash, not its value.
PERSONAL_FIELDS = ("username", "call_uuid", "ip_address", "user_agent", "note")
CHAIN_VERSION = "audit-chain-2"  # part of every hash: a changed encoding gets a new name
MAC_PURPOSE = "recordings.audit_trail.event"  # derives the events' HMAC key from SECRET_KEY
GENESIS = "0" * 64  # the "previous hash" of the first event
HEAD = 1  # AuditChainHead's one row


class Chained(Protocol):
    """What the chain and the HMAC cover of an event: a model instance or a row read for a walk."""

    @property
    def at(self) -> datetime: ...
    @property
    def action(self) -> str: ...
    @property
    def recording_ref(self) -> str: ...
    @property
    def redacts(self) -> list[int]: ...
    @property
    def redacted_to(self) -> dict[str, str]: ...
    @property
    def salt(self) -> str: ...
    @property
    def kept_hashes(self) -> dict[str, str]: ...


def canonical_ip(value: str | None) -> str | None:
    """An address as the database gives it back (PostgreSQL's inet shortens IPv6), so that the hash
    taken when writing is the one found when reading."""
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return value


def field_hash(salt: str, name: str, value: str | None) -> str:
    return hashlib.sha256(f"{salt}\x00{name}\x00{value or ''}".encode()).hexdigest()


def personal_hashes(salt: str, kept: dict[str, str], values: Mapping[str, str | None]) -> list[str]:
    """The hashes the chain covers for the personal fields: from their values while the salt is
    there, as a redaction kept them once it is not."""
    if salt:
        return [field_hash(salt, name, values[name]) for name in PERSONAL_FIELDS]
    return [kept.get(name, "") for name in PERSONAL_FIELDS]


def personal_values(event: object) -> dict[str, str | None]:
    return {name: getattr(event, name) for name in PERSONAL_FIELDS}


def values_digest(event: object) -> str:
    """The hash of an event's personal fields as they are now: what a redaction left, which the
    redaction event's HMAC covers."""
    return hashlib.sha256(json.dumps([personal_values(event)[name] for name in PERSONAL_FIELDS]).encode()).hexdigest()


def content_of(event: Chained) -> list[object]:
    """An event's canonical content: every field, the personal ones by their salted hashes. The
    recording enters by its Vobiz id, which outlives the dashboard's row; the user's account is
    left out (deleting an account clears it; the username, which stays, is covered)."""
    at_utc = event.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    personal = personal_hashes(event.salt, event.kept_hashes, personal_values(event))
    redacted_to = dict(sorted(event.redacted_to.items()))
    return [at_utc, event.action, event.recording_ref, list(event.redacts), redacted_to, personal]


def encoded(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def event_mac(content: list[object], secret: str | None = None) -> str:
    """The HMAC of an event's content, keyed by a secret derived from SECRET_KEY (or `secret`)."""
    return salted_hmac(MAC_PURPOSE, encoded(content), secret=secret, algorithm="sha256").hexdigest()


def mac_holds(event: Chained, mac: str) -> bool:
    """Whether `mac` is the event's HMAC under SECRET_KEY or one of SECRET_KEY_FALLBACKS (a rotated key)."""
    if not mac:
        return False
    content = content_of(event)
    return any(
        hmac.compare_digest(event_mac(content, secret), mac) for secret in [None, *settings.SECRET_KEY_FALLBACKS]
    )


def event_hash(previous: str, *, seq: int, content: list[object], mac: str) -> str:
    """SHA-256 of an event's place, content and HMAC, and of the previous event's hash."""
    return hashlib.sha256(encoded([CHAIN_VERSION, previous, seq, content, mac])).hexdigest()


def hash_of(event: AuditEvent, seq: int, previous: str) -> str:
    """The hash of `event` at place `seq` after `previous`."""
    return event_hash(previous, seq=seq, content=content_of(event), mac=event.mac)


def locked_head(*, wait: bool = True) -> AuditChainHead | None:
    """The chain's head, locked until the transaction ends: one sealer at a time. None at once,
    without wait, while another holds it (on SQLite the write lock, which every transaction takes
    first, has queued them already); None too when the head row is gone while sealed events exist:
    the head shows whether the latest events were removed, so it is never rebuilt from them
    (verify_audit reports it). Only a log with no sealed event starts a head."""
    head = AuditChainHead.objects.select_for_update(skip_locked=not wait).filter(pk=HEAD).first()
    if head is None:
        if AuditChainHead.objects.filter(pk=HEAD).exists():
            return None
        if AuditEvent.objects.filter(seq__isnull=False).exists():
            logger.error("the audit chain's head row is missing: nothing is sealed until it is restored")
            return None
        AuditChainHead.objects.get_or_create(pk=HEAD, defaults={"seq": 0, "hash": GENESIS})
        head = AuditChainHead.objects.select_for_update().get(pk=HEAD)
    return head


SEAL_BATCH = 1000


def seal_pending(*, wait: bool = True) -> int:
    """Chain the events written since the last seal, in the order of their ids; how many.

    Writing an event is one INSERT, as fast as before the chain, whatever the other writers do:
    chaining it at once would hold the head's lock through every writer's commit, and so queue
    every audit write behind the slowest transaction. The scheduler seals every 2 seconds
    instead; verify_audit and redact_events seal first. Only committed events are seen, so an
    event of a transaction rolled back leaves no gap. An event whose HMAC does not hold (written
    to the database by other means than record_for) is left unsealed: verify_audit names it.
    """
    sealed, after = 0, 0
    while True:
        # A transaction a batch: on SQLite the writers wait for each, not for a whole backlog.
        with transaction.atomic():
            head = locked_head(wait=wait)
            if head is None:
                break
            batch, cursor = seal_batch(head, after=after)
        if cursor is None:
            break
        sealed, after = sealed + batch, cursor
    return sealed


def seal_under(head: AuditChainHead) -> int:
    """Seal all that is pending, the head locked by the caller's transaction."""
    sealed, after = 0, 0
    while True:
        batch, cursor = seal_batch(head, after=after)
        if cursor is None:
            return sealed
        sealed, after = sealed + batch, cursor


def seal_batch(head: AuditChainHead, *, after: int) -> tuple[int, int | None]:
    """Seal the next SEAL_BATCH pending events after id `after`: how many were sealed, and the last
    id looked at (None: nothing was left)."""
    batch = list(AuditEvent.objects.filter(seq__isnull=True, pk__gt=after).order_by("pk")[:SEAL_BATCH])
    if not batch:
        return 0, None
    chained = [event for event in batch if mac_holds(event, event.mac)]
    for event in chained:
        head.seq += 1
        event.seq = head.seq
        event.hash = head.hash = hash_of(event, head.seq, head.hash)
        head.at = event.at
    if chained:
        set_columns(chained, ["seq", "hash"])
        head.save(update_fields=["seq", "hash", "at"])
    return len(chained), batch[-1].pk


def set_columns(events: list[AuditEvent], names: list[str]) -> None:
    """UPDATE each event's `names` columns to its values, one statement run for all. (bulk_update
    builds a CASE WHEN of every row per column, in Python: some 5 ms a row, and its SQL is matched
    row by row.)"""
    fields = [cast(Field, AuditEvent._meta.get_field(name)) for name in names]  # plain fields: column = name
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(name)} = %s" for name in names)
    sql = f"UPDATE {quote(AuditEvent._meta.db_table)} SET {assignments} WHERE id = %s"
    rows = [
        [field.get_db_prep_save(getattr(event, field.name), connection) for field in fields] + [event.pk]
        for event in events
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def append(event: AuditEvent) -> AuditEvent:
    """Write `event`, now, with its salt and HMAC, for the next seal to chain."""
    event.at = timezone.now()
    event.salt = secrets.token_hex(16)
    event.mac = event_mac(content_of(event))
    event.save(force_insert=True)
    return event


def record_for(
    actor: Actor, action: str, recording: Recording | None = None, call_uuid: str = "", note: str = ""
) -> AuditEvent:
    """Add an event to the audit log: who (the user, their address and browser) did what."""
    return append(
        event_by(
            actor,
            action,
            recording=recording,
            recording_ref=recording.recording_id if recording else "",
            call_uuid=call_uuid or (recording.call_uuid if recording else ""),
            note=note,
        )
    )


def event_by(actor: Actor, action: str, **fields: object) -> AuditEvent:
    return AuditEvent(
        user=actor.user,
        username=actor.username,
        action=action,
        ip_address=canonical_ip(actor.ip_address),
        user_agent=(actor.user_agent or "").replace("\x00", "")[:300],  # PostgreSQL refuses NUL
        **fields,
    )


REDACT_BATCH = 500


def redact_events(*, event_ids: Iterable[int], redact: Callable[[str], str], actor: Actor, reason: str) -> int:
    """Apply `redact` to each personal text field of those events, keep each field's original hash so
    the chain still verifies, and log one event (new action "redact") naming the redacted events'
    ids and the reason. Returns how many events changed, those the sealer refused included. The
    redaction event keeps the hash of each redacted event's new values (`redacted_to`), covered by
    its HMAC.

    An address `redact` changes is removed (the field holds addresses only). A redacted event's
    salt is erased, so that its kept hashes cannot be matched against guesses.
    """
    ids = sorted(set(event_ids))
    changed: list[AuditEvent] = []
    refused: list[AuditEvent] = []
    with transaction.atomic():
        head = locked_head()
        if head is None:
            raise RuntimeError("the audit chain's head row is missing: restore it before redacting")
        for start in range(0, len(ids), REDACT_BATCH):
            batch = AuditEvent.objects.select_for_update().filter(pk__in=ids[start : start + REDACT_BATCH])
            # Sealed first, in the lock: a redaction names events by their place in the chain.
            if batch.filter(seq__isnull=True).exists():
                seal_under(head)
            for event in batch.order_by("seq", "pk"):
                if redact_fields(event, redact):
                    # An event the sealer refused (its HMAC does not hold) has no place in the chain
                    # to be named by; its personal data goes all the same, and verify_audit still
                    # names it as forged.
                    (changed if event.seq is not None else refused).append(event)
        if not changed and not refused:
            return 0
        set_columns([*changed, *refused], [*PERSONAL_FIELDS, "salt", "kept_hashes"])
        named = ", ".join(str(event.pk) for event in changed) or "none in the chain"
        outside = (
            f"; outside the chain, refused by the sealer: {', '.join(str(e.pk) for e in refused)}" if refused else ""
        )
        redaction = event_by(
            actor,
            Action.REDACT,
            note=f"{reason} (events {named}{outside})",
            redacts=[e.seq for e in changed],
            redacted_to={str(e.seq): values_digest(e) for e in changed},
        )
        append(redaction)
        seal_under(head)  # the redaction is in the chain as soon as it is done
    return len(changed) + len(refused)


def redact_fields(event: AuditEvent, redact: Callable[[str], str]) -> bool:
    """Redact one event's personal fields in place; whether any changed."""
    before = {name: getattr(event, name) for name in PERSONAL_FIELDS}
    after = {name: redact(value) if value else value for name, value in before.items()}
    if after["ip_address"] != before["ip_address"]:
        after["ip_address"] = None
    if after == before:
        return False
    if event.salt:
        event.kept_hashes = dict(zip(PERSONAL_FIELDS, personal_hashes(event.salt, {}, before), strict=True))
        event.salt = ""
    for name, value in after.items():
        setattr(event, name, value)
    return True


CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)", re.ASCII)
SERVED_AUDIO = (200, 206)  # a whole body or parts of it; a 416 or a HEAD serves nothing


@dataclass(frozen=True)
class ContentRange:
    """The part a 206 serves: its first and last byte, and the whole file's size (None: `*`, unknown)."""

    first: int
    last: int
    total: int | None


def parse_content_range(value: str | None) -> ContentRange | None:
    """A Content-Range header of one part (`bytes 0-999/1000`), or None when it is not one."""
    match = CONTENT_RANGE.fullmatch((value or "").strip())
    if match is None:
        return None
    return ContentRange(int(match[1]), int(match[2]), None if match[3] == "*" else int(match[3]))


def serves_first_byte(status: int, content_range: str | None) -> bool:
    """Whether a response hands out the start of the file, judged by what is served, not by what
    was asked (`bytes=-999999999` and `bytes=00-` ask for the whole file too): a whole body, or a
    part starting at byte 0. A part whose start cannot be read counts as the start."""
    if status != 206:
        return status == 200
    part = parse_content_range(content_range)
    return part is None or part.first == 0


def record_listening(
    *, actor: Actor, recording: Recording, action: str, status: int, content_range: str | None
) -> AuditEvent | None:
    """Log each response that serves audio bytes, whatever part of the file (a decoder resyncs
    from any byte), except what one listen or download already logged in PLAYBACK_WINDOW: a
    playback (its seeks and buffering) logs once unless the user played or downloaded the
    recording within the window; a download logs unless they downloaded it within the window,
    and always when it starts from the first byte, so each whole download is counted."""
    if status not in SERVED_AUDIO:
        return None
    downloading = action == Action.DOWNLOAD
    if not (downloading and serves_first_byte(status, content_range)):
        logged_by = [Action.DOWNLOAD] if downloading else list(AuditEvent.LISTENING)
        recent = AuditEvent.objects.filter(
            user=actor.user, recording=recording, action__in=logged_by, at__gte=timezone.now() - PLAYBACK_WINDOW
        )
        if recent.exists():
            return None
    return record_for(actor, action, recording)
