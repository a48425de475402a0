"""How fast the dashboard's pages answer on a big local copy, against the Django admin as a yardstick.

    .venv/bin/python bench/pages_benchmark.py --count 100000 --database sqlite
    .venv/bin/python bench/pages_benchmark.py --count 1000000 --database postgres --keep --json out.json

What it does:

1. Makes a fresh database: a SQLite file in a temporary folder, or the PostgreSQL database
   `bench_pages` (dropped and created again; --pg-url names the server, --pg-name the database).
   Runs the migrations, then seeds `--count` recordings as a full sync would store them, with a few
   bookkeeping states sprinkled in so `present()` filters something, and transcripts for 30 % of
   them, the fastest honest way (generation in --seed-workers processes; see bench/seeding.py).
   With --keep an existing seeded database of the same count is reused (migrated, analysed), and
   kept afterwards (SQLite: <tmp>/bench_pages/sqlite-<count>.sqlite3; PostgreSQL: `<pg-name>_<count>`).
   A finished full SyncRun is recorded too, as the sync that stored the rows would have.
2. Sets DATABASE_URL, starts Django (DEBUG off as in production unless --django-debug, VOBIZ_AUTH_ID
   empty so no page calls Vobiz; the call page's CDR is put in the CallDetail cache, as after a first
   visit), makes an auditor (dashboard) and a superuser (admin), and measures
   each case in-process with Django's test Client (force_login): the server time of `client.get`
   (streaming bodies read to the end), median and p95 over --requests requests after --warmups, and
   the SQL queries of one more request (CaptureQueriesContext). "Cold": --cold-requests more dashboard
   requests, each after emptying Django's caches (the first view after a sync stored a page, or on
   another worker process), so a cached figure cannot hide the query it saves. Between requests the
   script does what
   the WSGI handler does after a response (`close_old_connections`), so SQLite (CONN_MAX_AGE=0) opens
   its connection inside each timed request as in production, and PostgreSQL runs its health check.
3. Prints a Markdown table (dashboard vs admin, ratio, rows matched, the goals each case misses) and
   the machine; --json PATH writes every number.
4. EXPLAINs every query of a cold dashboard request that reads recordings_recording (EXPLAIN (ANALYZE,
   BUFFERS) on PostgreSQL; EXPLAIN QUERY PLAN on SQLite, plus the query run to its last row, since
   SQLite works as rows are fetched and the captured time is near 0) and prints the slowest one's
   plan, and which queries scan the whole table.

--admin-json reuses the admin's figures of an earlier run (same count and database), --admin-requests
takes fewer admin samples: at 1M the admin needs seconds a request. --from-json prints an earlier
run's report. Other work on the machine skews every figure: compare the load averages printed.

Goals checked (see the "misses" column): median under 100 ms (the product asks it at 1M rows), at
least twice as fast as the admin's analogue, no full table scan, and the same number of queries at
25 and 100 rows per page.

The deep page is `?page=2000` at 25 rows (rows 49,976-50,000); the admin shows 100 rows a page,
so its analogue is the page covering the same rows (`?p=500`), not `?p=1999` which would not exist
at 100k. Server time excludes the client's own work (no network, no browser).
"""

import argparse
import json
import math
import os
import platform
import re
import secrets
import shlex
import statistics
import sys
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))
sys.path.insert(0, str(PROJECT / "bench"))

from seeding import (  # noqa: E402
    TABLE,
    TRANSCRIPT_CASES,
    SeededPostgres,
    SeededSqlite,
    check_seed,
    record_full_sync,
    seed_transcripts,
)

ADMIN = "/admin/recordings/recording/"
MEDIAN_GOAL_MS = 100.0
SLOW_QUERY_MS = 20.0  # a query reading many rows slower than this is reported as a problem
RATIO_GOAL = 2.0


def django_env(database_url: str, debug: bool) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "vobiz_dashboard.settings"
    os.environ["DJANGO_DEBUG"] = "1" if debug else "0"
    os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
    os.environ["DJANGO_ALLOWED_HOSTS"] = "testserver,localhost,127.0.0.1"
    os.environ["VOBIZ_AUTH_ID"] = ""  # no page may call Vobiz
    os.environ["VOBIZ_AUTH_TOKEN"] = ""
    os.environ["LOG_LEVEL"] = "WARNING"


