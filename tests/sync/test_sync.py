import subprocess
import sys
import threading
import time
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Sum
from django.utils import timezone as dj_timezone

from recordings.locks import DatabaseLock
from recordings.models import Recording, SyncRun, SyncState, UsageTotal
from recordings.sync.run import LOCK_NAME, sync_recordings
from recordings.sync.walk import SyncError, SyncOptions
from tests.conftest import AUTH_ID, AUTH_TOKEN, list_requests
from vobiz.fake.data import FakeAccount

pytestmark = pytest.mark.django_db


def sync(client, **options):
    return sync_recordings(SyncOptions(**options), client=client)


def test_first_sync_stores_every_recording_with_every_field(fake_vobiz, vobiz_client):
    fake_vobiz.max_page_size = 20  # as Vobiz may serve: fewer than the 100 asked for
    run = sync(vobiz_client)
    assert Recording.objects.count() == 1234
    assert (run.status, run.created, run.skipped) == ("succeeded", 1234, 0)

    upstream = fake_vobiz.account.page(0, 1234)[0]
    stored = {r.recording_id: r for r in Recording.objects.all()}
    for obj in upstream:
        row = stored[obj["recording_id"]]
        assert row.raw == obj
        assert row.call_uuid == obj["call_uuid"]
        assert row.from_number == obj["from_number"] and row.to_number == obj["to_number"]
        assert row.recording_type == obj["recording_type"] and row.recording_format == obj["recording_format"]
        assert row.recording_url == obj["recording_url"]
        assert row.conference_name == (obj["conference_name"] or "")
        assert row.add_time == dj_timezone.datetime.fromisoformat(obj["add_time"])
        assert row.recording_duration_ms == round(float(obj["recording_duration_ms"]))
        assert row.rounded_recording_duration == obj["rounded_recording_duration"]
        assert row.recording_storage_rate == Decimal(str(obj["recording_storage_rate"])).quantize(Decimal("0.000001"))
    assert SyncState.objects.get().unread == []


def test_unchanged_account_costs_one_list_request(fake_vobiz, vobiz_client):
    sync(vobiz_client)
    fake_vobiz.reset_log()
    run = sync(vobiz_client)
    assert len(list_requests(fake_vobiz)) == 1
    assert (run.created, run.updated) == (0, 0)


def test_incremental_run_picks_up_new_recordings(fake_vobiz, vobiz_client):
    sync(vobiz_client)
    fake_vobiz.account.add_recordings(150)
    fake_vobiz.reset_log()
    run = sync(vobiz_client)
    assert run.created == 150
    assert Recording.objects.count() == 1384
    assert len(list_requests(fake_vobiz)) <= 3


def test_recordings_added_at_the_head_during_a_full_walk_are_not_missed(fake_vobiz, vobiz_client):
    fake_vobiz.max_page_size = 20
    added = []
    original_page = fake_vobiz.account.page

    def page_that_grows(offset, limit, **filters):
        if offset >= 600 and not added:  # half way through the walk, 30 arrive at the head
            fake_vobiz.account.add_recordings(30)
            added.append(30)
        return original_page(offset, limit, **filters)

    fake_vobiz.account.page = page_that_grows
    sync(vobiz_client, full=True, workers=4)
    assert added
    assert Recording.objects.count() == 1264
    upstream = {o["recording_id"] for o in original_page(0, 2000)[0]}
    assert set(Recording.objects.values_list("recording_id", flat=True)) == upstream


def serve_out_of_order(fake_vobiz, later, earlier, arrivals, then_page_size=None):
    """Serve the page at `earlier` only after the one at `later`, with `arrivals` new recordings
    at the head in between (and from then on `then_page_size` rows a page); returns a list that
    holds the arrivals once they happened."""
    original_page = fake_vobiz.account.page
    later_served, added = threading.Event(), []

    def page(offset, limit, **filters):
        if offset == earlier and not added:
            later_served.wait(timeout=10)
            fake_vobiz.account.add_recordings(arrivals)
            if then_page_size:
                fake_vobiz.max_page_size = then_page_size
            added.append(arrivals)
        served = original_page(offset, limit, **filters)
        if offset == later:
            later_served.set()
        return served

    fake_vobiz.account.page = page
    return added


def recording_ids_upstream(fake_vobiz):
    return {o["recording_id"] for o in fake_vobiz.account.page(0, 2000)[0]}


def test_a_page_served_before_arrivals_next_to_one_served_after_leaves_no_hole(fake_vobiz, vobiz_client):
    """Parallel pages are served in any order: here offset 620 before 30 recordings arrive, 600 after."""
    fake_vobiz.max_page_size = 20
    added = serve_out_of_order(fake_vobiz, later=620, earlier=600, arrivals=30)
    sync(vobiz_client, full=True, workers=4)
    assert added
    upstream = recording_ids_upstream(fake_vobiz)
    assert len(upstream) == 1264
    assert set(Recording.objects.values_list("recording_id", flat=True)) == upstream


