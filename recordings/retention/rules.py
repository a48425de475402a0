"""Retention rules as auditors write them: each change logged with the definition before and after,
and four eyes on any change that could delete more.

A change that could delete more than the rule's effective definition (a new delete rule, a different
view, a shorter age, a keep rule narrowed or retired) waits: it applies once a second auditor
approves that very version, or once RETENTION_GRACE_DAYS have passed without that. Any other change
(a rename, a longer age, keeping instead of deleting) applies at once. Whether one view of the table
holds fewer recordings than another cannot be told in general, so any change of the view waits.
"""

from datetime import datetime, timedelta
from typing import Protocol

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from recordings.audit_trail import Action, Actor, record_for
from recordings.auditing.deletion import stop_batch
from recordings.models import DeletionBatch, RetentionRule, RetentionSwitch
from recordings.retention.matching import Definition, InvalidRuleQuery, clean_query, current, effective

RuleAction = RetentionRule.Action
# Who makes a waiting change take effect once its grace period is over.
UNOPPOSED = Actor(user=None, ip_address=None, user_agent="retention grace period")


class RuleRefused(Exception):
    """The change cannot be made as asked; the message says why, for the auditor."""


class VersionedAction(Protocol):
    """Approving or retiring: acts on the version of the rule the auditor was shown."""

    def __call__(self, *, actor: Actor, rule_id: int, version: int) -> RetentionRule: ...


def widens(old: Definition | None, new: Definition) -> bool:
    """Whether `new` could delete a recording that `old`, the effective definition, would not."""
    if new.action == RuleAction.DELETE:
        if old is None or old.action != RuleAction.DELETE:
            return True
        return new.filter_query != old.filter_query or new.age_days < old.age_days
    if old is None or old.action != RuleAction.KEEP:
        return False  # keeping, or retiring a rule that kept nothing, deletes nothing more
    if new.action == RuleAction.RETIRED:
        return True
    return new.filter_query != old.filter_query or new.age_days < old.age_days


def describe(definition: Definition | None) -> str:
    """A definition as the audit log keeps it: action, age and the view's query, or "none"."""
    if definition is None:
        return "none"
    if definition.action == RuleAction.RETIRED:
        return "retired"
    verb = "delete older than" if definition.action == RuleAction.DELETE else "keep for"
    return f"{verb} {definition.age_days} days, view “{definition.filter_query or 'every recording'}”"


def checked(*, action: str, filter_query: str, age_days: int) -> Definition:
    if action not in (RuleAction.DELETE, RuleAction.KEEP):
        raise RuleRefused("A rule deletes or keeps recordings.")
    if not 1 <= age_days <= 36_500:
        raise RuleRefused("The age is a number of days from 1 to 36,500.")
    try:
        query = clean_query(filter_query)
    except InvalidRuleQuery as exc:
        raise RuleRefused(str(exc)) from None
    return Definition(action=action, filter_query=query, age_days=age_days)


@transaction.atomic
def create_rule(*, actor: Actor, name: str, action: str, filter_query: str, age_days: int) -> RetentionRule:
    definition = checked(action=action, filter_query=filter_query, age_days=age_days)
    now = timezone.now()
    rule = RetentionRule(name=name.strip(), created_by=actor.user, created_at=now, version=0)
    return apply(rule, definition, actor=actor, now=now, verb="created")


@transaction.atomic
def change_rule(
    *, actor: Actor, rule_id: int, version: int, name: str, action: str, filter_query: str, age_days: int
) -> RetentionRule:
    rule = locked(rule_id, version)
    definition = checked(action=action, filter_query=filter_query, age_days=age_days)
    if name.strip() == rule.name and definition == current(rule):
        raise RuleRefused("Nothing changed.")
    rule.name = name.strip()
    return apply(rule, definition, actor=actor, now=timezone.now(), verb="changed")


@transaction.atomic
def retire_rule(*, actor: Actor, rule_id: int, version: int) -> RetentionRule:
    rule = locked(rule_id, version)
    if rule.action == RuleAction.RETIRED:
        raise RuleRefused("That rule is retired already.")
    retired = Definition(action=RuleAction.RETIRED, filter_query=rule.filter_query, age_days=rule.age_days)
    return apply(rule, retired, actor=actor, now=timezone.now(), verb="retired")


def locked(rule_id: int, version: int) -> RetentionRule:
    """The rule, locked for the change, if it is still the version the auditor was shown."""
    rule = RetentionRule.objects.select_for_update().filter(pk=rule_id).first()
    if rule is None:
        raise RuleRefused("That rule does not exist.")
    if rule.version != version:
        raise RuleRefused("The rule changed since you opened it: look at it again.")
    return rule


