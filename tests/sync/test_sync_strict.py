"""The sync against a fake Vobiz as strict as the docs allow: a list that moves while it is read, a
clock that moves, older shapes, either order, repeated ids, odd Retry-After headers."""

import logging
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone as dj_timezone

from recordings.models import Recording, SyncRun, SyncState
from recordings.sync.run import sync_recordings
from recordings.sync.walk import SyncError, SyncOptions
from tests.conftest import AUTH_ID, AUTH_TOKEN, list_requests
from vobiz.fake.data import FakeAccount

pytestmark = pytest.mark.django_db


def sync(client, **options):
    return sync_recordings(SyncOptions(**options), client=client)


def stored_ids():
    return set(Recording.objects.values_list("recording_id", flat=True))


def upstream_ids(fake_vobiz, listed_only=False):
    """Every recording in the list; with `listed_only`, but those that arrived after the last
    page served (the longest list a page showed), which no page could show. With pages served in
    parallel that can be more than one page's arrivals."""
    account = fake_vobiz.account
    objects = account.page(0, 2 * len(account) + 10)[0]
    unseen = len(objects) - fake_vobiz.longest_list_served if listed_only else 0
    newest_first = not account.oldest_first
    kept = objects[unseen:] if newest_first else objects[: len(objects) - unseen]
    return {o["recording_id"] for o in kept}


# ---- a list that moves while it is read -------------------------------------------------------


@pytest.mark.parametrize("arrivals", [1, 5, 25])
@pytest.mark.parametrize("full", [True, False])
def test_recordings_arriving_after_every_page_are_all_read(fake_vobiz, vobiz_client, arrivals, full):
    fake_vobiz.arrivals_per_page = arrivals
    run = sync(vobiz_client, full=full, workers=4)
    fake_vobiz.arrivals_per_page = 0
    assert run.status == "succeeded"
    assert stored_ids() == upstream_ids(fake_vobiz, listed_only=True)
    assert len(fake_vobiz.account) > 1234 + arrivals
    assert SyncState.objects.get().unread == []


def test_a_quarter_page_of_arrivals_per_page_on_short_pages_with_many_workers(fake_vobiz, vobiz_client):
    fake_vobiz.max_page_size = 20
    fake_vobiz.arrivals_per_page = 5
    sync(vobiz_client, full=True, workers=8)
    fake_vobiz.arrivals_per_page = 0
    assert stored_ids() == upstream_ids(fake_vobiz, listed_only=True)


def test_the_incremental_run_after_a_walk_with_arrivals_reads_only_the_new(fake_vobiz, vobiz_client):
    fake_vobiz.arrivals_per_page = 25
    sync(vobiz_client)
    fake_vobiz.arrivals_per_page = 0
    fake_vobiz.reset_log()
    run = sync(vobiz_client)
    assert run.created == 25  # those that arrived after the first run's last page
    assert stored_ids() == upstream_ids(fake_vobiz)
    assert len(list_requests(fake_vobiz)) == 1