# -- query plans ------------------------------------------------------------------------------------


def explain_sqlite(cursor: Any, sql: str) -> dict[str, Any]:
    cursor.execute("EXPLAIN QUERY PLAN " + sql)
    details = [row[3] for row in cursor.fetchall()]
    full = []
    # A scan under a LIMIT stops there (the bounded count reads 10,001 rows): slow or not is what counts.
    limited = re.search(r"\bLIMIT\b", sql)
    for detail in details:
        if re.match(rf"SCAN {TABLE}$", detail) and not limited:
            full.append("full table scan")
        elif detail.startswith(f"SCAN {TABLE} USING") and not limited:
            full.append("whole index walked (no LIMIT)")
    # SQLite runs a statement as its rows are fetched: the captured time is often ~0. Run it whole.
    started = time.perf_counter()
    cursor.execute(sql)
    cursor.fetchall()
    run_ms = (time.perf_counter() - started) * 1000
    offset = re.search(r"OFFSET (\d+)", sql)
    if run_ms >= SLOW_QUERY_MS and offset and int(offset.group(1)) >= 10_000:
        full.append(f"walks past OFFSET {offset.group(1)}: {run_ms:.0f} ms")
    elif run_ms >= SLOW_QUERY_MS and any(d.startswith(f"SCAN {TABLE}") for d in details) and not full:
        full.append(f"scan filtering rows: {run_ms:.0f} ms")
    return {"plan": details, "problems": full, "run_ms": round(run_ms, 2)}


def explain_postgresql(cursor: Any, sql: str) -> dict[str, Any]:
    cursor.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql)
    data = cursor.fetchone()[0]
    if isinstance(data, str):
        data = json.loads(data)
    plan = data[0]["Plan"]
    lines, problems = [], []
    rows_read = 0

    def walk(node: dict[str, Any], depth: int) -> None:
        nonlocal rows_read
        kind = node["Node Type"]
        target = node.get("Relation Name") or ""
        index = node.get("Index Name")
        loops = node.get("Actual Loops", 1)
        rows = node.get("Actual Rows", 0) * loops
        removed = (node.get("Rows Removed by Filter", 0) + node.get("Rows Removed by Index Recheck", 0)) * loops
        text = f"{'  ' * depth}{kind}"
        if target:
            text += f" on {target}"
        if index:
            text += f" using {index}"
        for key in ("Index Cond", "Filter", "Sort Key", "Recheck Cond"):
            if key in node:
                value = node[key] if isinstance(node[key], str) else ", ".join(node[key])
                text += f" [{key}: {value[:240]}]"
        text += f" (rows={rows:,}"
        if removed:
            text += f", removed by filter={removed:,}"
        text += f", {node.get('Actual Total Time', 0):.1f} ms)"
        lines.append(text)
        if target == TABLE or (index or "").startswith(("rec_", "recordings_recording")):
            # An index-only scan (no heap fetch) reads compact index entries: the bounded count
            # and a deep page's ids skip through them by design, so only row reads count here.
            if kind in ("Seq Scan", "Parallel Seq Scan", "Index Scan", "Bitmap Heap Scan", "Bitmap Index Scan") or (
                kind == "Index Only Scan" and node.get("Heap Fetches", 0) > rows // 10
            ):
                rows_read = max(rows_read, rows + removed)
        if kind in ("Seq Scan", "Parallel Seq Scan") and target == TABLE:
            problems.append("full table scan")
        for child in node.get("Plans", []):
            walk(child, depth + 1)

    walk(plan, 0)
    run_ms = data[0].get("Execution Time", 0)
    # Many rows read fast are a bounded read (a count stopped by its LIMIT): slow ones are the problem.
    if rows_read >= 10_000 and run_ms >= SLOW_QUERY_MS and "full table scan" not in problems:
        problems.append(f"reads {rows_read:,} rows: {run_ms:.0f} ms")
    lines.append(f"Execution Time: {run_ms:.1f} ms")
    return {
        "plan": lines,
        "problems": sorted(set(problems)),
        "rows_read": rows_read,
        "run_ms": round(run_ms, 2),
    }


# -- the measurement ----------------------------------------------------------------------------------


def fetch(client, url):
    response = client.get(url)
    if response.streaming:
        body = b"".join(response.streaming_content)
    else:
        body = response.content
    return response, body


