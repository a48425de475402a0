"""The audit log's hash chain: written by record_for, redacted by redact_events, walked by verify_audit."""

import io
import logging
import os
import re
import subprocess
import sys
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.utils import timezone

from recordings import audit_trail
from recordings.audit_trail import (
    GENESIS,
    PERSONAL_FIELDS,
    Actor,
    field_hash,
    record_for,
    redact_events,
    seal_pending,
)
from recordings.auditing.integrity import check_audit_log, verify_chain
from recordings.background import tasks
from recordings.background.scheduler import Schedule
from recordings.models import AuditChainHead, AuditCheck, AuditEvent, TaskRun
from tests.factories import make_recording
from tests.site.test_migrations import back_to_the_latest, migrate

Action = AuditEvent.Action
NUMBER = "+919876543210"
STAND_IN = "[number removed]"


@pytest.fixture
def actor(auditor_user):
    return Actor(user=auditor_user, ip_address="2001:0db8:0000::1", user_agent="Firefox")


@pytest.fixture
def events(actor):
    """Five chained events, one noting a caller's number."""
    recording = make_recording(recording_id="rec-chain", call_uuid="call-chain")
    made = [record_for(actor, Action.PLAY, recording) for _ in range(2)]
    made.append(record_for(actor, Action.NOTE, recording, note=f"at 0:05: caller {NUMBER} asked to be called back"))
    made += [record_for(actor, Action.SYNC) for _ in range(2)]
    assert seal_pending() == 5
    for event in made:
        event.refresh_from_db()
    return made


def verify():
    """verify_audit's outcome: (exit status, what it printed, or the error it ended with)."""
    out = io.StringIO()
    try:
        call_command("verify_audit", stdout=out)
    except CommandError as exc:
        return exc.returncode, str(exc)
    return 0, out.getvalue()


pytestmark = pytest.mark.django_db


def test_an_event_is_written_unsealed_and_chained_by_the_next_seal(actor):
    event = record_for(actor, Action.SYNC)
    assert (event.seq, event.hash, len(event.salt), len(event.mac)) == (None, "", 32, 64)
    assert seal_pending() == 1 and seal_pending() == 0
    event.refresh_from_db()
    assert event.seq == 1 and len(event.hash) == 64


def test_each_event_is_chained_to_the_one_before(events):
    rows = list(AuditEvent.objects.order_by("seq"))
    assert [event.seq for event in rows] == [1, 2, 3, 4, 5]
    assert len({event.hash for event in rows}) == 5
    assert all(re.fullmatch(r"[0-9a-f]{64}", event.hash) and event.salt for event in rows)
    head = AuditChainHead.objects.get()
    assert (head.seq, head.hash, head.at) == (5, rows[-1].hash, rows[-1].at)
    assert rows[0].ip_address == "2001:db8::1"  # as the database gives it back, so its hash matches


def test_an_intact_log_verifies_and_its_head_is_printed_logged_and_kept(events, caplog):
    caplog.set_level(logging.INFO, logger="recordings")
    status, output = verify()
    last = AuditEvent.objects.get(seq=5)
    assert status == 0
    assert "Audit log verified: 5 events." in output
    assert f"Head: seq 5 at {last.at.isoformat()} hash {last.hash}" in output
    assert f"head seq 5 at {last.at.isoformat()}, hash {last.hash}" in caplog.text
    check = AuditCheck.objects.get()
    assert (check.ok, check.events, check.head_seq, check.head_hash, check.problem) == (True, 5, 5, last.hash, "")


def test_an_empty_log_verifies():
    assert verify() == (0, "Audit log verified: 0 events.\nThe log is empty.\n")


@pytest.mark.parametrize(
    "change",
    [
        {"note": "at 0:05: nothing was said"},
        {"username": "someone-else"},
        {"ip_address": "10.0.0.1"},
        {"action": Action.REVIEW},
        {"recording_ref": "rec-other"},
        {"redacts": [1]},
    ],
    ids=lambda change: next(iter(change)),
)
def test_an_edited_field_is_named(events, change):
    AuditEvent.objects.filter(seq=3).update(**change)
    status, error = verify()
    assert status == 1
    assert f"event {events[2].pk} (seq 3) does not match its HMAC: forged, or edited" in error
    assert AuditCheck.objects.get().broken_seq == 3


