"""The daily run: holds beat keep rules beat delete rules, the cap, the pause, waiting rules, and a
run resumed after its worker died. Deletions go to the fake Vobiz over HTTP."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from recordings.auditing.deletion import lock_name
from recordings.auditing.holds import place_hold
from recordings.background import tasks
from recordings.locks import DatabaseLock
from recordings.management.commands.rundashboard import DEMO_USER, Command
from recordings.models import AuditEvent, DeletionBatch, Recording, RetentionRule, RetentionRun, TaskRun
from recordings.retention import rules
from recordings.retention.runs import LOCK_NAME, RetentionPaused, next_run_at, run_due_rules
from tests.retention.conftest import actor, age, deletes

pytestmark = pytest.mark.django_db


def approved_rule(author, approver, *, action="delete", query="", age_days=90):
    rule = rules.create_rule(
        actor=actor(author), name=f"{action} {query}", action=action, filter_query=query, age_days=age_days
    )
    if rule.awaits_since:
        rule = rules.approve_rule(actor=actor(approver), rule_id=rule.pk, version=rule.version)
    return rule


@pytest.fixture
def old_and_young(synced):
    """Twenty recordings 200 days old, the other twenty 10 days old."""
    recordings = list(Recording.objects.order_by("pk"))
    age(recordings[:20], 200)
    age(recordings[20:], 10)
    return recordings[:20], recordings[20:]


def test_a_rule_deletes_what_is_older_than_its_age_and_nothing_younger(
    old_and_young, synced, auditor_user, second_auditor
):
    old, young = old_and_young
    approved_rule(auditor_user, second_auditor, age_days=90)
    run = tasks.queue_retention()
    assert run.status == TaskRun.Status.SUCCEEDED
    assert deletes(synced) == sorted(r.recording_id for r in old)
    assert Recording.objects.filter(deleted_at__isnull=False).count() == 20
    assert all(r.deleted_at is None for r in Recording.objects.filter(pk__in=[r.pk for r in young]))
    events = AuditEvent.objects.filter(action=AuditEvent.Action.DELETE)
    assert events.count() == 20
    assert all(note.startswith("Retention rule #") for note in events.values_list("note", flat=True))


def test_a_hold_beats_a_keep_rule_which_beats_a_delete_rule(old_and_young, synced, auditor_user, second_auditor):
    old, _ = old_and_young
    held = old[0]
    place_hold(actor=actor(auditor_user), recording=held, reason="litigation")
    kept = old[1]
    Recording.objects.filter(pk=kept.pk).update(recording_format="wav")
    Recording.objects.filter(pk__in=[r.pk for r in old[2:]]).update(recording_format="mp3")
    approved_rule(auditor_user, second_auditor, action="keep", query="recording_format=wav", age_days=365)
    approved_rule(auditor_user, second_auditor, age_days=90)
    run_due_rules()  # the batches only: not worked through
    day = RetentionRun.objects.get()
    assert (day.matched, day.held, day.kept) == (18, 1, 1)
    chosen = set(DeletionBatch.objects.get().outcomes.values_list("recording_id", flat=True))
    assert chosen == {r.pk for r in old[2:]}


def test_a_keep_rule_waiting_to_be_narrowed_keeps_by_its_approved_definition_too(
    old_and_young, auditor_user, second_auditor
):
    old, _ = old_and_young
    Recording.objects.filter(pk__in=[r.pk for r in old]).update(recording_format="wav")
    keep = approved_rule(auditor_user, second_auditor, action="keep", query="recording_format=wav", age_days=365)
    rules.retire_rule(actor=actor(auditor_user), rule_id=keep.pk, version=keep.version)  # waits for approval
    approved_rule(auditor_user, second_auditor, age_days=90)
    run_due_rules()
    assert RetentionRun.objects.get().kept == 20
    assert not DeletionBatch.objects.exists()


def test_a_day_deletes_at_most_the_cap_oldest_first_and_the_next_day_goes_on(
    old_and_young, synced, auditor_user, second_auditor, settings
):
    old, _ = old_and_young
    settings.RETENTION_MAX_PER_RUN = 7
    for days, recording in enumerate(old):
        Recording.objects.filter(pk=recording.pk).update(add_time=timezone.now() - timedelta(days=300 - days))
    approved_rule(auditor_user, second_auditor, age_days=90)
    tasks.queue_retention()
    assert deletes(synced) == sorted(r.recording_id for r in old[:7])
    run = RetentionRun.objects.get()
    assert (run.matched, run.chosen) == (20, 7)
    tasks.queue_retention()  # the same day again: nothing more
    assert len(deletes(synced)) == 7
    RetentionRun.objects.update(day=run.day - timedelta(days=1))
    tasks.queue_retention()
    assert len(deletes(synced)) == 14


def test_paused_rules_do_not_run(old_and_young, synced, auditor_user, second_auditor):
    approved_rule(auditor_user, second_auditor, age_days=90)
    rules.set_paused(actor=actor(auditor_user), paused=True)
    run = tasks.queue_retention()
    assert run.status == TaskRun.Status.SKIPPED and "paused" in run.error
    assert deletes(synced) == [] and not RetentionRun.objects.exists()


def test_a_rule_waiting_for_approval_does_not_run_until_its_grace_period_ends(
    old_and_young, synced, auditor_user, settings
):
    settings.RETENTION_GRACE_DAYS = 7
    rule = rules.create_rule(actor=actor(auditor_user), name="Old", action="delete", filter_query="", age_days=90)
    tasks.queue_retention()
    assert deletes(synced) == []
    rule.awaits_since = timezone.now() - timedelta(days=7, minutes=1)
    rule.save()
    tasks.queue_retention()
    assert len(deletes(synced)) == 20


def test_a_run_whose_worker_died_is_resumed_by_recover(old_and_young, synced, auditor_user, second_auditor):
    approved_rule(auditor_user, second_auditor, age_days=90)
    day = run_due_rules()  # written, then the worker died before working through its batch
    (batch,) = day.batches
    assert deletes(synced) == []
    held_by_dead_worker = DatabaseLock(lock_name(batch.pk), ttl=timedelta(seconds=-1))
    held_by_dead_worker.acquire()
    tasks.recover()
    assert len(deletes(synced)) == 20
    batch.refresh_from_db()
    assert batch.finished_at is not None
    assert run_due_rules().runs == []  # today's run is not repeated


def test_the_demo_has_one_rule_and_runs_nothing(django_user_model, synced):
    django_user_model.objects.create_user(DEMO_USER)
    Command().ensure_demo_retention_rule()
    Command().ensure_demo_retention_rule()
    rule = RetentionRule.objects.get()
    assert rule.filter_query == "recording_type=trunk" and rules.switch().paused
    Recording.objects.update(add_time=timezone.now() - timedelta(days=1000))
    rule.awaits_since = timezone.now() - timedelta(days=365)
    rule.save()
    assert tasks.queue_retention().status == TaskRun.Status.SKIPPED
    assert deletes(synced) == []


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        ("2026-12-07T01:59:00+00:00", "2026-12-07T02:00:00+00:00"),
        ("2026-12-07T02:00:00+00:00", "2026-12-08T02:00:00+00:00"),
    ],
)
def test_the_next_run_is_the_next_retention_hour_in_the_dashboards_zone(settings, now, expected):
    settings.RETENTION_HOUR, settings.TIME_ZONE = 2, "UTC"
    assert next_run_at(datetime.fromisoformat(now)) == datetime.fromisoformat(expected)


def test_pausing_stops_a_days_deletions_before_the_recordings_not_yet_attempted(
    old_and_young, synced, auditor_user, second_auditor
):
    approved_rule(auditor_user, second_auditor, age_days=90)
    (batch,) = run_due_rules().batches  # written; its worker has not started
    rules.set_paused(actor=actor(auditor_user), paused=True)
    tasks.recover()
    assert deletes(synced) == []
    batch.refresh_from_db()
    assert batch.finished_at is not None and "retention was paused" in batch.stopped_reason
    assert AuditEvent.objects.filter(note__contains="Stopped 1 deletion in progress").exists()


def test_changing_a_rule_stops_what_it_was_deleting(old_and_young, synced, auditor_user, second_auditor):
    rule = approved_rule(auditor_user, second_auditor, age_days=90)
    (batch,) = run_due_rules().batches
    rules.change_rule(
        actor=actor(auditor_user),
        rule_id=rule.pk,
        version=rule.version,
        name=rule.name,
        action="delete",
        filter_query="",
        age_days=365,
    )
    tasks.recover()
    assert deletes(synced) == []
    batch.refresh_from_db()
    assert "the rule was changed" in batch.stopped_reason


def test_a_keep_rule_whose_view_broke_stops_every_run(old_and_young, synced, auditor_user, second_auditor):
    keep = approved_rule(auditor_user, second_auditor, action="keep", query="recording_format=wav", age_days=365)
    approved_rule(auditor_user, second_auditor, age_days=90)
    definition = {"action": "keep", "filter_query": "recording_format=flac", "age_days": 365}
    RetentionRule.objects.filter(pk=keep.pk).update(filter_query="recording_format=flac", effective=definition)
    run = tasks.queue_retention()
    assert run.status == TaskRun.Status.FAILED and "no longer names a valid view" in run.error
    assert deletes(synced) == [] and not RetentionRun.objects.exists()


def test_the_days_cap_is_shared_so_one_backlog_cannot_starve_another_rule(
    old_and_young, auditor_user, second_auditor, settings
):
    old, _ = old_and_young
    settings.RETENTION_MAX_PER_RUN = 10
    Recording.objects.filter(pk__in=[r.pk for r in old[:15]]).update(recording_format="mp3")
    Recording.objects.filter(pk__in=[r.pk for r in old[15:]]).update(recording_format="wav")
    approved_rule(auditor_user, second_auditor, query="recording_format=mp3", age_days=90)
    approved_rule(auditor_user, second_auditor, query="recording_format=wav", age_days=90)
    day = run_due_rules()
    assert [(run.matched, run.chosen) for run in day.runs] == [(15, 5), (5, 5)]


def test_one_worker_at_a_time_runs_the_rules(old_and_young, auditor_user, second_auditor):
    approved_rule(auditor_user, second_auditor, age_days=90)
    other_worker = DatabaseLock(LOCK_NAME, ttl=timedelta(minutes=10))
    other_worker.acquire()
    with pytest.raises(RetentionPaused, match="another worker"):
        run_due_rules()
    other_worker.release()
    assert len(run_due_rules().runs) == 1