def timed_requests(client, url, requests, warmups):
    from django.db import close_old_connections

    times, body, status = [], b"", None
    for i in range(warmups + requests):
        started = time.perf_counter()
        response, body = fetch(client, url)
        elapsed = time.perf_counter() - started
        close_old_connections()  # what the WSGI handler does after each response, outside the timing
        status = response.status_code
        if status != 200:
            raise SystemExit(f"{url} answered {status}: {body[:300]!r}")
        if i >= warmups:
            times.append(elapsed * 1000)
    return times, body


def cold_requests(client, url, requests):
    """Server time with every Django cache emptied first (outside the timing): the first view of a
    page after the data changed, or on another worker process, when the app caches what it computed."""
    from django.core.cache import caches
    from django.db import close_old_connections

    times = []
    for _ in range(requests):
        for cache in caches.all(initialized_only=True):
            cache.clear()
        started = time.perf_counter()
        fetch(client, url)
        times.append((time.perf_counter() - started) * 1000)
        close_old_connections()
    return times


def code_stamp():
    """When the product's Python files, templates and migrations last changed: which code a run measured."""
    newest, name = 0.0, ""
    for folder in ("recordings", "templates", "vobiz_dashboard"):
        for path in (PROJECT / folder).rglob("*"):
            if path.suffix in (".py", ".html") and "__pycache__" not in path.parts and path.stat().st_mtime > newest:
                newest, name = path.stat().st_mtime, str(path.relative_to(PROJECT))
    from django.db.migrations.recorder import MigrationRecorder

    applied = (
        MigrationRecorder.Migration.objects.filter(app="recordings").order_by("-id").values_list("name", flat=True)
    )
    return {
        "newest_file": name,
        "newest_mtime": datetime.fromtimestamp(newest, UTC).isoformat(timespec="seconds"),
        "last_migration": applied.first(),
    }


def captured_queries(client, url, cold=False):
    from django.core.cache import caches
    from django.db import close_old_connections, connection
    from django.test.utils import CaptureQueriesContext

    if cold:
        for cache in caches.all(initialized_only=True):
            cache.clear()
    with CaptureQueriesContext(connection) as ctx:
        fetch(client, url)
    close_old_connections()
    return [{"sql": q["sql"], "ms": float(q["time"]) * 1000} for q in ctx.captured_queries]


def summary_stats(times):
    ordered = sorted(times)
    p95 = ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]
    return {
        "median_ms": statistics.median(ordered),
        "p95_ms": p95,
        "min_ms": ordered[0],
        "max_ms": ordered[-1],
        "n": len(ordered),
    }


def dashboard_rows(body):
    if body.startswith(b"recording_id,"):
        return body.count(b"\n") - 1
    if body.startswith(b'{"count"'):
        return json.loads(body)["count"]
    # The count sits in the summary line, inside the span that announces its updates.
    match = re.search(rb'<p class="summary"[^>]*>\s*(?:<span[^>]*>)?\s*(More than )?<strong>([\d,]+)</strong>', body)
    if not match:
        return None
    count = int(match.group(2).replace(b",", b""))
    return f"> {count:,}" if match.group(1) else count


def admin_rows(body):
    match = re.search(rb'<p class="paginator">.*?(\d+)\s+recordings?\b', body, re.S)
    return int(match.group(1)) if match else None


def short_sql(sql, limit=260):
    sql = re.sub(r"^SELECT (.{120,}?) FROM", "SELECT … FROM", sql, flags=re.S)
    return sql if len(sql) <= limit else sql[:limit] + "…"