def test_an_event_moved_in_time_is_named(events):
    AuditEvent.objects.filter(seq=2).update(at=events[1].at - timedelta(seconds=1))
    assert "event {} (seq 2) does not match its HMAC".format(events[1].pk) in verify()[1]


def test_a_deleted_event_is_named(events):
    AuditEvent.objects.filter(seq=2).delete()
    assert verify() == (1, "the audit log's chain is broken: events at seq 2 are missing: deleted")


def test_deleted_latest_events_are_named_by_the_kept_head(events):
    AuditEvent.objects.filter(seq__gte=4).delete()
    assert verify() == (1, "the audit log's chain is broken: events from seq 4 to 5 are missing: deleted")


def test_two_swapped_events_are_named(events):
    first, second = events[1], events[2]
    with transaction.atomic():
        AuditEvent.objects.filter(pk=first.pk).update(seq=-1)
        AuditEvent.objects.filter(pk=second.pk).update(seq=2)
        AuditEvent.objects.filter(pk=first.pk).update(seq=3)
    assert f"event {second.pk} (seq 2) does not match its hash" in verify()[1]


def test_a_changed_hash_is_named(events):
    AuditEvent.objects.filter(seq=4).update(hash="f" * 64)
    assert f"event {events[3].pk} (seq 4) does not match its hash" in verify()[1]


def test_a_rebuilt_tail_that_the_head_does_not_match_is_named(events):
    AuditChainHead.objects.update(hash=GENESIS)
    assert verify() == (1, "the audit log's chain is broken: the chain's kept head does not match its last event")


def test_a_redaction_replaces_personal_fields_and_verifies_as_a_redaction(events, actor):
    def redact(text: str) -> str:
        return text.replace(NUMBER, STAND_IN)

    target = events[2]
    assert redact_events(event_ids=[e.pk for e in events], redact=redact, actor=actor, reason="erasure request 12") == 1
    target.refresh_from_db()
    assert target.note == f"at 0:05: caller {STAND_IN} asked to be called back"
    assert (target.username, target.ip_address, target.user_agent) == ("ada", "2001:db8::1", "Firefox")
    assert target.salt == "" and set(target.kept_hashes) == {
        "username",
        "call_uuid",
        "ip_address",
        "user_agent",
        "note",
    }
    assert NUMBER not in str(AuditEvent.objects.values_list())
    redaction = AuditEvent.objects.get(action=Action.REDACT)
    assert (redaction.seq, redaction.redacts) == (6, [3])
    assert redaction.note == f"erasure request 12 (events {target.pk})"
    status, output = verify()
    assert status == 0, output
    assert "Audit log verified: 6 events, 1 redacted (each named by a redaction)." in output
    assert AuditCheck.objects.get().redacted == 1


def test_an_address_a_redaction_changes_is_removed_and_a_redaction_may_be_redacted_again(events, actor):
    redact_events(event_ids=[events[0].pk], redact=lambda text: text.replace("db8", "xxx"), actor=actor, reason="r1")
    events[0].refresh_from_db()
    assert events[0].ip_address is None
    assert redact_events(event_ids=[events[0].pk], redact=lambda text: text.upper(), actor=actor, reason="r2") == 1
    events[0].refresh_from_db()
    assert events[0].username == "ADA"
    assert verify()[0] == 0


def test_a_redaction_that_changes_nothing_logs_nothing(events, actor):
    assert redact_events(event_ids=[e.pk for e in events], redact=str, actor=actor, reason="nothing") == 0
    assert not AuditEvent.objects.filter(action=Action.REDACT).exists()


def test_a_forged_redaction_without_a_redaction_event_is_tampering(events):
    target = AuditEvent.objects.get(seq=3)
    # What a redaction would leave, written straight to the database.
    target.kept_hashes = {name: field_hash(target.salt, name, getattr(target, name)) for name in PERSONAL_FIELDS}
    target.salt, target.note = "", "at 0:05: nothing was said"
    target.save()
    status, error = verify()
    assert status == 1
    assert (
        f"event {target.pk} (seq 3) was changed: its personal fields were replaced, and no redaction names it" in error
    )


def test_a_redaction_event_naming_another_event_does_not_cover_a_forged_one(events, actor):
    redact_events(event_ids=[events[0].pk], redact=lambda text: text.upper(), actor=actor, reason="r")
    target = AuditEvent.objects.get(seq=3)
    target.kept_hashes = {name: field_hash(target.salt, name, getattr(target, name)) for name in PERSONAL_FIELDS}
    target.salt, target.note = "", "forged"
    target.save()
    assert "(seq 3) was changed" in verify()[1]


