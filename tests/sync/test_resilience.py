"""The sync under faults: random Vobiz failures, SIGKILL at random moments, the database failing."""

import random
import signal
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.db import OperationalError
from django.db.models import Count

from recordings.models import Recording, SyncRun, SyncState
from recordings.sync import walk
from recordings.sync.run import sync_recordings
from recordings.sync.walk import SyncError, SyncOptions
from tests.conftest import AUTH_ID, AUTH_TOKEN
from vobiz.fake.data import FakeAccount
from vobiz.fake.server import FAULT_KINDS


@pytest.fixture
def fake_account():
    return FakeAccount(count=10_000, seed=21, auth_id=AUTH_ID, auth_token=AUTH_TOKEN)


def assert_consistent(expected_total=None):
    assert not Recording.objects.values("recording_id").annotate(n=Count("id")).filter(n__gt=1).exists()
    assert not Recording.objects.filter(add_time__isnull=True).exists()
    if expected_total is not None:
        assert Recording.objects.count() == expected_total


@pytest.mark.django_db
def test_a_full_sync_through_twenty_percent_random_failures_stores_each_recording_once(fake_vobiz, vobiz_client):
    fake_vobiz.stall_seconds = 1.2  # just past the client's read timeout
    fake_vobiz.failure_kinds = [kind for kind in FAULT_KINDS if kind != "401"]
    fake_vobiz.failure_rate = 0.2
    vobiz_client.max_attempts = 12  # 0.2 ** 12: no page fails for good
    run = sync_recordings(SyncOptions(full=True, workers=4), client=vobiz_client)
    assert run.status == "succeeded"
    assert_consistent(expected_total=10_000)
    faults = [r for r in fake_vobiz.requests_log if r.fault]
    assert len({r.fault for r in faults}) >= 6  # every kind came up


@pytest.mark.django_db(transaction=True)
def test_sigkill_at_random_moments_leaves_a_consistent_copy_that_the_next_run_completes(fake_vobiz, subprocess_env):
    fake_vobiz.latency = 0.01
    moments = random.Random(5)
    for trial in range(10):
        child = subprocess.Popen(
            [sys.executable, "manage.py", "sync_recordings", "--workers", "2"],
            cwd=settings.BASE_DIR,
            env=subprocess_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(moments.uniform(0.3, 2.0))
        child.send_signal(signal.SIGKILL)
        child.wait()
        assert_consistent()
        assert Recording.objects.count() <= 10_000
    result = subprocess.run(
        [sys.executable, "manage.py", "sync_recordings"],
        cwd=settings.BASE_DIR,
        env=subprocess_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert_consistent(expected_total=10_000)
    assert SyncState.objects.get().unread == []
    assert SyncRun.objects.filter(status="succeeded").count() >= 1
    assert not SyncRun.objects.filter(status="running").exists()


@pytest.mark.django_db
def test_the_database_failing_for_a_moment_fails_clearly_and_loses_nothing(fake_vobiz, vobiz_client, monkeypatch):
    fake_vobiz.max_page_size = 100
    original = walk.store_recordings
    calls = []

    def flaky_store(recordings, *, now):
        calls.append(len(recordings))
        if len(calls) == 5:
            raise OperationalError("server closed the connection unexpectedly")
        return original(recordings, now=now)

    monkeypatch.setattr(walk, "store_recordings", flaky_store)
    with pytest.raises(SyncError, match="database error: server closed the connection unexpectedly"):
        sync_recordings(SyncOptions(workers=1), client=vobiz_client)
    assert Recording.objects.count() == sum(calls[:4]) >= 400  # the pages stored before it
    assert SyncRun.objects.get().status == "failed"

    sync_recordings(SyncOptions(), client=vobiz_client)
    assert_consistent(expected_total=10_000)