def choose_fixtures(deep_page):
    """Real values to search for, picked from the seeded data, and the call page's cached CDR."""
    from django.conf import settings
    from django.utils import timezone

    from recordings.models import CallDetail, Recording
    from recordings.retention import matching
    from vobiz.fake.data import FakeAccount

    total = Recording.objects.count()
    account = FakeAccount(count=total)
    dids = {d[-10:] for d in account._dids}  # the account's own lines: on every call, so not a good search
    present = Recording.objects.present()
    start = total // 2
    chosen = None
    for recording in present.filter(id__gte=start, recording_type="call").order_by("id")[:500]:
        customer = (
            recording.to_number if re.sub(r"\D", "", recording.from_number)[-10:] in dids else recording.from_number
        )
        if re.sub(r"\D", "", customer)[-10:] in dids:
            continue
        siblings = Recording.objects.filter(call_uuid=recording.call_uuid).count()
        cdr = account.cdr(recording.call_uuid)
        if cdr is None or siblings < 2:
            continue
        chosen = (recording, customer, cdr)
        break
    if chosen is None:
        raise SystemExit("found no call with two recordings and a CDR to search for")
    recording, customer, cdr = chosen
    CallDetail.objects.update_or_create(
        call_uuid=recording.call_uuid, defaults={"data": cdr, "fetched_at": timezone.now()}
    )
    digits = re.sub(r"\D", "", customer)
    newest = present.order_by("-add_time").values_list("add_time", flat=True).first()
    until = timezone.localdate(newest) - timedelta(days=61)
    since = until - timedelta(days=29)
    tenth_thousand = present.order_by("-add_time", "-id").values_list("add_time", flat=True)[9_999]
    conference = (
        present.filter(recording_type="conference", id__gte=start)
        .exclude(conference_name="")
        .order_by("id")
        .values_list("conference_name", flat=True)
        .first()
    )
    rule = benchmark_retention_rule()
    # The figures its page shows: the key for which that page asks what they spare.
    figures = matching.dry_run(matching.current(rule), limit=settings.RETENTION_MAX_PER_RUN)
    return {
        "retention_rule_pk": rule.pk,
        "retention_rule_spared_query": urlencode({"version": rule.version, "figures": figures.key}),
        "recording_id": recording.recording_id,
        "recording_pk": recording.pk,
        "call_uuid": recording.call_uuid,
        "number_stored": customer,
        "last6": digits[-6:],
        "with_plus": "+" + digits,
        "national": digits[-10:],
        "since": since,
        "until": until,
        "csv_since": timezone.localdate(tenth_thousand),
        "deep_page": deep_page,
        "total": total,
        "conference_name": conference,
    }


def benchmark_retention_rule():
    """A delete rule (calls of 30 s or more, after 90 days) beside a keep rule (flagged ones, 7 years):
    its page runs the dry run, which counts both (what the keep rule spares after the page)."""
    from django.utils import timezone

    from recordings.models import RetentionRule

    now = timezone.now()
    definitions = [
        ("Benchmark: keep flagged 7 years", "keep", "review=flagged", 2555),
        ("Benchmark: calls after 90 days", "delete", "recording_type=call&min_duration=30", 90),
    ]
    for name, action, query, age in definitions:
        rule, _ = RetentionRule.objects.get_or_create(
            name=name,
            defaults={
                "action": action,
                "filter_query": query,
                "age_days": age,
                "effective": {"action": action, "filter_query": query, "age_days": age},
                "created_at": now,
                "changed_at": now,
            },
        )
    return rule


