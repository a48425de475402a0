"""What the usage summaries' triggers (recordings/usage_summary.py) cost the sync's writes.

    .venv/bin/python bench/usage_summary_benchmark.py --count 30000 --rounds 3
    .venv/bin/python bench/usage_summary_benchmark.py --database-url postgres://postgres@127.0.0.1:5432/bench_usage

Into a fresh database (a SQLite file in a temporary folder, or the PostgreSQL database named, dropped
and created again), migrated, the script stores --count recordings the way the sync does
(`store_recordings`, pages of 100 rows), then stores them all again with every recording's storage
days and amount changed (what a day later's sync writes for every object), and deletes the rows.
It does so with the triggers installed and without them, taking turns for --rounds rounds, and
prints the median time of each step and the ratio; with the triggers, the scheduler's fold of the
change rows the insert and update added is timed too. The trigger-kept figures are checked against
a recount before and after the fold.

Then what the change rows cost the usage page's readers (`overview` and `spend_by_month`, what
/usage/ runs but the template): --count recordings stored and folded, the readers timed --reads
times with no change rows, then with --pending change rows not yet folded (nine in ten per quarter
hour of the last 90 days, one in ten per type and format, in pairs that cancel out, as a sync
changing recordings adds them), then the fold of those timed.
"""

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))
sys.path.insert(0, str(PROJECT / "bench"))

from seeding import recreate_postgres  # noqa: E402

PAGE = 100


def rows(count: int, day: int) -> list[dict[str, Any]]:
    """`count` normalised recordings as a sync `day` days on would store them."""
    from recordings.sync.normalise import normalise

    start = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        normalise(
            {
                "recording_id": f"rec-{n:08d}",
                "call_uuid": f"call-{n // 2:08d}",
                "recording_type": ("call", "conference", "trunk")[n % 3],
                "recording_format": ("mp3", "wav")[n % 2],
                "recording_url": f"https://media.example/rec-{n}.mp3",
                "add_time": (start + timedelta(minutes=7 * n)).isoformat(),
                "recording_duration_ms": str(30_000 + n % 600_000),
                "from_number": f"+9198{n:08d}",
                "to_number": "+918012300000",
                "conference_name": None,
                "rounded_recording_duration": 60,
                "recording_storage_duration": 10 + day,
                "recording_storage_rate": "0.005",
                "monthly_recording_storage_amount": str(Decimal("0.01") + Decimal(day) / 1000),
                "resource_uri": f"/v1/Account/MA/Recording/rec-{n}/",
            }
        )
        for n in range(count)
    ]


def store(batch: list[dict[str, Any]]) -> float:
    from django.utils import timezone

    from recordings.sync.store import store_recordings

    started = time.perf_counter()
    for first in range(0, len(batch), PAGE):
        store_recordings(batch[first : first + PAGE], now=timezone.now())
    return time.perf_counter() - started


def one_round(count: int, triggers: bool) -> dict[str, float]:
    from django.db import connection

    from recordings import usage_summary
    from recordings.models import Recording

    if triggers:
        usage_summary.install(connection)
    else:
        usage_summary.uninstall(connection)
    first, later = rows(count, 0), rows(count, 1)
    times = {"insert": store(first), "update all": store(later)}
    if triggers:
        check()
        started = time.perf_counter()
        usage_summary.fold()
        times["fold"] = time.perf_counter() - started
        check()
    started = time.perf_counter()
    Recording.objects.all().delete()
    times["delete all"] = time.perf_counter() - started
    return times


def check() -> None:
    from django.db.models import Count, Sum

    from recordings.models import Recording, UsageTotal

    kept = UsageTotal.objects.aggregate(n=Sum("count"), amount=Sum("amount"))
    counted = Recording.objects.present().aggregate(n=Count("id"), amount=Sum("monthly_recording_storage_amount"))
    # SQLite adds decimals as floats, the recount as much as the kept sums: to the column's 6 places.
    kept["amount"], counted["amount"] = (round(Decimal(value), 6) for value in (kept["amount"], counted["amount"]))
    if kept != counted:
        raise SystemExit(f"the kept figures {kept} are not the recount {counted}")


