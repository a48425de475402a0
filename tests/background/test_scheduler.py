"""Scheduled syncs without cron: what the scheduler queues, and that one scheduler acts at a time."""

import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from recordings.background import scheduler, tasks
from recordings.background.scheduler import Schedule, queue_scheduled_sync
from recordings.background.tasks import AUDIO_CHECK_SAMPLE, queue_sync
from recordings.locks import DatabaseLock
from recordings.models import AudioHash, AuditEvent, Lock, Recording, TaskRun
from recordings.sync.run import LOCK_NAME as SYNC_LOCK_NAME
from tests.background.test_tasks import DATABASE_QUEUE, production_settings

pytestmark = pytest.mark.django_db
IMMEDIATE_QUEUE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend", "QUEUES": ["default"]}}


@pytest.fixture(autouse=True)
def database_queue(settings):
    settings.TASKS = DATABASE_QUEUE  # queued, not run: these tests look at what is queued


def queued_syncs():
    return list(TaskRun.objects.filter(kind__in=["sync", "full_sync"]).values_list("kind", "requested_by"))


def test_an_incremental_sync_every_so_many_minutes_and_a_full_one_weekly():
    jobs = Schedule(sync_every_minutes=7).jobs()
    assert jobs.keys() == {
        "keep_lock",
        "recover",
        "full_sync",
        "forget_changes",
        "incremental_sync",
        "prune_queue",
        "retention",
        "verify_audit",
        "seal_audit",
        "fold_usage",
        "audio_check",
    }
    _, every, first_run = jobs["incremental_sync"]
    assert every.interval.total_seconds() == 7 * 60 and first_run is not None  # one at start, too
    _, weekly, first_run = jobs["full_sync"]
    assert str(weekly) == "cron[day_of_week='sun', hour='3', minute='30']" and first_run is None


def test_the_database_queue_is_pruned_daily_of_what_finished_long_ago():
    queue_sync()
    DBTaskResult.objects.update(status="SUCCESSFUL", finished_at="2026-01-01T00:00:00Z")
    scheduler.prune_queue()
    assert not DBTaskResult.objects.exists()
    assert TaskRun.objects.count() == 1  # the page's own record stays


def test_retention_rules_run_daily_at_the_retention_hour(settings):
    settings.RETENTION_HOUR = 5
    _, daily, first_run = Schedule(sync_every_minutes=7).jobs()["retention"]
    assert str(daily) == "cron[hour='5', minute='0,20,40']" and first_run is None


def test_a_sample_of_recordings_audio_is_checked_daily(settings, synced):
    schedule = Schedule(sync_every_minutes=7)
    job, daily, first_run = schedule.jobs()["audio_check"]
    assert str(daily) == "cron[hour='5', minute='15']" and first_run is None
    schedule.active = True
    job()
    run = TaskRun.objects.get(kind="audio_check")
    assert (run.status, run.arguments) == ("queued", {"sample": AUDIO_CHECK_SAMPLE})

    settings.TASKS = IMMEDIATE_QUEUE  # a worker runs it
    # As many recordings at Vobiz as a sample draws, so that both checks draw the same ones.
    kept = Recording.objects.order_by("pk").values_list("pk", flat=True)[:AUDIO_CHECK_SAMPLE]
    Recording.objects.exclude(pk__in=list(kept)).update(gone_at=timezone.now())
    checked = tasks.queue_audio_check()
    assert checked.status == "succeeded", checked.error
    assert AudioHash.objects.count() == AUDIO_CHECK_SAMPLE

    AudioHash.objects.update(audio_sha256="0" * 64)  # as if Vobiz's audio had been replaced
    changed = tasks.queue_audio_check()
    assert changed.status == "failed" and "changed at Vobiz" in changed.error
    assert AuditEvent.objects.filter(action="audio_changed").exists()


def test_zero_minutes_turns_the_incremental_syncs_off():
    assert "incremental_sync" not in Schedule(sync_every_minutes=0).jobs()


def test_a_scheduled_sync_is_not_queued_twice_nor_while_one_runs():
    queue_scheduled_sync(full=False)
    queue_scheduled_sync(full=False)
    assert queued_syncs() == [("sync", None)]
    TaskRun.objects.all().delete()
    with DatabaseLock(SYNC_LOCK_NAME):
        queue_scheduled_sync(full=True)
    assert queued_syncs() == []


def test_only_the_scheduler_holding_the_lock_queues_anything():
    first, second = Schedule(sync_every_minutes=5), Schedule(sync_every_minutes=5)
    first.keep_lock()
    second.keep_lock()
    assert (first.active, second.active) == (True, False)
    second.jobs()["incremental_sync"][0]()
    assert queued_syncs() == []
    first.jobs()["incremental_sync"][0]()
    assert queued_syncs() == [("sync", None)]
    first.release()
    second.keep_lock()
    assert second.active


@pytest.mark.django_db(transaction=True)
def test_run_scheduler_queues_a_sync_at_once_and_stops_cleanly(subprocess_env):
    env = production_settings({key: value for key, value in subprocess_env.items() if key != "REDIS_URL"})
    child = subprocess.Popen(
        [sys.executable, "manage.py", "run_scheduler"],
        cwd=settings.BASE_DIR,
        env=env | {"SYNC_EVERY_MINUTES": "5"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 90  # a loaded machine starts Django slowly
    while not queued_syncs() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert queued_syncs() == [("sync", None)]
    assert Lock.objects.filter(name=scheduler.LOCK_NAME).exists()
    child.terminate()
    output, _ = child.communicate(timeout=90)
    assert child.returncode == 0, output
    assert "every 5 minutes" in output
    assert not Lock.objects.filter(name=scheduler.LOCK_NAME).exists()