def build_cases(f, admin_sort_index, requests_per_page=25):
    def start(day):
        from django.utils import timezone

        return str(timezone.make_aware(datetime.combine(day, datetime.min.time())))

    deep_admin = math.ceil(f["deep_page"] * requests_per_page / 100)
    q = lambda text: "?" + urlencode({"q": text})  # noqa: E731
    return [
        ("first page", "/", ADMIN),
        ("first page, 100 rows", "/?per_page=100", ADMIN),
        (f"deep page ({f['deep_page']})", f"/?page={f['deep_page']}", f"{ADMIN}?p={deep_admin}"),
        ("sorted by duration", "/?sort=-recording_duration_ms", f"{ADMIN}?o=-{admin_sort_index}"),
        (
            "type + 30-day range",
            "/?" + urlencode({"recording_type": "call", "added_after": f["since"], "added_before": f["until"]}),
            ADMIN
            + "?"
            + urlencode(
                {
                    "recording_type__exact": "call",
                    "add_time__gte": start(f["since"]),
                    "add_time__lt": start(f["until"] + timedelta(days=1)),
                }
            ),
        ),
        ("last 6 digits", "/" + q(f["last6"]), ADMIN + q(f["last6"])),
        ("number with +91", "/" + q(f["with_plus"]), ADMIN + q(f["with_plus"])),
        ("number without +91", "/" + q(f["national"]), ADMIN + q(f["national"])),
        ("call uuid", "/" + q(f["call_uuid"]), ADMIN + q(f["call_uuid"])),
        ("conference name", "/" + q(f["conference_name"]), ADMIN + q(f["conference_name"])),
        ("call page", f"/calls/{quote(f['call_uuid'])}/", f"{ADMIN}{f['recording_pk']}/change/"),
        ("CSV export (~10k rows)", "/?" + urlencode({"added_after": f["csv_since"], "_export": "csv"}), None),
        # What a page showing "more than 10,000" fetches after it: its cold median is the full count.
        ("exact count of all", "/count", None),
        ("retention rule's dry run", f"/retention/{f['retention_rule_pk']}/", None),
        # What the dry run's page fetches after it: what holds and keep rules spare.
        (
            "retention rule's dry run: what it spares",
            f"/retention/{f['retention_rule_pk']}/spared?{f['retention_rule_spared_query']}",
            None,
        ),
        ("retention rules", "/retention/", None),
        *(
            (f"words said: {name}", "/?" + urlencode({"transcript": words}), None)
            for name, words in TRANSCRIPT_CASES.items()
        ),
        ("time of day 14:00-18:00", "/?" + urlencode({"time_from": "14:00", "time_until": "18:00"}), None),
        ("time of day 22:00-02:00", "/?" + urlencode({"time_from": "22:00", "time_until": "02:00"}), None),
        ("time of day 03:00-03:05", "/?" + urlencode({"time_from": "03:00", "time_until": "03:05"}), None),
        (
            "time of day + type + 30 days",
            "/?"
            + urlencode(
                {
                    "time_from": "14:00",
                    "time_until": "18:00",
                    "recording_type": "call",
                    "added_after": f["since"],
                    "added_before": f["until"],
                }
            ),
            None,
        ),
        ("share link page", f"/s/{f['share_token']}", None),
        ("saved views page", "/views/", None),
        ("usage page", "/usage/", None),
    ]


def share_and_save_views(auditor):
    """A share link to the newest recording (its token), and saved views to show as chips."""
    from recordings.audit_trail import Actor
    from recordings.browsing import saved_views
    from recordings.models import Recording, SavedView
    from recordings.sharing import links

    SavedView.objects.filter(owner=auditor).delete()
    for n, query in enumerate(["recording_type=call", "min_duration=60", "time_from=14:00&time_until=18:00"]):
        saved_views.save_view(owner=auditor, name=f"View {n}", query=query, shared=n == 0)
    made = links.make_link(
        actor=Actor(user=auditor, ip_address=None, user_agent="bench"),
        recording=Recording.objects.present().order_by("-add_time", "-id").first(),
        note="bench",
        hours=24,
        start_ms=None,
        show_numbers=True,
    )
    return made.token


def admin_sort_column(client):
    """The admin's `o=` index of the duration column, read from its own header link."""
    _, body = fetch(client, ADMIN)
    match = re.search(rb'column-recording_duration_ms.*?href="\?o=(\d+)', body, re.S)
    if not match:
        raise SystemExit("could not find the admin's duration column")
    return int(match.group(1))


