"""The daily run of the retention rules, queued by the scheduler at RETENTION_HOUR.

Each delete rule in effect gets one run a day: it writes deletion batches of what the rule deletes
today, oldest first, through the same deletion batches an auditor's deletion uses (holds checked
again under lock, one DELETE per recording; a batch whose worker dies is resumed by `recover`). A
run is written with its batches in one transaction, and one run a rule a day, so a run stopped half
way leaves whole batches and rules not yet run; the scheduler queues the day's run three times in
its hour, and each time the rules not yet run today run. The day's runs delete at most
RETENTION_MAX_PER_RUN recordings, shared between the rules; what is left waits for the next day.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone

from recordings.audit_trail import Action, Actor, record_for
from recordings.auditing.deletion import MAX_PER_BATCH, NothingToDelete, start_scheduled_deletion
from recordings.locks import DatabaseLock, LockHeld
from recordings.models import DeletionBatch, DeletionOutcome, Recording, RetentionRule, RetentionRun
from recordings.retention.matching import deletable, effective, held_and_kept, keeping
from recordings.retention.rules import apply_unopposed, switch

LOCK_NAME = "retention"
LOCK_TTL = timedelta(minutes=10)
# Who the audit log names for what a rule does: the rule itself, approved by auditors beforehand.
RETENTION = Actor(user=None, ip_address=None, user_agent="retention rules")


class RetentionPaused(Exception):
    pass


@dataclass
class DayOfRuns:
    runs: list[RetentionRun] = field(default_factory=list)
    batches: list[DeletionBatch] = field(default_factory=list)


def rules_in_effect() -> QuerySet[RetentionRule]:
    return RetentionRule.objects.filter(effective__action=RetentionRule.Action.DELETE).order_by("pk")


def run_due_rules() -> DayOfRuns:
    """Run every delete rule in effect that has not run today; RetentionPaused when paused or when
    another worker is running them, BrokenKeepRule when a keep rule's view is no longer valid."""
    if switch().paused:
        raise RetentionPaused("retention rules are paused")
    lock = DatabaseLock(LOCK_NAME, ttl=LOCK_TTL)
    try:
        lock.acquire()
    except LockHeld:
        raise RetentionPaused("another worker is running the retention rules") from None
    try:
        return run_rules_of_today()
    finally:
        lock.release()


def run_rules_of_today() -> DayOfRuns:
    now = timezone.now()
    apply_unopposed(now=now)
    keeping()  # a broken keep rule stops every run before any deletes
    today = timezone.localdate(now)
    day = DayOfRuns()
    budget = max(settings.RETENTION_MAX_PER_RUN - chosen_today(today), 0)
    waiting = [rule for rule in rules_in_effect() if not RetentionRun.objects.filter(rule=rule, day=today).exists()]
    for position, rule in enumerate(waiting):
        # An equal share of what is left, so that one rule's backlog cannot starve the others;
        # what a rule does not need goes on to the next.
        share = -(-budget // (len(waiting) - position))
        try:
            run = run_rule(rule, today=today, budget=share)
        except IntegrityError:  # another worker ran it for today meanwhile
            continue
        if run is not None:
            budget -= run.chosen
            day.runs.append(run)
            day.batches.extend(run.batches.all())
    return day


def next_run_at(now: datetime) -> datetime:
    """When the scheduler next queues the daily run: RETENTION_HOUR in the dashboard's zone."""
    local = timezone.localtime(now, ZoneInfo(settings.TIME_ZONE))
    run = local.replace(hour=settings.RETENTION_HOUR, minute=0, second=0, microsecond=0)
    return run if run > local else run + timedelta(days=1)


def with_outcomes(runs: QuerySet[RetentionRun]) -> QuerySet[RetentionRun]:
    """Runs with their batches, each batch counting its recordings `deleted` (or gone already) and
    `not_deleted` (failed, or put on hold since): a run's outcome, in two queries however many."""
    Status = DeletionOutcome.Status
    batches = DeletionBatch.objects.annotate(
        deleted=Count("outcomes", filter=Q(outcomes__status__in=[Status.DELETED, Status.ALREADY_GONE])),
        not_deleted=Count("outcomes", filter=Q(outcomes__status__in=[Status.FAILED, Status.HELD])),
    ).order_by("pk")
    return runs.select_related("rule").prefetch_related(Prefetch("batches", queryset=batches))


def latest_runs(*, limit: int) -> QuerySet[RetentionRun]:
    """The newest runs of every rule, with their outcomes: what /sync/ shows."""
    return with_outcomes(RetentionRun.objects.all())[:limit]


def chosen_today(today: date) -> int:
    return sum(RetentionRun.objects.filter(day=today).values_list("chosen", flat=True))


@transaction.atomic
def run_rule(rule: RetentionRule, *, today: date, budget: int) -> RetentionRun | None:
    """Today's run of `rule`, with its batches; None when it ran today already."""
    if RetentionRun.objects.filter(rule=rule, day=today).exists():
        return None
    definition = effective(rule)
    if definition is None:
        return None
    keep = keeping()
    to_delete = deletable(definition, keep=keep).order_by("add_time", "pk")
    ids = list(to_delete.values_list("pk", flat=True)[:budget])
    held, kept = held_and_kept(definition, keep=keep, limit=None)
    run = RetentionRun.objects.create(
        rule=rule,
        day=today,
        started_at=timezone.now(),
        definition=definition.as_json(),
        matched=to_delete.count(),
        held=held,
        kept=kept,
        chosen=len(ids),
    )
    reason = f"Retention rule #{rule.pk} “{rule.name}”: older than {definition.age_days} days"
    batches = []
    for chunk in chunks(ids, MAX_PER_BATCH):
        try:
            batches.append(
                start_scheduled_deletion(
                    actor=RETENTION,
                    recordings=Recording.objects.filter(pk__in=chunk),
                    reason=reason,
                    filter_query=definition.filter_query,
                )
            )
        except NothingToDelete:  # each was put on hold or deleted since it was counted
            continue
    run.batches.set(batches)
    record_for(RETENTION, Action.RETENTION_RUN, note=run_summary(rule, run, batches))
    return run


def chunks(ids: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def run_summary(rule: RetentionRule, run: RetentionRun, batches: list[DeletionBatch]) -> str:
    parts = [f"Rule #{rule.pk} “{rule.name}” ran for {run.day:%Y-%m-%d}: {run.matched:,} to delete"]
    if run.chosen < run.matched:
        parts.append(f"{run.chosen:,} of them this run (at most {settings.RETENTION_MAX_PER_RUN:,} a day)")
    if batches:
        parts.append("in deletion " + ", ".join(f"#{batch.pk}" for batch in batches))
    parts.append(f"{run.held:,} on legal hold and {run.kept:,} kept by keep rules, not deleted")
    return "; ".join(parts) + "."
