"""The usage figures the database keeps as recordings and transcripts change (recordings/auditing/
usage_summary.py) equal a full recount after every kind of writer: syncs, callbacks' stores,
transcriptions and their replacements, deletions, recordings gone and seen again, ORM updates, row
deletions, a table emptied, and a migration that dropped the triggers. (The erasure's check is in
tests/requests/test_erasure.py.)"""

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from recordings.audit_trail import Actor
from recordings.auditing import usage_summary
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
    """The three tables as kept, without the rows that came back to nothing."""
    totals = {
        (t.recording_type, t.recording_format): (
            t.count,
            t.duration_ms,
            t.storage_days,
            t.amount.quantize(SIX),
            t.rate_sum.quantize(SIX),
            t.rate_count,
        )
        for t in UsageTotal.objects.all()
    }
    slots = {s.slot.astimezone(UTC): (s.count, s.duration_ms, s.amount.quantize(SIX)) for s in UsageSlot.objects.all()}
    transcription = {s.slot.astimezone(UTC): (s.count, s.charge.quantize(SIX)) for s in TranscriptionSlot.objects.all()}
    zero_total, zero_slot = (0, 0, 0, Decimal(0), Decimal(0), 0), (0, 0, Decimal(0))
    return (
        {key: value for key, value in totals.items() if value != zero_total},
        {key: value for key, value in slots.items() if value != zero_slot},
        {key: value for key, value in transcription.items() if value != (0, Decimal(0))},
    )


def expected() -> tuple[dict, dict, dict]:
    totals, slots, transcription = recount()
    return (
        {key: (*value[:3], value[3].quantize(SIX), value[4].quantize(SIX), value[5]) for key, value in totals.items()},
        {key: (*value[:2], value[2].quantize(SIX)) for key, value in slots.items()},
        {key: (value[0], value[1].quantize(SIX)) for key, value in transcription.items()},
    )


def assert_summary_current() -> None:
    assert kept() == expected()


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
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("TRUNCATE recordings_recording CASCADE")
        else:
            cursor.execute("DELETE FROM recordings_recording")
    assert kept()[:2] == ({}, {})


def installed(connection) -> bool:
    """Whether every trigger is there."""
    names = [trigger for _, trigger in usage_summary.trigger_names(connection)]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT count(DISTINCT tgname) FROM pg_trigger WHERE tgname = ANY(%s)", [names])
        else:
            places = ", ".join(["%s"] * len(names))
            cursor.execute(f"SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name IN ({places})", names)
        return cursor.fetchone()[0] == len(names)


def test_after_a_migration_dropped_the_triggers_they_come_back_with_the_figures(synced):
    assert installed(connection)
    usage_summary.uninstall(connection)
    assert not installed(connection)
    Recording.objects.filter(pk__in=Recording.objects.order_by("pk").values("pk")[:5]).update(gone_at=timezone.now())
    assert kept() != expected()  # stale without them
    usage_summary.after_migrate(using=connection.alias)
    assert installed(connection)
    assert_summary_current()
    Recording.objects.filter(pk=Recording.objects.order_by("pk").values_list("pk", flat=True).first()).delete()
    assert_summary_current()


def test_days_and_months_of_quarter_hours_follow_a_half_hour_zone():
    # The last second of last month and the first of this one in Kolkata (+5:30): 18:29:59 and
    # 18:30 UTC, in the same UTC hour but not the same quarter hour, day or month.
    with timezone.override("Asia/Kolkata"):
        first = timezone.localdate().replace(day=1)
        midnight = timezone.make_aware(datetime.combine(first, datetime.min.time()))
        for moment in (midnight - timedelta(seconds=1), midnight, midnight + timedelta(minutes=14)):
            make_recording(add_time=moment.isoformat(), monthly_recording_storage_amount="1")
        days = {day.day: day.count for day in per_day(90) if day.count}
        months = {month.month: (month.count, month.amount) for month in cost_by_month(2)}
    assert days == {first - timedelta(days=1): 1, first: 2}
    assert months == {first_of_month(first, 1): (1, Decimal(1)), first: (2, Decimal(2))}