def apply(rule: RetentionRule, definition: Definition, *, actor: Actor, now: datetime, verb: str) -> RetentionRule:
    """Write `definition` as the rule's: applied at once, or waiting when it could delete more. A
    rename alone keeps the rule's state, and who defined it, who therefore cannot approve it."""
    before = current(rule) if rule.pk else None
    rule.version += 1
    rule.changed_by, rule.changed_at = actor.user, now
    if definition != before:
        rule.action, rule.filter_query, rule.age_days = definition.action, definition.filter_query, definition.age_days
        rule.defined_by = actor.user
        if widens(effective(rule), definition):
            rule.awaits_since = now
            rule.approved_by = rule.approved_at = None
        else:
            rule.effective, rule.awaits_since = definition.as_json(), None
    rule.save()
    if before is not None:
        stop_runs(rule, reason=f"the rule was {verb} (version {rule.version}): the rest waits for its next run")
    waits = f"waits for a second auditor or {settings.RETENTION_GRACE_DAYS} days"
    record_for(
        actor,
        Action.RULE_SET,
        note=f"Rule #{rule.pk} “{rule.name}” {verb} (version {rule.version}), "
        f"{waits if rule.awaits_since else 'applies from its next run'}. "
        f"Before: {describe(before)}. After: {describe(definition)}.",
    )
    return rule


@transaction.atomic
def approve_rule(*, actor: Actor, rule_id: int, version: int) -> RetentionRule:
    """A second auditor lets the waiting version apply: never the one who wrote it, never another version."""
    rule = locked(rule_id, version)
    if rule.awaits_since is None:
        raise RuleRefused("Nothing of that rule waits for approval.")
    if actor.user is not None and rule.defined_by_id == actor.user.pk:
        raise RuleRefused("A second auditor approves: you wrote this definition yourself.")
    before = effective(rule)
    take_effect(rule, now=timezone.now(), approved_by=actor)
    record_for(
        actor,
        Action.RULE_APPROVE,
        note=f"Rule #{rule.pk} “{rule.name}” version {rule.version} approved. "
        f"Before: {describe(before)}. After: {describe(current(rule))}.",
    )
    return rule


def take_effect(rule: RetentionRule, *, now: datetime, approved_by: Actor) -> None:
    rule.effective, rule.awaits_since = current(rule).as_json(), None
    rule.approved_by, rule.approved_at = approved_by.user, now
    rule.save(update_fields=["effective", "awaits_since", "approved_by", "approved_at"])


def grace_ends(rule: RetentionRule) -> datetime | None:
    """When a waiting change applies without an approval."""
    if rule.awaits_since is None:
        return None
    return rule.awaits_since + timedelta(days=settings.RETENTION_GRACE_DAYS)


@transaction.atomic
def apply_unopposed(*, now: datetime) -> list[RetentionRule]:
    """Waiting changes whose grace period is over take effect, each logged as such."""
    cutoff = now - timedelta(days=settings.RETENTION_GRACE_DAYS)
    rules = list(RetentionRule.objects.select_for_update().filter(awaits_since__lte=cutoff))
    for rule in rules:
        before = effective(rule)
        take_effect(rule, now=now, approved_by=UNOPPOSED)
        record_for(
            UNOPPOSED,
            Action.RULE_APPROVE,
            note=f"Rule #{rule.pk} “{rule.name}” version {rule.version} applies: no second auditor "
            f"approved it within {settings.RETENTION_GRACE_DAYS} days. "
            f"Before: {describe(before)}. After: {describe(current(rule))}.",
        )
    return rules


def switch() -> RetentionSwitch:
    """The pause switch as it stands (running, before anyone first pauses)."""
    return RetentionSwitch.objects.filter(pk=1).first() or RetentionSwitch(pk=1)


@transaction.atomic
def set_paused(*, actor: Actor, paused: bool) -> RetentionSwitch:
    state = RetentionSwitch.objects.select_for_update().get_or_create(pk=1)[0]
    if state.paused == paused:
        raise RuleRefused("Retention is paused already." if paused else "Retention is running already.")
    state.paused, state.changed_by, state.changed_at = paused, actor.user, timezone.now()
    state.save()
    stopped = 0
    if paused:
        for rule in RetentionRule.objects.all():
            stopped += stop_runs(rule, reason="retention was paused: the rest waits until it is resumed")
    note = "Paused every retention rule." if paused else "Resumed retention."
    if stopped:
        note += f" Stopped {stopped} deletion{'s' if stopped > 1 else ''} in progress."
    record_for(actor, Action.RETENTION_PAUSE, note=note)
    return state


def stop_runs(rule: RetentionRule, *, reason: str) -> int:
    """Stop the rule's deletions still in progress, before the recordings they have not attempted:
    a paused, changed or retired rule deletes nothing more by what it was."""
    unfinished = DeletionBatch.objects.filter(retention_runs__rule=rule, finished_at__isnull=True)
    return sum(stop_batch(batch_id=pk, reason=reason) for pk in unfinished.values_list("pk", flat=True))
