"""Spend by month: storage, transcription and call charges, each as far as the dashboard knows it.

- Storage: what the recordings stored at the month's end cost a month (each recording's
  `monthly_recording_storage_amount`, as Vobiz gives it now: today's rates). The month in progress
  counts what is stored now.
- Transcription: the charges Vobiz's transcription callbacks reported, by the month they came,
  a transcript's replaced versions included (each transcription was charged). The callbacks name
  no currency: their charges are taken to be in the billing currency.
- Calls: the charges of the call detail records (CDRs) the dashboard has fetched (a CDR is fetched
  when someone opens a call's page), by the month the call started. A month with fewer of them
  than recordings is partial, and says how many are known.

The first month of data (which starts on its oldest recording's day) and the month in progress
are partial too; months before the oldest recording are not shown.
"""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from recordings.auditing.usage import Month, first_of_month, sums_by_period
from recordings.models import CallDetail, Recording, TranscriptionSlot
from recordings.time_zones import start_of_local_day

ZERO = Decimal(0)


@dataclass
class MonthSpend:
    month: date  # its first day
    storage: Decimal = ZERO
    transcription: Decimal = ZERO
    transcripts: int = 0
    calls: Decimal = ZERO
    recordings: int = 0  # added in the month and still at Vobiz
    calls_known: int = 0  # calls whose CDR (in the billing currency) gives a charge
    partial: list[str] = field(default_factory=list)  # why the month's figures are not whole

    @property
    def total(self) -> Decimal:
        return self.storage + self.transcription + self.calls


def month_of(value: datetime) -> date:
    """The first day of the month `value` falls in, in the current time zone."""
    return timezone.localtime(value).date().replace(day=1)


def next_month(month: date) -> date:
    return first_of_month(month, -1)


def amount(value: object) -> Decimal | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def call_charge(cdr: dict[str, Any]) -> tuple[datetime | None, Decimal | None]:
    """When a CDR's call started, and what it cost in the billing currency (None in another one)."""
    started = None
    for key in ("start_time", "created_at"):
        text = cdr.get(key)
        if isinstance(text, str):
            try:
                started = parse_datetime(text)
            except ValueError:
                started = None
            if started is not None:
                break
    if started is not None and timezone.is_naive(started):  # Vobiz writes UTC
        started = started.replace(tzinfo=UTC)
    currency = str(cdr.get("currency") or settings.BILLING_CURRENCY).strip().upper()
    cost = amount(cdr["total_cost"] if cdr.get("total_cost") not in (None, "") else cdr.get("cost"))
    return started, cost if currency == settings.BILLING_CURRENCY else None


def spend_by_month(*, monthly: list[Month], stored_amount: Decimal) -> list[MonthSpend]:
    """Each charted month's spend, oldest first, from the month of the oldest recording on.

    `monthly`: the present recordings' storage by month added (usage.cost_by_month), `stored_amount`
    what every present recording costs a month."""
    oldest = Recording.objects.exclude(add_time=None).order_by("add_time").values_list("add_time", flat=True).first()
    if oldest is None:
        return []
    first_data = month_of(oldest)
    months = [month.month for month in monthly if month.month >= first_data]
    if not months:
        return []
    spends = {month: MonthSpend(month) for month in months}
    this_month = months[-1]
    start = start_of_local_day(months[0])
    ends = {month: start_of_local_day(next_month(month)) for month in months}

    # Storage of present recordings at a month's end: all of them, less those added later.
    added_later = ZERO
    for month in reversed(monthly):
        if month.month in spends:
            spends[month.month].storage = stored_amount - added_later
        added_later += month.amount
    # And the recordings deleted or gone since, which were still stored then: each side from its
    # partial index alone (few recordings are deleted or gone; the indexes cover what is summed).
    for removed_at, removed in (
        ("deleted_at", Recording.objects.filter(deleted_at__gte=start)),
        ("gone_at", Recording.objects.filter(deleted_at=None, gone_at__gte=start)),
    ):
        sums = removed.aggregate(
            **{
                f"m{n}": Sum(
                    "monthly_recording_storage_amount",
                    filter=Q(add_time__lt=end, **{f"{removed_at}__gte": end}),
                    default=ZERO,
                )
                for n, end in enumerate(ends.values())
            }
        )
        for n, first_day in enumerate(months):
            spends[first_day].storage += sums[f"m{n}"]

    # The transcripts and their versions by quarter hour received, as the database keeps them.
    received = sums_by_period(
        TranscriptionSlot, months, next_month(this_month), charge=Sum("charge"), count=Sum("count")
    )
    for n, first_day in enumerate(months):
        if n in received:
            spends[first_day].transcription += received[n]["charge"]
            spends[first_day].transcripts += received[n]["count"]

    # Recordings still at Vobiz, counted by the storage figures already: no scan of their calls.
    for month in monthly:
        if (spend := spends.get(month.month)) is not None:
            spend.recordings = month.count
    # Fetched after the call ended, so no earlier than it started: the window's CDRs are among these.
    for data in CallDetail.objects.filter(fetched_at__gte=start).values_list("data", flat=True).iterator():
        started, cost = call_charge(data if isinstance(data, dict) else {})
        if started is None or cost is None:
            continue
        if (spend := spends.get(month_of(started))) is not None:
            spend.calls += cost
            spend.calls_known += 1

    for spend in spends.values():
        if spend.month == first_data:
            spend.partial.append(f"the first month of data, from {timezone.localtime(oldest).day} {spend.month:%b}")
        if spend.month == this_month:
            spend.partial.append("the month so far")
        if spend.calls_known < spend.recordings:
            # A call may have several recordings: fewer records than recordings is not proof of a
            # missing one, but as many is the only sign that none is missing.
            spend.partial.append(
                f"call charges from {spend.calls_known} call record{'s' if spend.calls_known != 1 else ''} "
                f"for {spend.recordings} recording{'s' if spend.recordings != 1 else ''}"
            )
    return [spends[month] for month in months]
