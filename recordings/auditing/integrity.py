"""Whether the audit log is as it was written: a walk of its hash chain (recordings/audit_trail.py).

The walk reads the events in chain order a batch at a time (memory stays flat however long the
log), checks each one's HMAC and recomputes its hash, and lists every event that does not fit (one
edited, removed, moved, inserted or backdated), up to MAX_BREAKS, going on past each. An event whose
personal fields were replaced is a redaction only when a later redaction event in the chain names
it and its fields are still what that redaction left; otherwise it was tampered with. The walk also
compares with the head the last successful check kept, so that removing the newest events and
rewinding the head shows, and names the events the sealer refused for their HMAC. The outcome is
kept (AuditCheck, shown on /audit/) and the head logged, so that a copy of it can be kept outside
the database.
"""

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from django.db.models import Count, Min
from django.utils import timezone

from recordings.audit_trail import (
    GENESIS,
    HEAD,
    content_of,
    event_hash,
    mac_holds,
    seal_pending,
    values_digest,
)
from recordings.models import AuditChainHead, AuditCheck, AuditEvent

logger = logging.getLogger(__name__)

BATCH = 5000
MAX_BREAKS = 20  # listed; the rest are counted
# An event may be sealed after one written a little later by another machine (whose clock differs,
# or whose transaction committed later); one earlier than the event before it by more is backdated.
CLOCK_TOLERANCE = timedelta(minutes=5)


class Row(NamedTuple):
    """An event's chained columns; the personal fields last, in PERSONAL_FIELDS' order."""

    pk: int
    seq: int
    at: datetime
    action: str
    recording_ref: str
    redacts: list[int]
    redacted_to: dict[str, str]
    salt: str
    kept_hashes: dict[str, str]
    mac: str
    hash: str
    username: str
    call_uuid: str
    ip_address: str | None
    user_agent: str
    note: str
    linked_ref: str | None  # the Vobiz id of the recording the event links to


COLUMNS = [*Row._fields[:-1], "recording__recording_id"]


@dataclass(frozen=True)
class Link:
    seq: int
    at: datetime
    hash: str


@dataclass(frozen=True)
class Break:
    seq: int | None  # None: an event the sealer refused, which has no place in the chain
    problem: str


@dataclass
class Verification:
    events: int  # walked
    redacted: int  # of them, each named by a redaction
    head: Link | None  # the last event verified: before the first break
    breaks: list[Break] = field(default_factory=list)
    unlisted: int = 0  # breaks beyond MAX_BREAKS

    @property
    def ok(self) -> bool:
        return not self.breaks

    @property
    def broken_seq(self) -> int | None:
        return next((found.seq for found in self.breaks if found.seq is not None), None)

    @property
    def problem(self) -> str:
        listed = "; ".join(found.problem for found in self.breaks)
        return f"{listed}; and {self.unlisted} more" if self.unlisted else listed

    def add(self, seq: int | None, problem: str) -> None:
        if len(self.breaks) < MAX_BREAKS:
            self.breaks.append(Break(seq, problem))
        else:
            self.unlisted += 1


def chain_rows(upto: int | None) -> Iterator[Row]:
    """Every sealed event's chained columns up to seq `upto` (all with None), in chain order, BATCH at
    a time (keyset on the seq index)."""
    after = 0
    chained = AuditEvent.objects.filter(seq__lte=upto) if upto is not None else AuditEvent.objects.all()
    while True:
        events = chained.filter(seq__gt=after).order_by("seq").values_list(*COLUMNS)[:BATCH]
        rows = [Row._make(values) for values in events]
        yield from rows
        if len(rows) < BATCH:
            return
        after = rows[-1].seq