def read_page() -> float:
    from recordings.auditing.spend import spend_by_month
    from recordings.auditing.usage import Month, overview

    started = time.perf_counter()
    context = overview(30)
    stored = cast(dict[str, Any], context["storage"])
    spend_by_month(monthly=cast(list[Month], context["monthly"]), stored_amount=stored["amount"] or Decimal(0))
    return time.perf_counter() - started


def add_pending(count: int) -> None:
    """`count` change rows that cancel out in pairs, as the triggers add them."""
    from django.utils import timezone

    from recordings.models import UsageSlot, UsageTotal

    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    pairs = count // 2
    slots, totals = pairs * 9 // 10, pairs - pairs * 9 // 10
    UsageSlot.objects.bulk_create(
        (
            UsageSlot(
                slot=now - timedelta(minutes=15 * (n % (90 * 96))), count=sign, duration_ms=sign * 1000, amount=sign
            )
            for n in range(slots)
            for sign in (1, -1)
        ),
        batch_size=5000,
    )
    UsageTotal.objects.bulk_create(
        (
            UsageTotal(
                recording_type=("call", "conference", "trunk")[n % 3],
                recording_format=("mp3", "wav")[n % 2],
                count=sign,
                amount=sign,
            )
            for n in range(totals)
            for sign in (1, -1)
        ),
        batch_size=5000,
    )


def readers(count: int, pending: int, reads: int) -> None:
    from django.db import connection

    from recordings import usage_summary
    from recordings.models import Recording

    usage_summary.install(connection)
    Recording.objects.all().delete()
    store(rows(count, 0))
    usage_summary.fold()
    read_page()  # warm
    load = [os.getloadavg()[0]]
    folded = statistics.median(read_page() for _ in range(reads))
    add_pending(pending)
    check()
    load.append(os.getloadavg()[0])
    unfolded = statistics.median(read_page() for _ in range(reads))
    started = time.perf_counter()
    usage_summary.fold()
    fold_time = time.perf_counter() - started
    check()
    load.append(os.getloadavg()[0])
    print(
        f"\n## The usage page's readers: {count:,} recordings, medians of {reads}, "
        f"load {min(load):.1f}-{max(load):.1f}\n"
    )
    print("| change rows | readers (ms) | ratio |\n|---|---:|---:|")
    print(f"| none | {folded * 1000:.1f} | 1.00 |")
    print(f"| {pending:,} | {unfolded * 1000:.1f} | {unfolded / folded:.2f} |")
    print(f"\nthe fold of the {pending:,}: {fold_time * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=30_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pending", type=int, default=100_000, help="change rows for the readers' timing")
    parser.add_argument("--reads", type=int, default=9)
    parser.add_argument("--database-url", default="", help="a PostgreSQL database to drop and create (default: SQLite)")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="bench_usage_")
    url = args.database_url or f"sqlite:///{folder}/usage.sqlite3"
    if args.database_url:
        recreate_postgres(url)
    os.environ.update(
        DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="vobiz_dashboard.settings",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        LOG_LEVEL="WARNING",
    )
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    results: dict[bool, list[dict[str, float]]] = {True: [], False: []}
    load = [os.getloadavg()[0]]
    for _ in range(args.rounds):
        for triggers in (False, True):
            results[triggers].append(one_round(args.count, triggers))
            load.append(os.getloadavg()[0])
    print(f"## Usage summaries' triggers: {args.count:,} recordings, {connection.vendor}, {args.rounds} rounds")
    print(f"load average {min(load):.1f}-{max(load):.1f}; medians in seconds, pages of {PAGE} rows\n")
    print("| step | without triggers | with | ratio |\n|---|---:|---:|---:|")
    for step in results[False][0]:
        without = statistics.median(r[step] for r in results[False])
        with_them = statistics.median(r[step] for r in results[True])
        print(f"| {step} | {without:.2f} | {with_them:.2f} | {with_them / without:.2f} |")
    print(f"| fold (after the update) | | {statistics.median(r['fold'] for r in results[True]):.2f} | |")
    readers(args.count, args.pending, args.reads)
    connection.close()


if __name__ == "__main__":
    main()
