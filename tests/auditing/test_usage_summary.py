"""The usage figures the database keeps as recordings and transcripts change (recordings/auditing/
usage_summary.py) equal a full recount after every kind of writer: syncs, callbacks' stores,
transcriptions and their replacements, deletions, recordings gone and seen again, ORM updates, row
deletions, a table emptied, and a migration that dropped the triggers. (The erasure's check is in
tests/requests/test_erasure.py.)"""

import io
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from recordings import usage_summary
from recordings.audit_trail import Actor
from recordings.auditing.deletion import process_batch, start_deletion
from recordings.auditing.usage import cost_by_month, first_of_month, per_day
from recordings.live.callbacks import TranscriptionCallback
from recordings.live.transcripts import masked_transcription, store_transcription
from recordings.models import Recording, Transcript, TranscriptionSlot, TranscriptVersion, UsageSlot, UsageTotal
from recordings.sync.normalise import normalise
from recordings.sync.run import sync_recordings
from recordings.sync.store import mark_gone, mark_seen, store_recordings
from recordings.sync.walk import SyncOptions
from tests.conftest import AUTH_ID, AUTH_TOKEN
from tests.factories import api_object, make_recording
from vobiz.fake.data import FakeAccount

pytestmark = pytest.mark.django_db(transaction=True)

SIX = Decimal("0.000001")


@pytest.fixture
def fake_account():
    return FakeAccount(count=60, seed=11, auth_id=AUTH_ID, auth_token=AUTH_TOKEN)