def verify_chain() -> Verification:
    """Walk the chain as far as its kept head was when the walk began (events sealed meanwhile are
    for the next walk)."""
    kept = AuditChainHead.objects.filter(pk=HEAD).first()
    result = Verification(0, 0, None)
    previous, expected, previous_at = GENESIS, 1, None
    redacted: dict[int, tuple[int, str]] = {}  # redacted events: seq → (id, their fields' hash now)
    left: dict[int, str] = {}  # what the latest redaction naming each seq left there
    for row in chain_rows(kept.seq if kept else None):
        pk, seq = row.pk, row.seq
        after_gap = seq != expected
        if after_gap:
            result.add(expected, f"events {gap(expected, seq)} are missing: deleted")
        if not mac_holds(row, row.mac):
            result.add(seq, f"event {pk} (seq {seq}) does not match its HMAC: forged, or edited")
        elif not after_gap and event_hash(previous, seq=seq, content=content_of(row), mac=row.mac) != row.hash:
            result.add(seq, f"event {pk} (seq {seq}) does not match its hash: edited, moved, or its hash changed")
        elif row.action == AuditEvent.Action.REDACT:  # only a genuine redaction event names redactions
            left.update((int(named), digest) for named, digest in row.redacted_to.items())
        if previous_at is not None and row.at < previous_at - CLOCK_TOLERANCE:
            result.add(seq, f"event {pk} (seq {seq}) is dated {row.at.isoformat()}, before the event it follows")
        if row.linked_ref is not None and row.linked_ref != row.recording_ref:
            result.add(
                seq, f"event {pk} (seq {seq}) links to recording {row.linked_ref}, not the {row.recording_ref} it names"
            )
        if not row.salt:
            redacted[seq] = (pk, values_digest(row))
        previous, expected, previous_at = row.hash, seq + 1, row.at
        result.events += 1
        if result.ok:  # the head is the last event before the first break
            result.head = Link(seq, row.at, row.hash)
    if redacted and kept is not None:  # redacted during the walk: named by a redaction sealed since
        later = AuditEvent.objects.filter(seq__gt=kept.seq, action=AuditEvent.Action.REDACT).order_by("seq")
        for event in later.iterator():
            if mac_holds(event, event.mac):
                left.update((int(named), digest) for named, digest in event.redacted_to.items())
    for seq, (pk, digest) in sorted(redacted.items()):
        if seq not in left:
            result.add(
                seq, f"event {pk} (seq {seq}) was changed: its personal fields were replaced, and no redaction names it"
            )
        elif left[seq] != digest:
            result.add(seq, f"event {pk} (seq {seq}) was changed after its redaction")
        else:
            result.redacted += 1
    check_head(result, kept, walked_to=expected - 1, last_hash=previous)
    check_refused(result)
    return result


def check_head(result: Verification, kept: AuditChainHead | None, *, walked_to: int, last_hash: str) -> None:
    """The head must be there once anything is sealed, match the last event, and not be behind the
    head the last successful check saw, whose event must still be the one it saw."""
    if kept is None:
        if result.events:
            result.add(walked_to + 1, "the chain's head row is missing: the latest events may have been deleted")
    elif kept.seq > walked_to:
        result.add(walked_to + 1, f"events {gap(walked_to + 1, kept.seq + 1)} are missing: deleted")
    elif (kept.seq, kept.hash) != (walked_to, last_hash):
        result.add(kept.seq, "the chain's kept head does not match its last event")
    last_ok = AuditCheck.objects.filter(ok=True, head_seq__isnull=False).first()
    if last_ok is not None and last_ok.head_seq is not None:
        seen = AuditEvent.objects.filter(seq=last_ok.head_seq).values_list("hash", flat=True).first()
        if seen != last_ok.head_hash:
            verified = timezone.localtime(last_ok.checked_at).isoformat(timespec="minutes")
            result.add(
                last_ok.head_seq,
                f"the event at seq {last_ok.head_seq}, the head verified on {verified}, is gone or changed: "
                "the latest events were deleted or the chain rebuilt",
            )


def check_refused(result: Verification) -> None:
    """Name the events left unsealed because their HMAC does not hold: written straight to the database."""
    for event in AuditEvent.objects.filter(seq__isnull=True).order_by("pk").iterator():
        if not mac_holds(event, event.mac):
            result.add(None, f"event {event.pk} was inserted without a valid HMAC: forged, never sealed")


def gap(first: int, after_last: int) -> str:
    """Seqs first … after_last - 1, in words."""
    return f"from seq {first} to {after_last - 1}" if after_last - 1 > first else f"at seq {first}"


def check_audit_log() -> AuditCheck:
    """Seal what is pending, verify the chain, keep the outcome, and log it: the head, to be kept
    outside the database, or the breaks."""
    seal_pending()
    result = verify_chain()
    head = result.head
    check = AuditCheck.objects.create(
        checked_at=timezone.now(),
        ok=result.ok,
        events=result.events,
        redacted=result.redacted,
        head_seq=head.seq if head else None,
        head_at=head.at if head else None,
        head_hash=head.hash if head else "",
        broken_seq=result.broken_seq,
        problem=result.problem,
    )
    if result.ok:
        logger.info(
            "audit log verified: %d events (%d redacted); head seq %s at %s, hash %s",
            result.events,
            result.redacted,
            check.head_seq,
            head.at.isoformat() if head else "-",
            check.head_hash or GENESIS,
        )
    else:
        logger.error("audit log broken at seq %s: %s", result.broken_seq, result.problem)
    return check


def latest_check() -> AuditCheck | None:
    return AuditCheck.objects.first()


@dataclass(frozen=True)
class Unsealed:
    """The events not in the chain yet: waiting for the next seal, or refused by it (verify_audit names those)."""

    count: int
    oldest: datetime | None


def unsealed_events() -> Unsealed:
    found = AuditEvent.objects.filter(seq__isnull=True).aggregate(count=Count("pk"), oldest=Min("at"))
    return Unsealed(found["count"], found["oldest"])
