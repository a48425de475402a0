"""The sync's hand-written upsert writes exactly what Django's bulk_create(update_conflicts=True)
writes: every column, new rows and updated ones, on SQLite and PostgreSQL. It breaks when Django
or the model changes what a row holds, so the statement is brought back in line (or retired)."""

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import DatabaseError, IntegrityError, connection, transaction

from recordings.models import Recording
from recordings.sync.normalise import normalise
from recordings.sync.store import UPDATED_FIELDS, synced_row, upsert_recordings
from tests.factories import api_object

pytestmark = pytest.mark.django_db

FIRST = datetime(2026, 11, 30, 8, 0, 0, 123456, tzinfo=timezone.utc)
LATER = FIRST + timedelta(days=1, microseconds=7)


def rows(objects, synced_at):
    return [synced_row(normalise(obj), now=synced_at) for obj in objects]


def with_bulk_create(rows):
    Recording.objects.bulk_create(
        [Recording(**row) for row in rows],
        update_conflicts=True,
        unique_fields=["recording_id"],
        update_fields=UPDATED_FIELDS,
    )


def table():
    """Every column of every row but the primary key, by recording id."""
    names = [f.attname for f in Recording._meta.concrete_fields if not f.primary_key]
    return {row["recording_id"]: row for row in Recording.objects.values(*names)}


def objects():
    return [
        api_object(recording_id="rec-plain"),
        api_object(
            recording_id="rec-odd",
            recording_storage_rate="0.0049999",
            monthly_recording_storage_amount="12.3456789",
            recording_duration_ms=None,
            add_time="2026-05-07 17:24:07.573359+05:30",
            conference_name='Zürich — 東京 "bridge"',
            extra={"nested": [1, 2.5, None, "ü"]},
        ),
        {
            "recording_id": "rec-short",
            "recording_url": "http://127.0.0.1:9/a.mp3",
            "duration": 12,
            "file_format": "mp3",
        },
    ]


def changed(objs):
    return [
        {**obj, "recording_storage_duration": 4, "monthly_recording_storage_amount": "0.01", "to_number": "+15550001"}
        for obj in objs
    ]


def audited():
    """Auditing columns an auditor set on the stored rows: the sync must keep them."""
    user = get_user_model().objects.create_user("auditor")
    Recording.objects.update(review_state="reviewed", reviewed_by=user, reviewed_at=FIRST, review_note="checked")


def test_new_rows_are_written_as_bulk_create_writes_them():
    objs = objects()
    upsert_recordings(rows(objs, FIRST))
    by_hand = table()
    Recording.objects.all().delete()
    with_bulk_create(rows(objs, FIRST))
    assert by_hand == table()
    assert len(by_hand) == 3
    assert by_hand["rec-odd"]["monthly_recording_storage_amount"] == Decimal("12.345679")
    assert by_hand["rec-odd"]["review_state"] == "" and by_hand["rec-odd"]["reviewed_by_id"] is None


def test_stored_rows_are_updated_as_bulk_create_updates_them_keeping_the_auditors_columns():
    objs, results = objects(), []
    for write in (upsert_recordings, with_bulk_create):
        Recording.objects.all().delete()
        get_user_model().objects.all().delete()
        write(rows(objs, FIRST))
        audited()
        write(rows(changed(objs), LATER))
        results.append(table())
    by_hand, by_bulk_create = results
    for row in by_hand.values():
        row.pop("reviewed_by_id")  # a new user each time; both kept it, checked below
    for row in by_bulk_create.values():
        assert row.pop("reviewed_by_id") is not None
    assert by_hand == by_bulk_create
    row = by_hand["rec-plain"]
    assert (row["first_synced_at"], row["last_synced_at"]) == (FIRST, LATER)
    assert (row["review_state"], row["review_note"], row["to_number"]) == ("reviewed", "checked", "+15550001")
    assert row["recording_storage_duration"] == 4


def test_a_page_larger_than_one_statement_is_written_whole():
    objs = [api_object() for _ in range(250)]
    upsert_recordings(rows(objs, FIRST))
    assert Recording.objects.count() == 250


@pytest.mark.parametrize(
    "field, value",
    [("from_number", "1" * 65), ("recording_id", "r" * 129), ("recording_storage_rate", Decimal("1e12"))],
)
def test_a_value_too_long_or_too_large_for_its_column_is_refused_as_bulk_create_refuses_it(field, value):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite does not enforce lengths and precisions")
    row = {**rows([api_object(recording_id="rec-long")], FIRST)[0], field: value}
    with pytest.raises(DatabaseError), transaction.atomic():
        with_bulk_create([row])
    with pytest.raises(DatabaseError), transaction.atomic():  # never cut to fit
        upsert_recordings([row])
    assert not Recording.objects.exists()


def test_the_drivers_errors_are_raised_as_djangos():
    row = {**rows([api_object(recording_id="rec-null")], FIRST)[0], "recording_id": None}
    with pytest.raises(IntegrityError), transaction.atomic():  # Django's, which callers catch
        upsert_recordings([row])