def test_an_event_of_a_rolled_back_transaction_leaves_no_gap(actor):
    record_for(actor, Action.SYNC)
    with pytest.raises(RuntimeError), transaction.atomic():
        record_for(actor, Action.SYNC)
        raise RuntimeError("the outer work failed")
    record_for(actor, Action.SYNC)
    assert seal_pending() == 2
    assert list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True)) == [1, 2]
    assert verify_chain().ok


def test_a_missing_head_is_a_break_and_never_rebuilt_from_the_events(actor, caplog):
    record_for(actor, Action.SYNC)
    seal_pending()
    AuditChainHead.objects.all().delete()
    record_for(actor, Action.SYNC)
    assert seal_pending() == 0
    assert not AuditChainHead.objects.exists()
    assert "the audit chain's head row is missing" in caplog.text
    assert "the chain's head row is missing: the latest events may have been deleted" in verify()[1]
    with pytest.raises(RuntimeError, match="head row is missing"):
        redact_events(event_ids=[1], redact=str.upper, actor=actor, reason="r")


def test_an_empty_log_starts_a_head(actor):
    AuditChainHead.objects.all().delete()
    record_for(actor, Action.SYNC)
    assert seal_pending() == 1
    assert AuditChainHead.objects.get().seq == 1
    assert verify_chain().ok


def test_the_outcome_is_kept_for_the_audit_page(events):
    AuditEvent.objects.filter(seq=2).update(note="changed")
    check = check_audit_log()
    assert (check.ok, check.broken_seq, check.head_seq) == (False, 2, 1)


WRITER = """
import sys
import django
django.setup()
from django.db import transaction
from recordings.audit_trail import Actor, record_for, seal_pending
from recordings.models import AuditEvent
actor = Actor(user=None, ip_address="127.0.0.1", user_agent="writer " + sys.argv[1])
for number in range(int(sys.argv[2])):
    if number % 7 == 0:  # sealers at work at the same time, as the scheduler's and verify_audit's may be
        seal_pending(wait=number % 2 == 0)
    if number % 3:
        record_for(actor, AuditEvent.Action.SYNC, note=f"{sys.argv[1]}:{number}")
    else:  # inside a longer transaction, with work of its own before and after
        with transaction.atomic():
            AuditEvent.objects.filter(seq=0).exists()
            record_for(actor, AuditEvent.Action.SYNC, note=f"{sys.argv[1]}:{number}")
            AuditEvent.objects.filter(seq=0).exists()
"""


def database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_eight_processes_writing_at_once_leave_a_chain_that_verifies():
    per_writer = 60
    env = {**os.environ, "DATABASE_URL": database_url(), "DJANGO_DEBUG": "1"}
    env["DJANGO_SETTINGS_MODULE"] = "vobiz_dashboard.settings"
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(n), str(per_writer)], cwd=settings.BASE_DIR, env=env)
        for n in range(8)
    ]
    assert [writer.wait(timeout=300) for writer in writers] == [0] * 8
    seal_pending()
    assert AuditEvent.objects.count() == 8 * per_writer
    assert list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True)) == list(range(1, 8 * per_writer + 1))
    result = verify_chain()
    assert (result.ok, result.events) == (True, 8 * per_writer), result.problem


@pytest.mark.django_db(transaction=True)
def test_the_events_logged_before_the_migration_are_chained_by_the_first_seal_in_the_order_they_were_written():
    before = [("recordings", "0020_data_change")]
    executor = migrate(before)
    old_event = executor.loader.project_state(before).apps.get_model("recordings", "AuditEvent")
    now = timezone.now()
    for number in range(5):
        old_event.objects.create(at=now - timedelta(minutes=number), username="sky", action="play", note=str(number))
    back_to_the_latest()
    assert seal_pending() == 5
    rows = list(AuditEvent.objects.order_by("pk").values_list("seq", "note"))
    assert rows == [(1, "0"), (2, "1"), (3, "2"), (4, "3"), (5, "4")]
    result = verify_chain()
    assert (result.ok, result.events, AuditChainHead.objects.get().seq) == (True, 5, 5)