def quarter_hour(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    return moment.replace(minute=moment.minute // 15 * 15, second=0, microsecond=0)


def recount() -> tuple[dict, dict, dict]:
    """The three tables' figures from the recordings and transcripts themselves, in Python."""
    totals: dict = defaultdict(lambda: [0, 0, 0, Decimal(0), Decimal(0), 0])
    slots: dict = defaultdict(lambda: [0, 0, Decimal(0)])
    for r in Recording.objects.present():
        amount = r.monthly_recording_storage_amount or Decimal(0)
        total = totals[(r.recording_type, r.recording_format)]
        total[0] += 1
        total[1] += r.recording_duration_ms or 0
        total[2] += r.recording_storage_duration or 0
        total[3] += amount
        total[4] += r.recording_storage_rate or Decimal(0)
        total[5] += r.recording_storage_rate is not None
        if r.add_time is not None:
            slot = slots[quarter_hour(r.add_time)]
            slot[0] += 1
            slot[1] += r.recording_duration_ms or 0
            slot[2] += amount
    transcription: dict = defaultdict(lambda: [0, Decimal(0)])
    for model in (Transcript, TranscriptVersion):
        for received_at, charge in model.objects.values_list("received_at", "charge"):
            slot = transcription[quarter_hour(received_at)]
            slot[0] += 1
            slot[1] += charge or Decimal(0)
    return (
        {key: tuple(value) for key, value in totals.items()},
        {key: tuple(value) for key, value in slots.items()},
        {key: tuple(value) for key, value in transcription.items()},
    )


def kept() -> tuple[dict, dict, dict]:
    """The three tables as kept, each key's rows (folded and not) added up, without the keys that
    came back to nothing."""
    totals: dict = defaultdict(lambda: [0, 0, 0, Decimal(0), Decimal(0), 0])
    for t in UsageTotal.objects.all():
        total = totals[(t.recording_type, t.recording_format)]
        for n, value in enumerate((t.count, t.duration_ms, t.storage_days, t.amount, t.rate_sum, t.rate_count)):
            total[n] += value
    slots: dict = defaultdict(lambda: [0, 0, Decimal(0)])
    for s in UsageSlot.objects.all():
        slot = slots[s.slot.astimezone(UTC)]
        for n, value in enumerate((s.count, s.duration_ms, s.amount)):
            slot[n] += value
    transcription: dict = defaultdict(lambda: [0, Decimal(0)])
    for s in TranscriptionSlot.objects.all():
        slot = transcription[s.slot.astimezone(UTC)]
        slot[0] += s.count
        slot[1] += s.charge
    zero_total, zero_slot = (0, 0, 0, Decimal(0), Decimal(0), 0), (0, 0, Decimal(0))
    totals_now = {
        key: (*value[:3], value[3].quantize(SIX), value[4].quantize(SIX), value[5]) for key, value in totals.items()
    }
    slots_now = {key: (*value[:2], value[2].quantize(SIX)) for key, value in slots.items()}
    transcription_now = {key: (value[0], value[1].quantize(SIX)) for key, value in transcription.items()}
    return (
        {key: value for key, value in totals_now.items() if value != zero_total},
        {key: value for key, value in slots_now.items() if value != zero_slot},
        {key: value for key, value in transcription_now.items() if value != (0, Decimal(0))},
    )


def expected() -> tuple[dict, dict, dict]:
    totals, slots, transcription = recount()
    return (
        {key: (*value[:3], value[3].quantize(SIX), value[4].quantize(SIX), value[5]) for key, value in totals.items()},
        {key: (*value[:2], value[2].quantize(SIX)) for key, value in slots.items()},
        {key: (value[0], value[1].quantize(SIX)) for key, value in transcription.items()},
    )


def assert_summary_current() -> None:
    """The figures equal a recount with the triggers' change rows as they are, and again once the
    scheduler's fold has made them one row a key."""
    assert kept() == expected()
    usage_summary.fold()
    assert kept() == expected()
    for model in (UsageTotal, UsageSlot, TranscriptionSlot):
        assert not model.objects.filter(folded=False).exists()


def stored_again(**fields: object) -> list[dict]:
    """The first ten recordings as a later sync would store them, changed by `fields`."""
    return [{**normalise(r.raw), **fields} for r in Recording.objects.order_by("pk")[:10]]


def test_a_sync_then_a_sync_that_changes_storage_figures_keep_it_current(vobiz_client, synced):
    assert Recording.objects.count() == 60
    assert_summary_current()
    assert UsageTotal.objects.exists() and UsageSlot.objects.exists()

    # A later day's sync: storage days and amounts grow, a type and an add_time change.
    now = timezone.now()
    later = stored_again(recording_storage_duration=400, monthly_recording_storage_amount=Decimal("0.5"))
    later[0]["recording_type"] = "conference"
    later[1]["add_time"] = later[1]["add_time"] - timedelta(days=40, minutes=7)
    later[2]["add_time"] = None
    store_recordings(later, now=now)
    assert_summary_current()
    sync_recordings(SyncOptions(), client=vobiz_client)  # and back as Vobiz has them
    assert_summary_current()


def test_gone_seen_again_deleted_and_removed_recordings_keep_it_current(synced, auditor_user):
    ids = list(Recording.objects.order_by("pk").values_list("recording_id", flat=True)[:6])
    mark_gone(ids[0], now=timezone.now())
    assert_summary_current()
    mark_seen([ids[0]], now=timezone.now())
    assert_summary_current()

    actor = Actor(user=auditor_user, ip_address="127.0.0.1", user_agent="tests")
    batch = start_deletion(actor=actor, recordings=Recording.objects.filter(recording_id__in=ids[1:4]), reason="test")
    assert process_batch(batch.pk) is True
    assert Recording.objects.filter(recording_id__in=ids[1:4], deleted_at__isnull=False).count() == 3
    assert_summary_current()

    Recording.objects.filter(recording_id=ids[4]).delete()  # a row itself removed
    Recording.objects.filter(recording_id=ids[5]).update(recording_format="wav", recording_duration_ms=None)
    Recording.objects.filter(recording_id__in=ids[1:3]).update(deleted_at=None)  # no longer deleted
    Recording.objects.update(review_note="nothing the figures count")
    assert_summary_current()


def test_single_writes_null_figures_and_a_quarter_hours_edges(db):
    edge = datetime(2026, 3, 31, 18, 29, 59, 999999, tzinfo=UTC)  # 23:59:59 in Kolkata, +5:30
    first = make_recording(add_time=edge.isoformat(), monthly_recording_storage_amount="0.123456")
    make_recording(add_time=(edge + timedelta(microseconds=1)).isoformat())
    make_recording(add_time=None, recording_storage_rate=None, recording_duration_ms=None)
    assert_summary_current()
    assert UsageSlot.objects.filter(slot=datetime(2026, 3, 31, 18, 15, tzinfo=UTC)).get().count == 1
    first.recording_storage_rate = Decimal("0.000001")
    first.save()
    assert_summary_current()
    Recording.objects.create(**normalise(api_object()), first_synced_at=timezone.now(), last_synced_at=timezone.now())
    store_recordings([normalise(api_object())], now=timezone.now())  # a callback's store
    assert_summary_current()


def transcription(recording_id: str, text: str, charge: str | None) -> None:
    callback = TranscriptionCallback(
        recording_id=recording_id,
        call_uuid="",
        text=text,
        error="",
        duration_seconds=None,
        charge=None if charge is None else Decimal(charge),
        rate=None,
    )
    with transaction.atomic():  # as in the callback's view
        store_transcription(masked_transcription(callback))


def test_transcriptions_their_replacements_and_removals_keep_it_current(synced):
    first, second = Recording.objects.order_by("pk").values_list("recording_id", flat=True)[:2]
    transcription(first, "hello", "0.120000")
    transcription(second, "hello", None)
    assert_summary_current()
    transcription(first, "hello again", "0.300000")  # replaced: the first kept as a version
    transcription(first, "hello again", "0.300000")  # the same text: nothing changes
    assert TranscriptVersion.objects.count() == 1
    assert_summary_current()
    assert sum(slot.charge for slot in TranscriptionSlot.objects.all()) == Decimal("0.42")
    Transcript.objects.filter(recording_id=second).update(received_at=timezone.now() - timedelta(days=70))
    assert_summary_current()
    Transcript.objects.filter(recording_id=first).delete()  # and its version with it
    assert_summary_current()


def test_an_emptied_table_empties_it(synced):
    first = Recording.objects.order_by("pk").values_list("recording_id", flat=True)[0]
    transcription(first, "hello", "0.120000")
    assert kept()[2]
    with connection.cursor() as cursor:
        tables = ("recordings_transcriptversion", "recordings_transcript", "recordings_recording")
        if connection.vendor == "postgresql":
            cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")
        else:
            for table in tables:
                cursor.execute(f"DELETE FROM {table}")
    assert kept() == ({}, {}, {})
    assert_summary_current()


def test_after_a_migration_dropped_the_triggers_they_come_back_with_the_figures(synced):
    assert usage_summary.installed(connection)
    usage_summary.uninstall(connection)
    assert not usage_summary.installed(connection)
    Recording.objects.filter(pk__in=Recording.objects.order_by("pk").values("pk")[:5]).update(gone_at=timezone.now())
    assert kept() != expected()  # stale without them
    usage_summary.after_migrate(using=connection.alias, plan=[])
    assert usage_summary.installed(connection)
    assert_summary_current()
    Recording.objects.filter(pk=Recording.objects.order_by("pk").values_list("pk", flat=True).first()).delete()
    assert_summary_current()


def test_a_migrate_with_the_triggers_in_place_changes_nothing(synced):
    Recording.objects.filter(pk__in=Recording.objects.order_by("pk").values("pk")[:5]).update(gone_at=timezone.now())
    before = list(UsageTotal.objects.order_by("pk").values_list("pk", "count"))
    with CaptureQueriesContext(connection) as queries:
        usage_summary.after_migrate(using=connection.alias, plan=[])
    writes = [q["sql"] for q in queries if not q["sql"].lstrip().upper().startswith("SELECT")]
    assert writes == []  # neither a trigger dropped nor a table recounted, so no table locked
    assert list(UsageTotal.objects.order_by("pk").values_list("pk", "count")) == before


def test_a_trigger_not_as_defined_is_put_back_by_a_migrate(synced):
    table, trigger = usage_summary.trigger_names(connection)[0]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # an older definition: the same trigger, another body
            cursor.execute(
                f"CREATE OR REPLACE FUNCTION {trigger}() RETURNS trigger LANGUAGE plpgsql "
                "AS $$ BEGIN RETURN NULL; END $$"
            )
        else:
            cursor.execute(f"DROP TRIGGER {trigger}")
            cursor.execute(f"CREATE TRIGGER {trigger} AFTER INSERT ON {table} BEGIN SELECT 1; END")
    assert not usage_summary.installed(connection)
    usage_summary.after_migrate(using=connection.alias, plan=[])
    assert usage_summary.installed(connection)
    store_recordings([normalise(api_object())], now=timezone.now())
    assert_summary_current()


def test_after_a_flush_the_figures_are_counted_again(synced):
    # As flush may leave them: a summary emptied before the table it counts, whose deleted rows the
    # triggers then counted out.
    with connection.cursor() as cursor:
        for table in ("recordings_usagetotal", "recordings_usageslot", "recordings_transcriptionslot"):
            cursor.execute(f"DELETE FROM {table}")
    assert kept() != expected()
    usage_summary.after_migrate(using=connection.alias)  # flush's post_migrate: no plan
    assert_summary_current()


def test_a_fold_keeps_one_row_a_key_and_later_changes_on_top(synced):
    Recording.objects.update(recording_duration_ms=5)  # a first import on SQLite leaves folded rows only
    pending = UsageTotal.objects.filter(folded=False).count()
    assert pending > 0
    usage_summary.fold()
    keys = list(UsageTotal.objects.values_list("recording_type", "recording_format"))
    assert len(keys) == len(set(keys)) and UsageTotal.objects.filter(folded=True).count() == len(keys)
    Recording.objects.update(recording_duration_ms=7)
    assert UsageTotal.objects.filter(folded=False).exists()
    assert_summary_current()
    usage_summary.fold()  # nothing to fold: nothing changes
    assert_summary_current()


@pytest.mark.parametrize(
    "zone", ["Asia/Kolkata", "Asia/Kathmandu", "Pacific/Chatham", "Australia/Lord_Howe", "America/Santiago"]
)
def test_days_and_months_of_quarter_hours_follow_a_half_or_quarter_hour_zone(zone):
    # The last second of last month and the first of this one in Kolkata (+5:30): 18:29:59 and
    # 18:30 UTC, in the same UTC hour but not the same quarter hour, day or month; in Kathmandu
    # (+5:45), 18:14:59 and 18:15.
    with timezone.override(zone):
        first = timezone.localdate().replace(day=1)
        midnight = timezone.make_aware(datetime.combine(first, datetime.min.time()))
        for moment in (midnight - timedelta(seconds=1), midnight, midnight + timedelta(minutes=14)):
            make_recording(add_time=moment.isoformat(), monthly_recording_storage_amount="1")
        days = {day.day: day.count for day in per_day(90) if day.count}
        months = {month.month: (month.count, month.amount) for month in cost_by_month(2)}
    assert days == {first - timedelta(days=1): 1, first: 2}
    assert months == {first_of_month(first, 1): (1, Decimal(1)), first: (2, Decimal(2))}


def test_moves_by_f_expressions_of_add_time_and_received_at_keep_it_current():
    moved = make_recording(add_time="2026-03-31T18:29:59.5+00:00", monthly_recording_storage_amount="0.1")
    make_recording(add_time="2026-03-31T18:44:00+00:00", monthly_recording_storage_amount="0.2")
    transcription(moved.recording_id, "hello", None)
    Recording.objects.update(add_time=F("add_time") + timedelta(minutes=1, microseconds=500000))
    Transcript.objects.update(received_at=F("received_at") - timedelta(days=40), charge=Decimal("0.1"))
    Recording.objects.update(monthly_recording_storage_amount=F("monthly_recording_storage_amount") * 3)
    assert_summary_current()
    Recording.objects.filter(pk=moved.pk).update(deleted_at=F("add_time"))
    assert_summary_current()


def test_a_dump_loaded_again_keeps_it_current(tmp_path):
    """loaddata restores the summaries' rows and, through the triggers, counts the recordings
    loaded with them too: a recount once the load commits."""
    make_recording(recording_type="call", monthly_recording_storage_amount="1.000000")
    make_recording(recording_type="conference", monthly_recording_storage_amount="2.000000")
    usage_summary.fold()
    make_recording(recording_type="call", monthly_recording_storage_amount="4.000000")  # a change row too
    out = io.StringIO()
    call_command("dumpdata", "recordings.recording", "recordings.usagetotal", "recordings.usageslot", stdout=out)
    before = expected()
    call_command("flush", "--no-input")
    fixture = tmp_path / "dump.json"
    fixture.write_text(out.getvalue())
    call_command("loaddata", str(fixture), verbosity=0)
    assert expected() == before
    assert_summary_current()


def dsn() -> str:
    settings = connection.settings_dict
    return f"host={settings['HOST']} port={settings['PORT']} user={settings['USER']} dbname={settings['NAME']}"


def in_threads(*works: Callable[[], None]) -> None:
    threads = [threading.Thread(target=work) for work in works]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


on_postgresql = pytest.mark.skipif("connection.vendor != 'postgresql'", reason="PostgreSQL's row locks")


@on_postgresql
def test_a_sync_page_and_a_deletion_do_not_deadlock():
    """A full sync's page (store_recordings changing one recording's storage figures, then
    mark_seen of the page) against a deletion's tombstone (SELECT ... FOR UPDATE of a recording of
    that page, then its deleted_at) of the same type: the shared total row deadlocked them."""
    stored = make_recording(recording_type="call", add_time="2026-01-01T00:00:00+00:00")
    deleted = make_recording(recording_type="call", add_time="2026-02-01T00:00:00+00:00")
    errors: list[Exception] = []
    step = threading.Barrier(2)

    def sync_page() -> None:
        with psycopg.connect(dsn()) as conn:
            try:
                with conn.transaction():
                    conn.execute(
                        "UPDATE recordings_recording SET monthly_recording_storage_amount = "
                        "coalesce(monthly_recording_storage_amount, 0) + 0.001 WHERE id = %s",
                        [stored.pk],
                    )
                    step.wait(timeout=10)  # the tombstone locks its recording
                    step.wait(timeout=10)
                    conn.execute(
                        "UPDATE recordings_recording SET last_synced_at = now(), gone_at = NULL WHERE id = %s",
                        [deleted.pk],
                    )
            except psycopg.Error as error:
                errors.append(error)

    def tombstone() -> None:
        with psycopg.connect(dsn()) as conn:
            try:
                with conn.transaction():
                    step.wait(timeout=10)
                    conn.execute("SELECT id FROM recordings_recording WHERE id = %s FOR UPDATE", [deleted.pk])
                    step.wait(timeout=10)
                    time.sleep(0.3)  # the sync's mark_seen waits for the recording
                    conn.execute("UPDATE recordings_recording SET deleted_at = now() WHERE id = %s", [deleted.pk])
            except psycopg.Error as error:
                errors.append(error)

    in_threads(sync_page, tombstone)
    assert errors == []
    assert_summary_current()


@on_postgresql
def test_transactions_changing_two_types_in_opposite_orders_do_not_deadlock():
    ids = [
        make_recording(recording_type=kind, add_time=f"2026-0{month}-01T00:00:00+00:00").pk
        for kind, month in (("call", 1), ("conference", 2), ("call", 3), ("conference", 4))
    ]
    errors: list[Exception] = []
    both = threading.Barrier(2)

    def change(first: int, second: int) -> Callable[[], None]:
        def work() -> None:
            update = (
                "UPDATE recordings_recording SET recording_duration_ms = coalesce(recording_duration_ms, 0) + 1 "
                "WHERE id = %s"
            )
            with psycopg.connect(dsn()) as conn:
                try:
                    with conn.transaction():
                        conn.execute(update, [first])
                        both.wait(timeout=10)
                        conn.execute(update, [second])
                except psycopg.Error as error:
                    errors.append(error)

        return work

    in_threads(change(ids[0], ids[1]), change(ids[3], ids[2]))
    assert errors == []
    assert_summary_current()


@on_postgresql
def test_a_writer_waits_neither_for_another_nor_for_a_fold():
    """Two writers of recordings of one type and quarter hour, and a fold, while the first has not
    committed: none waits (a lock wait over a second fails); the uncommitted change is folded by
    a later fold."""
    first = make_recording(recording_type="call", add_time="2026-01-01T00:00:00+00:00")
    second = make_recording(recording_type="call", add_time="2026-01-01T00:01:00+00:00")
    update = "UPDATE recordings_recording SET recording_duration_ms = 5 WHERE id = %s"
    with psycopg.connect(dsn()) as writing, psycopg.connect(dsn(), autocommit=True) as other:
        writing.execute(update, [first.pk])  # not committed
        other.execute("SET lock_timeout = '1s'")
        other.execute(update, [second.pk])
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '1s'")
        try:
            usage_summary.fold()
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET lock_timeout")
        writing.commit()
    assert_summary_current()


@on_postgresql
def test_concurrent_writers_of_one_type_lose_nothing():
    make_recording(recording_type="call", recording_duration_ms=1000)
    start = threading.Barrier(5)

    def write() -> None:
        with psycopg.connect(dsn()) as conn:
            start.wait(timeout=10)
            for _ in range(30):
                conn.execute(
                    "UPDATE recordings_recording SET recording_duration_ms = coalesce(recording_duration_ms, 0) + 1, "
                    "add_time = add_time + interval '17 minutes'"
                )
                conn.commit()

    def fold() -> None:
        start.wait(timeout=10)
        for _ in range(10):
            usage_summary.fold()
            time.sleep(0.02)
        connection.close()

    in_threads(write, write, write, write, fold)
    assert_summary_current()


@on_postgresql
def test_a_recount_waits_for_a_fold_under_way_and_counts_its_rows_once():
    """A fold that has replaced the change rows by its folded rows, not yet committed, when a
    recount (after a first import, a flush, a load) starts: without waiting for it, the recount's
    DELETE missed the fold's new rows, and its own were refused beside them, or added to them."""
    make_recording(recording_type="call", add_time="2026-01-01T00:00:00+00:00")
    make_recording(recording_type="conference", add_time="2026-01-02T00:00:00+00:00")
    summary = usage_summary.TOTALS
    columns = ", ".join((*summary.keys, *summary.sums))
    with psycopg.connect(dsn()) as fold:
        fold.execute(
            f"WITH f AS (DELETE FROM {summary.table} WHERE NOT folded RETURNING {columns}) "
            + usage_summary.fold_into(summary, "f")
        )  # the fold's statement, in a transaction left open

        errors: list[Exception] = []

        def recount() -> None:
            try:
                usage_summary.recount(connection)
            except Exception as error:  # a unique violation of the folded rows, without the wait
                errors.append(error)
            finally:
                connection.close()

        recounting = threading.Thread(target=recount)
        recounting.start()
        deadline = time.monotonic() + 10
        with psycopg.connect(dsn(), autocommit=True) as watcher:
            while not watcher.execute("SELECT count(*) FROM pg_locks WHERE NOT granted").fetchone()[0]:
                assert time.monotonic() < deadline, "the recount never waited"
                time.sleep(0.02)
        fold.commit()
        recounting.join(timeout=10)
    assert not recounting.is_alive() and errors == []
    assert_summary_current()