def test_a_hole_is_read_again_whole_when_vobiz_serves_short_pages(fake_vobiz, vobiz_client):
    """80 recordings arrive between the pages at 700 and 600 (served in that order); from then on
    Vobiz serves 20 rows a page, so the hole of 80 takes four short reads."""
    added = serve_out_of_order(fake_vobiz, later=700, earlier=600, arrivals=80, then_page_size=20)
    sync(vobiz_client, full=True, workers=4)
    assert added
    assert set(Recording.objects.values_list("recording_id", flat=True)) == recording_ids_upstream(fake_vobiz)


def test_a_backfill_of_a_single_page_ends(fake_vobiz, vobiz_client):
    fake_vobiz.account = FakeAccount(count=30, seed=7, auth_id=AUTH_ID, auth_token=AUTH_TOKEN)
    sync(vobiz_client)
    assert Recording.objects.count() == 30
    assert SyncState.objects.get().unread == []
    fake_vobiz.reset_log()
    sync(vobiz_client)
    assert len(list_requests(fake_vobiz)) == 1


def test_a_full_walk_of_a_list_that_does_not_move_reads_each_page_once(fake_vobiz, vobiz_client):
    fake_vobiz.max_page_size = 20
    sync(vobiz_client, full=True, workers=4)
    offsets = [int(r.query.get("offset", 0)) for r in list_requests(fake_vobiz)]
    assert len(offsets) == -(-1234 // 20)  # each page once (the last one a little early, to be safe)
    assert sorted(offsets)[:-1] == list(range(0, 1220, 20))
    assert Recording.objects.count() == 1234


def test_full_run_with_workers_stores_each_recording_once(fake_vobiz, vobiz_client):
    fake_vobiz.max_page_size = 20
    run = sync(vobiz_client, full=True, workers=8)
    assert Recording.objects.count() == 1234 == run.created
    assert run.pages >= 62


def test_full_run_marks_gone_only_what_vobiz_confirms(fake_vobiz, vobiz_client):
    sync(vobiz_client)
    gone_id = Recording.objects.order_by("add_time").first().recording_id
    fake_vobiz.account.delete(gone_id)
    run = sync(vobiz_client, full=True)
    assert run.gone == 1
    assert Recording.objects.count() == 1234  # never deleted locally
    assert Recording.objects.get(recording_id=gone_id).gone_at is not None
    assert Recording.objects.filter(gone_at__isnull=False).count() == 1


@pytest.mark.parametrize("fault", ["500", "502", "503", "504", "429", "stall", "truncated", "not-json"])
def test_sync_survives_every_fault_kind(fake_vobiz, vobiz_client, fault):
    fake_vobiz.stall_seconds = 1.5
    fake_vobiz.inject(fault, times=3)
    run = sync(vobiz_client, full=True)
    assert run.status == "succeeded"
    assert Recording.objects.count() == 1234


def test_malformed_objects_are_skipped_or_kept_incomplete_and_counted(fake_vobiz, vobiz_client):
    fake_vobiz.account.set_override(3, {"recording_id": None})
    fake_vobiz.account.set_override(4, {"add_time": "not a time"})
    run = sync(vobiz_client)
    assert (run.skipped, run.incomplete) == (1, 1)
    assert Recording.objects.count() == 1233
    assert Recording.objects.filter(add_time__isnull=True).count() == 1


def test_a_failed_run_keeps_what_it_stored_and_the_next_run_completes(fake_vobiz, vobiz_client):
    fake_vobiz.max_page_size = 20
    fake_vobiz.inject("401", times=1, path_contains="offset=400")
    with pytest.raises(SyncError, match="401"):
        sync(vobiz_client, workers=1)
    kept = Recording.objects.count()
    assert 400 <= kept < 1234
    failed = SyncRun.objects.get()
    assert failed.status == "failed" and "401" in failed.error
    state = SyncState.objects.get()
    assert state.list_total == 1234 and state.unread_count == 1234 - kept

    fake_vobiz.reset_log()
    sync(vobiz_client, workers=1)
    assert Recording.objects.count() == 1234
    resumed_offsets = [int(r.query.get("offset", 0)) for r in list_requests(fake_vobiz)]
    assert min(o for o in resumed_offsets if o > 0) >= 300  # resumed, not started over


def test_second_sync_is_refused_while_one_holds_the_lock(fake_vobiz, vobiz_client):
    with DatabaseLock(LOCK_NAME):
        with pytest.raises(SyncError, match="another sync is running"):
            sync(vobiz_client)
    assert fake_vobiz.requests_log == []


def test_an_expired_lock_does_not_block(fake_vobiz, vobiz_client):
    lock = DatabaseLock(LOCK_NAME, ttl=timedelta(seconds=-1))
    lock.owner = "another-host:1:abc"
    lock.acquire()
    assert sync(vobiz_client).status == "succeeded"


def test_command_reports_bad_credentials_in_one_line_without_the_token(fake_vobiz, settings):
    settings.VOBIZ_AUTH_TOKEN = "definitely-wrong-token"
    with pytest.raises(CommandError) as error:
        call_command("sync_recordings")
    message = str(error.value)
    assert "401" in message and "\n" not in message
    assert "definitely-wrong-token" not in message and AUTH_TOKEN not in message
    assert SyncRun.objects.get().status == "failed"


def test_command_refuses_without_credentials(settings):
    settings.VOBIZ_AUTH_ID = ""
    with pytest.raises(CommandError, match="VOBIZ_AUTH_ID and VOBIZ_AUTH_TOKEN must both be set"):
        call_command("sync_recordings")


def test_command_prints_a_summary(fake_vobiz):
    out = StringIO()
    call_command("sync_recordings", "--workers", "2", stdout=out)
    assert "1234 new" in out.getvalue()


def run_command(env, *args):
    return subprocess.run(
        [sys.executable, "manage.py", "sync_recordings", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("workers", ["0", "33"])
def test_workers_out_of_range_are_refused_before_any_request(fake_vobiz, workers):
    with pytest.raises(CommandError, match="--workers must be between 1 and 32"):
        call_command("sync_recordings", "--workers", workers)
    assert fake_vobiz.requests_log == []


@pytest.mark.django_db(transaction=True)
def test_exit_status_and_stderr_of_a_failing_command(fake_vobiz, subprocess_env):
    result = run_command({**subprocess_env, "VOBIZ_AUTH_TOKEN": "nope-nope-nope"})
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0 and "401" in result.stderr
    assert "nope-nope-nope" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


@pytest.mark.django_db(transaction=True)
def test_a_sync_killed_half_way_loses_nothing_and_the_next_run_completes(fake_vobiz, subprocess_env):
    fake_vobiz.max_page_size = 20
    fake_vobiz.latency = 0.05
    child = subprocess.Popen(
        [sys.executable, "manage.py", "sync_recordings", "--workers", "1"],
        cwd=settings.BASE_DIR,
        env=subprocess_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while Recording.objects.count() < 300 and time.monotonic() < deadline:
        time.sleep(0.05)
    child.kill()
    child.wait()
    stored_before = set(Recording.objects.values_list("recording_id", flat=True))
    assert 300 <= len(stored_before) < 1234

    fake_vobiz.latency = 0
    result = run_command(subprocess_env)
    assert result.returncode == 0, result.stderr
    assert Recording.objects.count() == 1234
    assert stored_before <= set(Recording.objects.values_list("recording_id", flat=True))
    runs = list(SyncRun.objects.order_by("started_at").values_list("status", flat=True))
    assert runs == ["failed", "succeeded"]


@pytest.mark.django_db(transaction=True)
def test_a_second_command_is_refused_while_the_first_runs(fake_vobiz, subprocess_env):
    fake_vobiz.latency = 0.3
    first = subprocess.Popen(
        [sys.executable, "manage.py", "sync_recordings", "--workers", "1"],
        cwd=settings.BASE_DIR,
        env=subprocess_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not SyncRun.objects.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        second = run_command(subprocess_env)
        assert second.returncode != 0
        assert "another sync is running" in second.stderr
    finally:
        first.kill()
        first.wait()


def all_deferred():
    from recordings.sync.indexes import deferred_indexes

    return {index.name for index in deferred_indexes(connection)}


def deferred_present():
    from recordings.sync.indexes import missing_indexes

    return all_deferred() - {index.name for index in missing_indexes()}


def test_a_first_import_builds_the_number_indexes_after_its_rows(fake_vobiz, vobiz_client, monkeypatch):
    from recordings.sync import walk
    from recordings.sync.indexes import CALL_UUID_INDEX, DEFERRED

    seen_during = []
    store = walk.Sync.store

    def spying_store(self, pages, save_progress=False):
        seen_during.append(deferred_present())
        return store(self, pages, save_progress)

    monkeypatch.setattr(walk.Sync, "store", spying_store)
    sync(vobiz_client, full=True)
    assert seen_during and all(present == set() for present in seen_during)  # rows went in without them
    assert deferred_present() == all_deferred() >= set(DEFERRED)  # and they were built at the end
    assert (CALL_UUID_INDEX in all_deferred()) == (connection.vendor == "sqlite")

    seen_during.clear()
    sync(vobiz_client, full=True)  # not a first import: the indexes stay
    assert seen_during and all(present == all_deferred() for present in seen_during)


def test_on_sqlite_a_first_import_counts_the_usage_figures_once_at_its_end(fake_vobiz, vobiz_client, monkeypatch):
    from recordings import usage_summary
    from recordings.sync import walk
    from tests.auditing.test_usage_summary import assert_summary_current

    kept_during = []
    store = walk.Sync.store

    def spying_store(self, pages, save_progress=False):
        kept_during.append(usage_summary.installed(connection))
        return store(self, pages, save_progress)

    monkeypatch.setattr(walk.Sync, "store", spying_store)
    sync(vobiz_client, full=True)
    # PostgreSQL's triggers, once a statement, stay; SQLite's, two change rows a recording, wait for the end.
    assert kept_during and all(kept == (connection.vendor == "postgresql") for kept in kept_during)
    assert usage_summary.installed(connection)
    assert UsageTotal.objects.aggregate(count=Sum("count"))["count"] == Recording.objects.count() > 0
    assert_summary_current()

    kept_during.clear()
    fake_vobiz.account.add_recordings(3)
    sync(vobiz_client)  # not a first import: the triggers count as rows arrive
    assert kept_during and all(kept_during)
    assert_summary_current()


def test_a_first_import_that_fails_builds_them_too_and_a_killed_one_leaves_them_to_the_next_run(
    fake_vobiz, vobiz_client, monkeypatch
):
    from recordings import usage_summary
    from recordings.sync import walk
    from recordings.sync.indexes import DEFERRED, defer_for_first_import

    def failing_store(self, pages, save_progress=False):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(walk.Sync, "store", failing_store)
    with pytest.raises(SyncError, match="the disk is full"):
        sync(vobiz_client)
    assert deferred_present() == all_deferred() >= set(DEFERRED)
    assert usage_summary.installed(connection)
    monkeypatch.undo()

    assert defer_for_first_import()  # as a run killed mid-import leaves the table
    usage_summary.pause_for_first_import(connection)
    assert deferred_present() == set()
    seen_at_start = []
    walk_run = walk.Sync.run

    def spying_run(self):
        seen_at_start.append((deferred_present(), usage_summary.installed(connection)))
        return walk_run(self)

    monkeypatch.setattr(walk.Sync, "run", spying_run)
    sync(vobiz_client, call_uuid="no-such-call")  # any next run, a scoped one too, before it walks
    assert seen_at_start == [(all_deferred(), True)]


def test_an_index_build_that_fails_adds_to_a_failed_runs_reason_and_never_stops_a_sync(
    fake_vobiz, vobiz_client, monkeypatch, caplog
):
    from django.db import DatabaseError

    from recordings.sync import run as run_module
    from recordings.sync import walk

    def failing_build(*args):
        raise DatabaseError("could not extend file: No space left on device")

    def failing_store(self, pages, save_progress=False):
        raise RuntimeError("the disk is full while storing page 3")

    store = walk.Sync.store
    monkeypatch.setattr(run_module, "build_missing", failing_build)
    monkeypatch.setattr(run_module, "ensure_installed", failing_build)
    monkeypatch.setattr(walk.Sync, "store", failing_store)
    with pytest.raises(SyncError, match="storing page 3; what a first import deferred .* No space left") as failure:
        sync(vobiz_client)
    assert str(failure.value).startswith("RuntimeError: the disk is full while storing page 3")
    assert SyncRun.objects.get().error == str(failure.value)
    assert (
        "(its indexes: could not extend file: No space left on device;"
        " the usage figures' triggers: could not extend file: No space left on device); the next sync builds it"
    ) in caplog.text

    monkeypatch.setattr(walk.Sync, "store", store)  # the builds before and after still fail
    run = sync(vobiz_client)
    assert run.status == SyncRun.Status.SUCCEEDED and run.created == Recording.objects.count() > 0


def test_the_connection_is_set_back_after_a_sync(fake_vobiz, vobiz_client):
    """A task worker's connection goes on to its next task with its own settings, whichever way the
    sync ended."""
    setting = "SHOW synchronous_commit" if connection.vendor == "postgresql" else "PRAGMA cache_size"

    def current():
        with connection.cursor() as cursor:
            cursor.execute(setting)
            return cursor.fetchone()[0]

    before = current()
    sync(vobiz_client, full=True)
    assert current() == before
    fake_vobiz.inject("401", times=1, path_contains="offset=400")
    with pytest.raises(SyncError, match="401"):
        sync(vobiz_client, full=True)
    assert current() == before
