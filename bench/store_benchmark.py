"""What storing a first import costs on SQLite, by what it defers: CPU a recording.

    .venv/bin/python bench/store_benchmark.py --count 1000000 [--pages-per-transaction 8]

The fake account's pages, normalised first (not measured), stored as the sync stores them: the
stored hashes asked first, then `store_recordings`, some pages a transaction, on the connection
`tuned_for_the_sync` sets. Into a fresh SQLite file for each variant, in a child process of its own:

- before: only the five number and duration indexes deferred (the call id's index and the usage
  triggers put back);
- first import: what a first import defers (also the call id's index and the usage triggers);
- and full text: the conference-name search's triggers dropped too;
- bare: and every secondary index but the id's (the upsert's key), the default page's and
  add_time's.

Then each builds what it deferred and recounts the usage figures, timed apart. Ratios are against
"before", measured in the same run.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

VARIANTS = ("before", "first import", "and full text", "bare")
OTHER_INDEXES = ("rec_type_time_idx", "rec_format_time_idx", "rec_review_time_idx", "rec_deleted_idx", "rec_gone_idx")
FULL_TEXT_TRIGGERS = ("recordings_conference_fts_ai", "recordings_conference_fts_au", "recordings_conference_fts_ad")


def measure(variant: str, count: int, per_transaction: int, folder: str) -> dict[str, float]:
    """One variant, in this process: µs of CPU a recording storing, and s building and recounting."""
    os.environ["DATABASE_URL"] = f"sqlite:///{os.path.join(folder, 'store.sqlite3')}"
    os.environ.setdefault("DJANGO_DEBUG", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vobiz_dashboard.settings")
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from recordings import usage_summary
    from recordings.sync.indexes import DEFERRED, build_missing, defer_for_first_import
    from recordings.sync.normalise import normalise
    from recordings.sync.store import store_recordings, stored_hashes, tuned_for_the_sync
    from vobiz.fake.data import FakeAccount

    call_command("migrate", verbosity=0)
    account = FakeAccount(count=count)
    pages = [[normalise(obj) for obj in account.page(offset, 100)[0]] for offset in range(0, count, 100)]
    defer_for_first_import()
    if variant == "before":
        build_missing()  # the call id's index; the five are dropped again below
        with connection.cursor() as cursor:
            for name in DEFERRED:
                cursor.execute(f"DROP INDEX {name}")
    else:
        usage_summary.pause_for_first_import(connection)
    with connection.cursor() as cursor:
        if variant in ("and full text", "bare"):
            for trigger in FULL_TEXT_TRIGGERS:
                cursor.execute(f"DROP TRIGGER {trigger}")
        if variant == "bare":
            for name in OTHER_INDEXES:
                cursor.execute(f"DROP INDEX {name}")

    started = time.process_time()
    with tuned_for_the_sync():
        for first in range(0, len(pages), per_transaction):
            rows = [row for page in pages[first : first + per_transaction] for row in page]
            with transaction.atomic():
                stored_hashes([row["recording_id"] for row in rows])
                store_recordings(rows, now=timezone.now())
    storing = time.process_time() - started
    started = time.process_time()
    build_missing()
    building = time.process_time() - started
    started = time.process_time()
    usage_summary.ensure_installed(connection)
    recounting = time.process_time() - started
    return {"storing_us": storing / count * 1e6, "building_s": building, "recounting_s": recounting}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--pages-per-transaction", type=int, default=8)
    parser.add_argument("--one", choices=VARIANTS, help=argparse.SUPPRESS)  # a child's variant
    args = parser.parse_args()
    if args.one:
        with tempfile.TemporaryDirectory() as folder:
            print(json.dumps(measure(args.one, args.count, args.pages_per_transaction, folder)))
        return
    results = {}
    for variant in VARIANTS:
        child = [sys.executable, __file__, "--one", variant, "--count", str(args.count)]
        child += ["--pages-per-transaction", str(args.pages_per_transaction)]
        output = subprocess.run(child, check=True, capture_output=True, text=True).stdout
        results[variant] = json.loads(output.splitlines()[-1])
    base = results["before"]["storing_us"]
    load = ", ".join(f"{figure:.2f}" for figure in os.getloadavg())
    print(f"\n{args.count:,} recordings, {args.pages_per_transaction} pages a transaction, SQLite; load {load}")
    print("\n| deferred | storing, CPU a recording | against before | building after | recounting after |")
    print("|---|---:|---:|---:|---:|")
    for variant, result in results.items():
        print(
            f"| {variant} | {result['storing_us']:.1f} µs | {result['storing_us'] / base:.2f}× "
            f"| {result['building_s']:.2f} s | {result['recounting_s']:.2f} s |"
        )


if __name__ == "__main__":
    main()