def test_the_scheduler_verifies_the_log_daily(events, settings):
    schedule = Schedule(sync_every_minutes=0)
    schedule.keep_lock()
    job, trigger, first_run = schedule.jobs()["verify_audit"]
    assert str(trigger) == "cron[hour='4', minute='45']" and first_run is None
    record_for(Actor(user=None, ip_address=None, user_agent=""), Action.SYNC)
    job()  # queued as a task (the test settings run it at once), shown on /sync/
    assert AuditCheck.objects.get().ok and AuditCheck.objects.get().events == 6  # sealed first
    run = TaskRun.objects.get(kind=TaskRun.Kind.AUDIT_CHECK)
    assert run.status == TaskRun.Status.SUCCEEDED
    seal, every, first_run = schedule.jobs()["seal_audit"]
    assert every.interval.total_seconds() == 2 and first_run is not None
    record_for(Actor(user=None, ip_address=None, user_agent=""), Action.SYNC)
    seal()
    schedule.release()
    assert not AuditEvent.objects.filter(seq__isnull=True).exists()


def test_the_audit_page_says_how_far_the_log_is_verified(events, auditor_client):
    assert "has not been verified yet" in auditor_client.get("/audit/").content.decode()
    check = check_audit_log()
    page = auditor_client.get("/audit/").content.decode()
    assert "Log verified up to" in page and f'datetime="{timezone.localtime(check.head_at).isoformat()}' in page
    assert "5 events unchanged" in page and "notice-error" not in page
    assert "Log verified up to event 5 of" in page and "not yet sealed" not in page


def test_the_audit_page_shows_the_events_not_yet_sealed_and_the_oldest_ones_time(events, auditor_client, actor):
    check_audit_log()
    first = record_for(actor, Action.SYNC)
    record_for(actor, Action.SYNC)
    page = auditor_client.get("/audit/").content.decode()
    assert "2 events not yet sealed into the chain, the oldest of" in page
    assert f'datetime="{timezone.localtime(first.at).isoformat()}' in page
    assert "Log verified up to event 5 of" in page


def test_the_audit_page_shows_a_break_in_red(events, auditor_client, actor):
    redact_events(event_ids=[events[2].pk], redact=lambda text: "x", actor=actor, reason="r")
    check_audit_log()
    assert "6 events unchanged, 1 of them redacted" in auditor_client.get("/audit/").content.decode()
    AuditEvent.objects.filter(seq=4).update(note="<b>changed</b>")
    check_audit_log()
    page = auditor_client.get("/audit/").content.decode()
    assert '<p class="notice notice-error audit-check" role="alert">' in page
    assert f"chain is broken:</strong> event {events[3].pk} (seq 4) does not match its HMAC" in page
    assert "Log verified up to" not in page


def test_a_backlog_is_sealed_a_batch_at_a_time(actor, monkeypatch):
    monkeypatch.setattr(audit_trail, "SEAL_BATCH", 2)
    for _ in range(5):
        record_for(actor, Action.SYNC)
    assert seal_pending() == 5
    result = verify_chain()
    assert (result.ok, result.events, AuditChainHead.objects.get().seq) == (True, 5, 5)


@pytest.mark.django_db(transaction=True)
def test_verify_audit_exits_non_zero_naming_the_edited_event():
    actor = Actor(user=None, ip_address=None, user_agent="")
    events = [record_for(actor, Action.SYNC) for _ in range(3)]
    seal_pending()
    AuditEvent.objects.filter(pk=events[1].pk).update(username="someone-else")
    env = {**os.environ, "DATABASE_URL": database_url(), "DJANGO_DEBUG": "1"}
    env["DJANGO_SETTINGS_MODULE"] = "vobiz_dashboard.settings"
    run = subprocess.run(
        [sys.executable, "manage.py", "verify_audit"], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True
    )
    assert run.returncode == 1
    assert f"event {events[1].pk} (seq 2) does not match its HMAC: forged, or edited" in run.stderr


def test_a_broken_log_fails_the_audit_check_task_for_the_sync_page(events, auditor_client):
    AuditEvent.objects.filter(seq=2).update(note="changed")
    run = tasks.queue_audit_check()
    run.refresh_from_db()
    assert run.status == TaskRun.Status.FAILED and f"event {events[1].pk} (seq 2)" in run.error
    assert f"/sync/tasks/{run.pk}/retry" in auditor_client.get("/sync/").content.decode()
