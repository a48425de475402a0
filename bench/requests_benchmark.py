"""How fast a data-subject request's page answers on a big local copy, against the recordings
table's own search for the same number in the same run as the baseline.

    .venv/bin/python bench/requests_benchmark.py --count 1000000 --database postgres --keep
    .venv/bin/python bench/requests_benchmark.py --count 100000 --database sqlite

The database is made and seeded as bench/pages_benchmark.py makes it (bench/seeding.py; with --keep
a seeded database of the same count is reused and kept: SQLite <tmp>/bench_pages/sqlite-<count>.sqlite3,
PostgreSQL `<pg-name>_<count>`). Then one customer's number is given to --person recordings spread
over the year (as caller or callee, the number written with and without +91), a third of them with
a transcript, a note, a cached call record and a few plays in the audit log; a request for that
number is opened, and each page is fetched --requests times after --warmups with Django's test
Client (server time, DEBUG off), between requests doing what the WSGI handler does after a response.
Prints the median and p95 of each case, their ratio to the baseline, and the queries of one request.
"""

import argparse
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))
sys.path.insert(0, str(PROJECT / "bench"))

from pages_benchmark import captured_queries, django_env, summary_stats, timed_requests  # noqa: E402
from seeding import SeededPostgres, SeededSqlite, record_full_sync  # noqa: E402

GOAL_MS = 200.0
NATIONAL = "9845012345"


def give_the_person_recordings(count: int, person: int) -> str:
    """Recordings at `person` positions spread over the list get the number; idempotent. Returns it."""
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from recordings.models import AuditEvent, CallDetail, MomentNote, Recording, Transcript

    step = count // person
    ids = list(Recording.objects.order_by("pk").values_list("pk", flat=True)[:: max(step, 1)][:person])
    auditor = get_user_model().objects.get(username="bench-auditor")
    now = datetime.now(UTC)
    with transaction.atomic():
        for n, pk in enumerate(ids):
            number = f"+91{NATIONAL}" if n % 2 else f"91{NATIONAL}"
            side = "from" if n % 3 else "to"
            Recording.objects.filter(pk=pk).update(
                **{f"{side}_number": number, f"{side}_digits_reversed": NATIONAL[::-1]}
            )
        for recording in Recording.objects.filter(pk__in=ids[::3]):
            Transcript.objects.get_or_create(
                recording_id=recording.recording_id,
                defaults={"text": "please call me back about the refund", "received_at": now, "updated_at": now},
            )
            if not MomentNote.objects.filter(recording=recording).exists():
                MomentNote.objects.create(
                    recording=recording,
                    at_ms=1000,
                    text="refund asked",
                    author=auditor,
                    username="bench-auditor",
                    created_at=now,
                )
            CallDetail.objects.get_or_create(
                call_uuid=recording.call_uuid, defaults={"data": {"from": f"+91{NATIONAL}"}, "fetched_at": now}
            )
            if not AuditEvent.objects.filter(recording=recording).exists():
                AuditEvent.objects.bulk_create(
                    AuditEvent(
                        at=now - timedelta(hours=h),
                        user=auditor,
                        username="bench-auditor",
                        action="play",
                        recording=recording,
                    )
                    for h in range(3)
                )
    return f"+91{NATIONAL}"


def run(args: argparse.Namespace) -> None:
    database = (
        SeededSqlite(args.count, args.keep)
        if args.database == "sqlite"
        else SeededPostgres(args.count, args.keep, args.pg_url, args.pg_name)
    )
    django_env(database.url, debug=False)
    meta = database.seeded_meta() if args.keep else None
    reused = bool(meta and meta.get("count") == args.count)
    if not reused:
        database.fresh()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, connections
    from django.test import Client
    from django.test.utils import override_settings
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    if not reused:
        from recordings.models import Recording

        fields = [f for f in Recording._meta.concrete_fields if not f.primary_key]
        connections.close_all()
        print(f"Seeding {args.count:,} recordings…", file=sys.stderr)
        database.load(args.count, args.seed_workers, fields)
        database.write_meta({"count": args.count, "seeded_at": datetime.now(UTC).isoformat(timespec="seconds")})
    override_settings(
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
    ).enable()

    from django.contrib.auth import get_user_model

    from recordings.audit_trail import Actor
    from recordings.requests import services
    from recordings.roles import AUDITORS, role_group

    record_full_sync(args.count)
    auditor, _ = get_user_model().objects.get_or_create(username="bench-auditor")
    auditor.groups.add(role_group(AUDITORS))
    number = give_the_person_recordings(args.count, args.person)
    database.analyze()
    opened = services.open_request(
        actor=Actor(user=auditor, ip_address=None, user_agent="bench"),
        number=number,
        kind="both",
        reference="BENCH",
        due_on=timezone.localdate(),
        time_zone="Asia/Kolkata",
    )
    client = Client()
    client.force_login(auditor)
    cases = [
        ("baseline: the table's search for the number", f"/?q={NATIONAL}"),
        ("the request's page", f"/requests/{opened.pk}/"),
        ("the list of requests", "/requests/"),
    ]
    print(f"\n{connection.vendor}, {args.count:,} recordings, {args.person} of them the person's", file=sys.stderr)
    print("| case | median ms | p95 ms | / baseline | queries | goal |")
    print("|---|---:|---:|---:|---:|---|")
    baseline = None
    for name, url in cases:
        times, _ = timed_requests(client, url, args.requests, args.warmups)
        stats = summary_stats(times)
        baseline = baseline or stats["median_ms"]
        queries = captured_queries(client, url)
        goal = "" if name.startswith("baseline") else ("met" if stats["p95_ms"] < GOAL_MS else "MISSED")
        print(
            f"| {name} | {stats['median_ms']:.1f} | {stats['p95_ms']:.1f} | "
            f"{stats['median_ms'] / baseline:.2f}× | {len(queries)} | {goal} |"
        )
        if args.verbose:
            for query in sorted(queries, key=lambda q: -q["ms"])[:5]:
                print(f"    {query['ms']:.1f} ms  {query['sql'][:200]}", file=sys.stderr)
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs", file=sys.stderr)
    database.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--person", type=int, default=60, help="recordings of the person (default 60)")
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--warmups", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="reuse a seeded database of the same count, and keep it")
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/")
    parser.add_argument("--pg-name", default="bench_requests")
    parser.add_argument("--seed-workers", type=int, default=1)
    parser.add_argument("--verbose", action="store_true", help="print each case's slowest queries")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