def run(args: argparse.Namespace) -> None:
    warnings.filterwarnings("ignore", message="No directory at")
    database = (
        SeededSqlite(args.count, args.keep)
        if args.database == "sqlite"
        else SeededPostgres(args.count, args.keep, args.pg_url, args.pg_name)
    )
    django_env(database.url, args.django_debug)
    machine = {
        "nproc": os.cpu_count(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "database": database.describe(),
        "django_debug": args.django_debug,
        "load_average_at_start": round(os.getloadavg()[0], 2),
    }
    seed = None
    meta = database.seeded_meta() if args.keep else None
    if meta and meta.get("count") == args.count:
        seed = {**meta, "reused": True}
        print(f"Reusing the database seeded {meta['seeded_at']} with {args.count:,} recordings", file=sys.stderr)
    else:
        database.fresh()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, connections
    from django.test import Client
    from django.test.utils import override_settings

    call_command("migrate", verbosity=0)
    code = code_stamp()  # the code this process imported (templates load on first use: see the note)
    if seed is None:
        from recordings.models import Recording

        fields = [f for f in Recording._meta.concrete_fields if not f.primary_key]
        connections.close_all()
        print(f"Seeding {args.count:,} recordings with {args.seed_workers} workers…", file=sys.stderr)
        started = time.perf_counter()
        timings = database.load(args.count, args.seed_workers, fields)
        seed = {
            "count": args.count,
            "seeded_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "seed_s": round(time.perf_counter() - started, 2),
            "reused": False,
            **{k: round(v, 2) if isinstance(v, float) else v for k, v in timings.items()},
        }
        database.write_meta(seed)
        check_seed(args.count)
    else:
        started = time.perf_counter()
        call_command("migrate", verbosity=0)
        database.analyze()
        seed["analyze_s"] = round(time.perf_counter() - started, 2)
    seed.update(seed_transcripts(connection.vendor, connection))
    print(f"Seed: {seed}", file=sys.stderr)

    # No collectstatic here: serve static URLs unhashed (DEBUG off otherwise wants the manifest).
    override_settings(
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
    ).enable()

    from django.contrib.auth import get_user_model

    from recordings.roles import AUDITORS, role_group

    record_full_sync(args.count)
    User = get_user_model()
    auditor, _ = User.objects.get_or_create(username="bench-auditor")
    auditor.groups.add(role_group(AUDITORS))
    superuser, _ = User.objects.get_or_create(username="bench-admin", defaults={"is_staff": True, "is_superuser": True})
    dashboard, admin = Client(), Client()
    dashboard.force_login(auditor)
    admin.force_login(superuser)

    fixtures = choose_fixtures(args.deep_page)
    fixtures["share_token"] = share_and_save_views(auditor)
    earlier_admin = {}
    if args.admin_json:
        earlier = json.loads(Path(args.admin_json).read_text())
        if (
            earlier["count"] != args.count
            or earlier["machine"]["database"].split()[0] != database.describe().split()[0]
        ):
            raise SystemExit(f"{args.admin_json} measured another count or database")
        earlier_admin = {c["case"]: c["admin"] for c in earlier["cases"] if c.get("admin")}
    cases = build_cases(fixtures, admin_sort_column(admin))
    if args.only:
        cases = [c for c in cases if any(o.lower() in c[0].lower() for o in args.only)]
    results = []
    for name, dashboard_url, admin_url in cases:
        print(f"- {name}: {dashboard_url}", file=sys.stderr, flush=True)
        case_started = time.perf_counter()
        times, body = timed_requests(dashboard, dashboard_url, args.requests, args.warmups)
        cold = cold_requests(dashboard, dashboard_url, args.cold_requests) if args.cold_requests else []
        queries = captured_queries(dashboard, dashboard_url)
        cold_queries = captured_queries(dashboard, dashboard_url, cold=True)
        plans = explain_queries(connection.vendor, cold_queries)  # a cold request makes every query the page can make
        result = {
            "case": name,
            "dashboard": {
                "url": dashboard_url,
                **summary_stats(times),
                "queries": len(queries),
                "cold": summary_stats(cold) if cold else None,
                "cold_queries": len(cold_queries),
                "rows": dashboard_rows(body),
                "bytes": len(body),
                "sql": [{"ms": round(q["ms"], 2), "sql": short_sql(q["sql"], 2000)} for q in queries],
            },
            "plans": plans,
            "admin": None,
        }
        if admin_url and earlier_admin.get(name):
            result["admin"] = {**earlier_admin[name], "reused_from": args.admin_json}
        elif admin_url and not args.skip_admin:
            times, body = timed_requests(admin, admin_url, args.admin_requests or args.requests, args.warmups)
            admin_queries = captured_queries(admin, admin_url)
            result["admin"] = {
                "url": admin_url,
                **summary_stats(times),
                "queries": len(admin_queries),
                "rows": admin_rows(body),
                "bytes": len(body),
                "sql": [{"ms": round(q["ms"], 2), "sql": short_sql(q["sql"], 2000)} for q in admin_queries],
            }
        result["seconds"] = round(time.perf_counter() - case_started, 1)
        result["load_average_after"] = round(os.getloadavg()[0], 2)
        results.append(result)
        d = result["dashboard"]
        a = result["admin"]
        print(
            f"    dashboard {d['median_ms']:.1f} ms ({d['queries']} queries, rows {d['rows']})"
            + (f", admin {a['median_ms']:.1f} ms ({a['queries']} queries, rows {a['rows']})" if a else ""),
            file=sys.stderr,
            flush=True,
        )

    machine["load_average_at_end"] = round(os.getloadavg()[0], 2)
    connection.close()
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": shlex.join([".venv/bin/python", *sys.argv]),
        "machine": machine,
        "count": args.count,
        "requests": args.requests,
        "admin_requests": args.admin_requests,
        "warmups": args.warmups,
        "seed": seed,
        "fixtures": {k: str(v) for k, v in fixtures.items()},
        "code": code,
        "cases": results,
    }
    annotate_goals(report)
    print(markdown(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=str) + "\n")
    database.cleanup()


