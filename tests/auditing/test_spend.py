"""Spend by month on /usage/: storage at each month's end, transcription charges from the callbacks,
call charges from the CDRs fetched, and which months are partial."""

from datetime import UTC, datetime, time
from decimal import Decimal

import pytest
from django.utils import timezone

from recordings.auditing.usage import first_of_month
from recordings.models import CallDetail, Recording, Transcript, TranscriptVersion
from tests.factories import make_recording

pytestmark = pytest.mark.django_db


def on(month, day: int, hour: int = 12) -> datetime:
    return datetime.combine(month.replace(day=day), time(hour), tzinfo=UTC)


@pytest.fixture
def months():
    today = timezone.localdate()
    return first_of_month(today, 2), first_of_month(today, 1), first_of_month(today)


@pytest.fixture
def spending(months):
    two_ago, last, _ = months
    now = timezone.now()
    first = make_recording(add_time=on(two_ago, 10).isoformat(), monthly_recording_storage_amount=1)
    second = make_recording(add_time=on(last, 5).isoformat(), monthly_recording_storage_amount=2)
    deleted = make_recording(add_time=on(two_ago, 12).isoformat(), monthly_recording_storage_amount=4)
    Recording.objects.filter(pk=deleted.pk).update(deleted_at=on(last, 20))
    make_recording(add_time=now.isoformat(), monthly_recording_storage_amount=8)
    for recording, charge, when in [(first, "0.50", on(last, 2)), (second, "0.25", on(last, 6))]:
        Transcript.objects.create(
            recording_id=recording.recording_id, charge=Decimal(charge), received_at=when, updated_at=when
        )
    CallDetail.objects.create(
        call_uuid=second.call_uuid,
        data={"start_time": on(last, 5).isoformat().replace("+00:00", "Z"), "total_cost": "1.25", "currency": "INR"},
        fetched_at=now,
    )
    CallDetail.objects.create(  # in another currency: not added to the rupees
        call_uuid=first.call_uuid,
        data={"start_time": on(two_ago, 10).isoformat(), "total_cost": "9", "currency": "USD"},
        fetched_at=now,
    )


def test_each_months_storage_transcription_and_call_charges(spending, months, auditor_client, settings) -> None:
    settings.BILLING_CURRENCY = "INR"
    two_ago, last, this = months
    response = auditor_client.get("/usage/")
    assert response.status_code == 200
    spend = {month.month: month for month in response.context["spend"]}
    assert list(spend) == [two_ago, last, this]  # from the first month of data on
    # Stored at the month's end: the deleted recording counts in its last month stored only.
    assert [spend[m].storage for m in months] == [Decimal(5), Decimal(3), Decimal(11)]
    assert spend[last].transcription == Decimal("0.75") and spend[last].transcripts == 2
    assert spend[last].calls == Decimal("1.25") and (spend[last].calls_known, spend[last].recordings) == (1, 1)
    assert spend[two_ago].calls == 0 and (spend[two_ago].calls_known, spend[two_ago].recordings) == (0, 1)
    assert spend[last].total == Decimal("5.00")
    page = response.content.decode()
    assert "Spend by month" in page


def test_partial_months_say_why(spending, months, auditor_client) -> None:
    two_ago, last, this = months
    spend = {month.month: month for month in auditor_client.get("/usage/").context["spend"]}
    assert any("first month of data" in why for why in spend[two_ago].partial)
    assert "call charges from 0 call records for 1 recording" in spend[two_ago].partial
    assert spend[last].partial == []
    assert "the month so far" in spend[this].partial
    page = auditor_client.get("/usage/").content.decode()
    assert f'data-spend-month="{last.isoformat()}"' in page
    assert "Partial: the month so far" in page


def test_no_recordings_no_spend(auditor_client) -> None:
    response = auditor_client.get("/usage/")
    assert response.context["spend"] == []
    assert "nothing has been spent" in response.content.decode()


def test_support_does_not_see_spend(support_client) -> None:
    assert support_client.get("/usage/").status_code == 403


def test_a_replaced_transcripts_charge_still_counts(spending, months, auditor_client, settings) -> None:
    settings.BILLING_CURRENCY = "INR"
    two_ago, last, _ = months
    transcript = Transcript.objects.order_by("received_at").first()
    TranscriptVersion.objects.create(
        transcript=transcript, number=1, charge=Decimal("0.40"), received_at=on(two_ago, 11), replaced_at=on(last, 2)
    )
    response = auditor_client.get("/usage/")
    spend = {month.month: month for month in response.context["spend"]}
    assert spend[two_ago].transcription == Decimal("0.40") and spend[two_ago].transcripts == 1
    assert spend[last].transcription == Decimal("0.75")
    assert "the callbacks name no currency, so their charges are taken to be in INR" in response.content.decode()
