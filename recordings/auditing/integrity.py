"""Whether the audit log is as it was written: a walk of its hash chain (recordings/audit_trail.py).

The walk reads the events in chain order a batch at a time (memory stays flat however long the
log), recomputes each hash, and stops at the first event that does not fit: one edited, removed or
moved. An event whose personal fields were replaced is a redaction only when a later redaction
event in the chain names it; otherwise it was tampered with. The outcome is kept (AuditCheck, shown
on /audit/) and the head logged, so that a copy of it can be kept outside the database.
"""

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from django.utils import timezone

from recordings.audit_trail import GENESIS, HEAD, PERSONAL_FIELDS, event_hash, personal_hashes, seal_pending
from recordings.models import AuditChainHead, AuditCheck, AuditEvent

logger = logging.getLogger(__name__)

BATCH = 5000


class Row(NamedTuple):
    """An event's chained columns; the personal fields last, in PERSONAL_FIELDS' order."""

    pk: int
    seq: int
    at: datetime
    action: str
    recording_id: int | None
    redacts: list[int]
    salt: str
    kept_hashes: dict[str, str]
    hash: str
    username: str
    call_uuid: str
    ip_address: str | None
    user_agent: str
    note: str


COLUMNS = Row._fields


@dataclass(frozen=True)
class Link:
    seq: int
    at: datetime
    hash: str


@dataclass(frozen=True)
class Verification:
    events: int  # walked
    redacted: int  # of them, each named by a redaction
    head: Link | None  # the last event that verified
    broken_seq: int | None = None  # where the chain breaks, if it does
    problem: str = ""

    @property
    def ok(self) -> bool:
        return not self.problem


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
    previous, expected, walked, head = GENESIS, 1, 0, None
    unnamed: dict[int, int] = {}  # redacted events no redaction has named yet: seq → id
    redacted = 0
    for row in chain_rows(kept.seq if kept else None):
        pk, seq = row.pk, row.seq
        if seq != expected:
            return Verification(walked, redacted, head, expected, f"events {gap(expected, seq)} are missing: deleted")
        values: dict[str, str | None] = {name: getattr(row, name) for name in PERSONAL_FIELDS}
        computed = event_hash(
            previous,
            seq=seq,
            at=row.at,
            action=row.action,
            recording_id=row.recording_id,
            redacts=row.redacts,
            personal=personal_hashes(row.salt, row.kept_hashes, values),
        )
        if computed != row.hash:
            problem = f"event {pk} (seq {seq}) does not match its hash: edited, moved, or its hash changed"
            return Verification(walked, redacted, head, seq, problem)
        if not row.salt:
            unnamed[seq] = pk
            redacted += 1
        for named in row.redacts:
            unnamed.pop(named, None)
        previous, expected, walked, head = row.hash, seq + 1, walked + 1, Link(seq, row.at, row.hash)
    if unnamed and kept is not None:  # redacted during the walk: named by a redaction sealed since
        later = AuditEvent.objects.filter(seq__gt=kept.seq, action=AuditEvent.Action.REDACT)
        for redacts in later.values_list("redacts", flat=True).iterator():
            for named in redacts:
                unnamed.pop(named, None)
    if unnamed:
        seq = min(unnamed)
        problem = (
            f"event {unnamed[seq]} (seq {seq}) was changed: its personal fields were replaced, "
            "and no redaction names it"
        )
        return Verification(walked, redacted - len(unnamed), head, seq, problem)
    if kept is not None and kept.seq > walked:
        return Verification(
            walked, redacted, head, walked + 1, f"events {gap(walked + 1, kept.seq + 1)} are missing: deleted"
        )
    if kept is not None and (kept.seq, kept.hash) != (walked, previous):
        return Verification(walked, redacted, head, kept.seq, "the chain's kept head does not match its last event")
    return Verification(walked, redacted, head)


def gap(first: int, after_last: int) -> str:
    """Seqs first … after_last - 1, in words."""
    return f"from seq {first} to {after_last - 1}" if after_last - 1 > first else f"at seq {first}"


def check_audit_log() -> AuditCheck:
    """Seal what is pending, verify the chain, keep the outcome, and log it: the head, to be kept
    outside the database, or the break."""
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