def explain_queries(vendor: str, queries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from django.db import connection

    plans = []
    with connection.cursor() as cursor:
        for q in queries:
            sql = q["sql"]
            if not sql.lstrip().upper().startswith("SELECT") or f'"{TABLE}"' not in sql:
                continue
            try:
                explained = (explain_postgresql if vendor == "postgresql" else explain_sqlite)(cursor, sql)
            except Exception as exc:  # noqa: BLE001 - report, do not stop the benchmark
                explained = {"plan": [f"EXPLAIN failed: {exc}"], "problems": []}
            plans.append({"ms": round(q["ms"], 2), "sql": short_sql(sql), **explained})
    return plans


def annotate_goals(report):
    counts = {c["case"]: c["dashboard"]["queries"] for c in report["cases"]}
    for case in report["cases"]:
        d, a = case["dashboard"], case["admin"]
        misses = []
        if d["median_ms"] >= MEDIAN_GOAL_MS:
            misses.append(f"median ≥ {MEDIAN_GOAL_MS:.0f} ms")
        cold = d.get("cold")
        if cold and cold["median_ms"] >= MEDIAN_GOAL_MS and d["median_ms"] < MEDIAN_GOAL_MS:
            misses.append(f"cold-cache median ≥ {MEDIAN_GOAL_MS:.0f} ms")
        if a:
            case["ratio"] = a["median_ms"] / d["median_ms"]
            if case["ratio"] < RATIO_GOAL:
                misses.append(f"< {RATIO_GOAL:.0f}× admin")
        else:
            case["ratio"] = None
        scans = sorted({p for plan in case["plans"] for p in plan["problems"]})
        misses += scans
        if case["case"] == "first page, 100 rows" and "first page" in counts and counts["first page"] != d["queries"]:
            misses.append(f"queries grow with page size ({counts['first page']} → {d['queries']})")
        case["misses"] = misses


def markdown(report):
    m = report["machine"]
    code = report.get("code") or {}
    lines = [
        f"## Pages benchmark: {report['count']:,} recordings",
        "",
        f"- date: {report['date']}",
        f"- command: `{report['command']}`",
        f"- machine: {m['nproc']} CPUs, {m['python']}, {m['platform']}; load average {m['load_average_at_start']} "
        f"at start, {m['load_average_at_end']} at end",
        f"- database: {m['database']}",
        f"- Django DEBUG {'on' if m['django_debug'] else 'off'}; {report['requests']} timed requests per case"
        + (f" ({report['admin_requests']} for the admin)" if report.get("admin_requests") else "")
        + f" after {report['warmups']} warm-ups; server time of the test Client, in ms",
        f"- seed: {'reused, ' if report['seed'].get('reused') else ''}"
        + ", ".join(f"{k} {v}" for k, v in report["seed"].items() if k.endswith("_s") or k == "indexes_rebuilt"),
        f"- code measured: newest product file {code.get('newest_file', '?')} ({code.get('newest_mtime', '?')}), "
        f"last migration {code.get('last_migration', '?')}"
        + (
            "; admin figures reused from "
            + next(c["admin"]["reused_from"] for c in report["cases"] if c["admin"] and c["admin"].get("reused_from"))
            if any(c["admin"] and c["admin"].get("reused_from") for c in report["cases"])
            else ""
        ),
        "- cold = caches emptied before each request (the first view after the data changed, or on another worker);"
        " the plans below are of a cold request's queries",
        "",
        "| case | dashboard median | p95 | cold median | queries | admin median | p95 | queries | admin/dashboard "
        "| rows (dash / admin) | misses |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for case in report["cases"]:
        d, a = case["dashboard"], case["admin"]
        lines.append(
            f"| {case['case']} | {d['median_ms']:.1f} | {d['p95_ms']:.1f} | "
            + (f"{d['cold']['median_ms']:.1f}" if d.get("cold") else "–")
            + f" | {d['queries']}"
            + (f" ({d['cold_queries']} cold)" if d.get("cold_queries", d["queries"]) != d["queries"] else "")
            + " | "
            + (
                f"{a['median_ms']:.1f} | {a['p95_ms']:.1f} | {a['queries']} | {case['ratio']:.2f}× | "
                if a
                else "– | – | – | – | "
            )
            + f"{d['rows'] if d['rows'] is not None else '?'} / {a['rows'] if a and a['rows'] is not None else '–'} | "
            + ("; ".join(case["misses"]) or "✓")
            + " |"
        )
    lines += ["", "### Query plans (dashboard): the slowest query on recordings_recording of each case", ""]
    for case in report["cases"]:
        if not case["plans"]:
            continue
        slowest = max(case["plans"], key=lambda p: p.get("run_ms", p["ms"]))
        scans = [p for p in case["plans"] if p["problems"]]
        lines.append(
            f"**{case['case']}** `{case['dashboard']['url']}` — {len(case['plans'])} queries on the table; "
            f"slowest {slowest.get('run_ms', slowest['ms']):.1f} ms run alone"
            + (f"; problems: {len(scans)}" if scans else "")
        )
        lines.append("")
        lines.append("```")
        lines.append(slowest["sql"])
        lines += slowest["plan"]
        for plan in scans:
            if plan is not slowest:
                lines.append(
                    f"-- also ({plan.get('run_ms', plan['ms']):.1f} ms, {', '.join(plan['problems'])}): {plan['sql']}"
                )
                lines += plan["plan"]
        lines.append("```")
        lines.append("")
    full = [(c["case"], p) for c in report["cases"] for p in c["plans"] if "full table scan" in p["problems"]]
    lines.append("### Full table scans")
    lines.append("")
    if full:
        for name, plan in full:
            lines.append(f"- {name}: {plan.get('run_ms', plan['ms']):.1f} ms — `{plan['sql'][:200]}`")
    else:
        lines.append("- none")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=100_000, help="recordings to seed (default 100000)")
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per case (default 30)")
    parser.add_argument("--warmups", type=int, default=2, help="untimed requests first (default 2)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument(
        "--keep", action="store_true", help="reuse a database seeded with the same count, and keep it afterwards"
    )
    parser.add_argument(
        "--pg-url",
        default="postgres://postgres@127.0.0.1:5432/",
        help="PostgreSQL server (default postgres://postgres@127.0.0.1:5432/)",
    )
    parser.add_argument(
        "--pg-name",
        default="bench_pages",
        help="database to drop and create (default bench_pages; with --keep bench_pages_<count>)",
    )
    parser.add_argument("--deep-page", type=int, default=2000, help="the dashboard's deep page (default 2000)")
    parser.add_argument("--seed-workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--django-debug", action="store_true", help="run with DEBUG on (slower templates)")
    parser.add_argument("--skip-admin", action="store_true", help="measure the dashboard only")
    parser.add_argument(
        "--admin-requests",
        type=int,
        help="timed requests per admin case (default: --requests; the admin takes seconds at 1M)",
    )
    parser.add_argument(
        "--cold-requests",
        type=int,
        default=5,
        help="dashboard requests timed with every cache emptied first (default 5; 0: none)",
    )
    parser.add_argument(
        "--admin-json",
        metavar="PATH",
        help="take the admin's figures from an earlier --json run of the same count and database "
        "(the admin did not change; saves its slow requests)",
    )
    parser.add_argument("--only", nargs="+", metavar="TEXT", help="only the cases whose name contains TEXT")
    parser.add_argument("--from-json", metavar="PATH", help="print the report of an earlier --json run, run nothing")
    args = parser.parse_args()
    if args.from_json:
        print(markdown(json.loads(Path(args.from_json).read_text())))
        return
    if args.count < 20_000:
        parser.error("--count must be at least 20000 (the 10k-row CSV export needs the rows)")
    if args.deep_page * 25 > args.count * 0.9:
        args.deep_page = int(args.count * 0.5) // 25
        print(f"--deep-page lowered to {args.deep_page}: the recordings do not fill more pages", file=sys.stderr)
    run(args)


if __name__ == "__main__":
    main()