def test_holes_that_cannot_be_closed_fail_the_run_and_the_next_run_reads_them_first(fake_vobiz, vobiz_client):
    fake_vobiz.arrivals_per_page = 150  # more than a page arrives per page read: the walk cannot win
    with pytest.raises(SyncError, match="could not be read"):
        sync(vobiz_client, workers=2)
    fake_vobiz.arrivals_per_page = 0
    run = SyncRun.objects.get()
    assert run.status == "failed" and run.unread > 0
    state = SyncState.objects.get()
    holes = sum(high - low for low, high in state.unread)
    assert holes == run.unread
    assert len(upstream_ids(fake_vobiz, listed_only=True) - stored_ids()) == holes

    fake_vobiz.reset_log()
    nxt = sync(vobiz_client, workers=2)
    assert nxt.status == "succeeded" and nxt.created == holes + 150
    assert stored_ids() == upstream_ids(fake_vobiz)
    # the first page for the total and order, then the holes, a page at a time, and nothing else
    assert len(list_requests(fake_vobiz)) <= 2 + -(-holes // 100) + len(state.unread)


def test_a_run_with_holes_left_says_so_in_the_command_exit_status(fake_vobiz):
    fake_vobiz.arrivals_per_page = 150
    with pytest.raises(CommandError, match="could not be read"):
        call_command("sync_recordings", "--workers", "2")


# ---- news by ids, not by content -------------------------------------------------------------


def test_a_day_later_storage_days_moving_do_not_make_the_incremental_run_walk(fake_vobiz, vobiz_client):
    sync(vobiz_client)
    fake_vobiz.account.advance_clock(days=1)
    new = fake_vobiz.account.add_recordings(3)
    fake_vobiz.reset_log()
    run = sync(vobiz_client)
    assert run.created == 3
    assert set(new) <= stored_ids()
    assert len(list_requests(fake_vobiz)) <= 2


def test_the_clock_moves_storage_days_in_the_fake():
    account = FakeAccount(count=10, seed=2)
    before = account.page(0, 1)[0][0]
    account.advance_clock(days=2)
    after = account.page(0, 1)[0][0]
    assert after["recording_storage_duration"] == before["recording_storage_duration"] + 2
    assert after["add_time"] == before["add_time"]


def test_a_full_walk_a_day_later_refreshes_the_storage_days(fake_vobiz, vobiz_client):
    sync(vobiz_client)
    fake_vobiz.account.advance_clock(days=1)
    run = sync(vobiz_client, full=True)
    assert run.updated == 1234
    newest = fake_vobiz.account.page(0, 1)[0][0]
    row = Recording.objects.get(recording_id=newest["recording_id"])
    assert row.recording_storage_duration == newest["recording_storage_duration"]


def test_recordings_deleted_upstream_and_as_many_new_are_still_found(fake_vobiz, vobiz_client):
    sync(vobiz_client)
    for obj in fake_vobiz.account.page(600, 150)[0]:
        fake_vobiz.account.delete(obj["recording_id"])
    new = fake_vobiz.account.add_recordings(150)
    run = sync(vobiz_client)
    assert run.created == 150
    assert set(new) <= stored_ids()


# ---- shapes ----------------------------------------------------------------------------------


def test_short_and_recordings_shapes_are_completed_by_retrieving_each(fake_vobiz, vobiz_client):
    fake_vobiz.max_page_size = 50
    fake_vobiz.short_shape_every = 10
    fake_vobiz.recordings_shape_every = 3
    run = sync(vobiz_client, workers=4)
    assert (run.status, run.skipped, run.incomplete) == ("succeeded", 0, 0)
    assert stored_ids() == upstream_ids(fake_vobiz)
    upstream = {o["recording_id"]: o for o in fake_vobiz.account.page(0, 1234)[0]}
    for row in Recording.objects.all():
        assert row.raw == upstream[row.recording_id]
        assert row.call_uuid == upstream[row.recording_id]["call_uuid"]
    gets = [r for r in fake_vobiz.requests_log if r.method == "GET" and not r.path.endswith("/Recording/")]
    assert gets  # completing took requests of its own


def test_an_object_that_cannot_be_completed_is_stored_with_what_it_has_and_counted(fake_vobiz, vobiz_client):
    target = fake_vobiz.account.page(5, 1)[0][0]["recording_id"]
    short = {
        "recording_id": target,
        "recording_url": "https://media.vobiz.ai/x.mp3",
        "duration": 12,
        "file_format": "mp3",
    }
    fake_vobiz.account.set_override(target, short, replace=True)  # retrieving it answers the same
    out = StringIO()
    call_command("sync_recordings", stdout=out)
    row = Recording.objects.get(recording_id=target)
    assert (row.add_time, row.recording_duration_ms, row.recording_format) == (None, 12_000, "mp3")
    assert SyncRun.objects.get().incomplete == 1
    assert "1 incomplete" in out.getvalue().strip().splitlines()[-1]
    assert Recording.objects.count() == 1234


def test_repeated_ids_within_a_page_are_stored_once(fake_vobiz, vobiz_client):
    fake_vobiz.account.duplicate_every = 7
    objects, total = fake_vobiz.account.page(0, 100)
    assert len({o["recording_id"] for o in objects}) < len(objects)
    run = sync(vobiz_client, workers=4)
    assert stored_ids() == upstream_ids(fake_vobiz)
    assert run.created == 1234


# ---- order -----------------------------------------------------------------------------------


@pytest.fixture
def oldest_first_account():
    return FakeAccount(count=1234, seed=7, auth_id=AUTH_ID, auth_token=AUTH_TOKEN, oldest_first=True)


def test_oldest_first_lists_are_read_at_the_tail(fake_vobiz, vobiz_client, oldest_first_account):
    fake_vobiz.account = oldest_first_account
    sync(vobiz_client)
    assert Recording.objects.count() == 1234
    new = oldest_first_account.add_recordings(5)
    fake_vobiz.reset_log()
    run = sync(vobiz_client)
    assert run.created == 5 and set(new) <= stored_ids()
    assert len(list_requests(fake_vobiz)) <= 2
    assert SyncState.objects.get().order == "oldest_first"


def test_oldest_first_with_arrivals_after_every_page(fake_vobiz, vobiz_client, oldest_first_account):
    fake_vobiz.account = oldest_first_account
    fake_vobiz.arrivals_per_page = 25
    sync(vobiz_client, full=True, workers=4)
    fake_vobiz.arrivals_per_page = 0
    assert stored_ids() == upstream_ids(fake_vobiz, listed_only=True)


def test_an_order_that_cannot_be_told_means_a_full_walk_with_a_log_line(fake_vobiz, vobiz_client, caplog):
    sync(vobiz_client)
    first, second = fake_vobiz.account.page(0, 2)[0]
    fake_vobiz.account.set_override(0, {"add_time": second["add_time"]})
    fake_vobiz.account.set_override(1, {"add_time": first["add_time"]})
    fake_vobiz.account.set_override(2, {"add_time": first["add_time"]})
    fake_vobiz.reset_log()
    with caplog.at_level(logging.WARNING, logger="recordings.sync"):
        run = sync(vobiz_client)
    assert "order" in caplog.text and "every page" in caplog.text
    assert len(list_requests(fake_vobiz)) >= 13
    assert run.status == "succeeded"


# ---- the smaller cases -----------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["429-retry-after-date", "429-retry-after-malformed"])
def test_odd_retry_after_headers_are_retried(fake_vobiz, vobiz_client, fault):
    fake_vobiz.inject(fault, times=2)
    run = sync(vobiz_client)
    assert run.status == "succeeded"
    assert Recording.objects.count() == 1234


def test_a_big_run_refreshes_the_planner_statistics(fake_vobiz, vobiz_client):
    sync(vobiz_client)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [Recording._meta.db_table])
            assert cursor.fetchone()[0] >= 1000
        else:
            cursor.execute("SELECT stat FROM sqlite_stat1 WHERE tbl = %s", [Recording._meta.db_table])
            assert cursor.fetchall()


def test_the_sync_page_shows_what_was_not_read_and_the_counts(fake_vobiz, vobiz_client, support_client):
    fake_vobiz.arrivals_per_page = 150
    with pytest.raises(SyncError):
        sync(vobiz_client, workers=2)
    unread = SyncState.objects.get().unread_count
    page = support_client.get("/sync/").content.decode()
    assert f"{unread} recordings could not be read yet" in page
    assert "Incomplete" in page and "Not read" in page


def test_storage_days_are_derived_from_add_time_between_full_walks(fake_vobiz, vobiz_client, support_client):
    sync(vobiz_client)
    row = Recording.objects.order_by("-add_time").first()
    page = support_client.get(f"/recordings/{row.recording_id}/").content.decode()
    days = (dj_timezone.now() - row.add_time).days  # the fake's clock stands in May
    assert days > row.recording_storage_duration
    assert f"{days} days" in page
    assert f"({row.recording_storage_duration} as read from Vobiz on" in page
