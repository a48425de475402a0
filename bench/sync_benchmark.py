"""How fast a full recordings sync runs, against the sequential floor of the Vobiz API.

    .venv/bin/python bench/sync_benchmark.py --counts 10000 100000 --latency 0.05 --workers 8

For each account size (--counts) the script:

1. starts the fake Vobiz API (`python -m vobiz.fake`) in its own process on a free
   local port, with --latency seconds added to every request, so the server's CPU does not share
   a GIL with what is measured;
2. measures the *sequential floor*: the list requests a full sync makes (limit=100, offsets 0, 100,
   200, ... to the end), one after another with `VobizClient.list_recordings`, no database work.
   With latency L and P pages this is about P x L: what one connection needs just to read the list;
3. runs `manage.py migrate`, then `manage.py sync_recordings --full --workers 1` and
   `--workers N` in child processes, each into a fresh database (a SQLite file in a temporary folder,
   or --database-url, e.g. postgres://postgres@127.0.0.1:5432/bench_sync, which is dropped and
   created again for each run), with Django's DEBUG off as in production (--django-debug turns it
   on). It records each sync's wall time (process start to exit, so Django's start-up is included),
   its peak RSS (from wait4() on that very process: not the fake server's, not migrate's) and checks
   that the database then holds exactly `count` recordings.

4. with --baseline PATH (a checkout of another version, e.g. `git archive main | tar -x -C PATH`),
   runs the same syncs with that version's code, into fresh databases of its own schema, so the
   table compares the two measured in the same run on the same machine; with --repeat N, each
   sync N times, this code's and the baseline's taking turns, and the median of each figure;
5. unless --skip-moving, checks the sync against a list that moves, with the fake API in this
   process so it can be changed between and during syncs (the sync still runs in a child process):
   - "a day later": --day-later-count recordings synced, then the account's clock moved a day on
     (every object's storage days change) and 10 recordings added; the incremental run's list
     requests are counted and the 10 checked;
   - "arrivals": a --full sync of --arrivals-count recordings while N recordings arrive after every
     page served, for each N of --arrivals; rows missed are those of the longest list a page
     showed that the database lacks (what arrived after the last page no page could show).

How to read the table:

- "N workers / floor" is the N-worker sync's wall time as a share of the floor. Fetching pages in
  parallel should beat the floor by about N, so with 8 workers the goal is under 25 %; near or over
  100 % means the work between requests (JSON, normalising, the database) is what bounds the sync,
  not the network.
- "N workers / (pages × latency / N)" compares the same time with what the network alone needs
  with N requests in flight: near 1× the sync is bound by the network; well over it, by its CPU.
- "CPU" is the N-worker sync process's user + system time. Close to its wall time, the sync is
  bound by its own work; well under it, by the network (or by other processes taking the CPUs).
- "peak RSS" is the N-worker sync's. A sync that streams pages into the database should need the
  same memory at 10k as at 100k; growth with the count means something holds every row.
- "sync, 1 worker" is the product's --workers 1, which still fetches the next page in a thread
  while it stores the last one: a reference point, not a strictly sequential sync.
- The fake server is on the same machine: with few CPUs (see nproc, and the load average, which
  counts other work too) it competes with the sync for them. --json PATH also writes every number,
  including the 1-worker sync's CPU and RSS and each sync's own duration as recorded in its
  SyncRun (without process start-up).
"""

import argparse
import json
import os
import platform
import shlex
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from processes import (  # noqa: E402
    BenchError,
    CpuMeter,
    production_env,
    shell_json,
    start,
    start_fake_vobiz,
    tail,
)
from seeding import database_name, drop_postgres, recreate_postgres, server_url  # noqa: E402

from vobiz.client import MAX_PAGE_SIZE, VobizClient  # noqa: E402

AUTH_ID = "MA_BENCH"
AUTH_TOKEN = "bench-token-0123456789abcdef"

# Printed by `manage.py shell -c` after a sync: what the database holds and what the run recorded.
CHECK_SNIPPET = """
import json
from recordings.models import Recording, SyncRun
run = SyncRun.objects.order_by("-started_at", "-id").first()
print(json.dumps({
    "recordings": Recording.objects.count(),
    "status": run.status if run else None,
    "error": run.error if run else None,
    "pages": run.pages if run else None,
    "seconds": (run.finished_at - run.started_at).total_seconds() if run and run.finished_at else None,
}))
"""


@dataclass
class SyncResult:
    workers: int
    wall_s: float
    cpu_s: float  # user + system CPU of the sync process: what it costs whatever else runs
    peak_rss_mib: float
    run_s: float  # the SyncRun's own duration: no interpreter or Django start-up
    pages: int
    recordings: int
    load_average_after: float  # 1-minute load average when it ended: high means the timing is noisy
    # What the rest of the machine spent meanwhile: the machine's PostgreSQL processes, whatever
    # they serve (on SQLite the database's work is the sync's own), and every process, the fake API
    # and other jobs included.
    database_cpu_s: float = 0.0
    machine_cpu_s: float = 0.0


@dataclass
class CountResult:
    count: int
    latency_s: float
    pages: int
    floor_s: float | None  # None: not measured (--skip-floor)
    syncs: dict = field(default_factory=dict)  # workers -> SyncResult
    baseline: dict = field(default_factory=dict)  # workers -> SyncResult of the --baseline checkout


# -- child processes ----------------------------------------------------------------------------


@dataclass
class Usage:
    wall_s: float
    cpu_s: float
    peak_rss_mib: float
    exit_code: int = 0


def wait_with_usage(proc, started):
    """Wait for `proc`; return its exit code and Usage. wait4() reports that process alone."""
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    except ChildProcessError:  # already reaped elsewhere: no usage to report
        proc.wait()
        return proc.returncode, Usage(time.perf_counter() - started, float("nan"), float("nan"))
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)  # so Popen does not wait for it again
    # ru_maxrss is in KiB on Linux.
    return proc.returncode, Usage(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def fake_vobiz(children: ExitStack, count: int, latency: float, log_path: Path) -> str:
    """The fake API in its own process, serving pages as big as the sync asks; its base URL."""
    return start_fake_vobiz(
        children,
        count,
        log_path,
        latency=latency,
        max_page_size=MAX_PAGE_SIZE,
        auth_id=AUTH_ID,
        auth_token=AUTH_TOKEN,
        stop_signal=signal.SIGINT,  # the fake server exits cleanly
    )


# -- measurements -------------------------------------------------------------------------------


def measure_floor(base_url):
    """Wall time of the sync's list requests made one after another; returns (seconds, pages, objects)."""
    with VobizClient(AUTH_ID, AUTH_TOKEN, base_url) as client:
        offset, pages, objects = 0, 0, 0
        started = time.perf_counter()
        while True:
            page = client.list_recordings(offset=offset, limit=MAX_PAGE_SIZE)
            pages += 1
            objects += len(page.objects)
            if not page.objects or not page.has_next:
                break
            offset += MAX_PAGE_SIZE
        return time.perf_counter() - started, pages, objects


def child_env(base_url: str, database_url: str, debug: bool) -> dict[str, str]:
    """manage.py's environment: as in production (DEBUG off) unless --django-debug.

    With DEBUG on, Django keeps the text of the last 9000 queries (every page's upsert, rows and
    all) and, on SQLite, runs an extra query per statement to quote its parameters for that text.
    """
    return production_env(
        database_url,
        DJANGO_DEBUG="1" if debug else "0",
        VOBIZ_API_URL=base_url,
        VOBIZ_AUTH_ID=AUTH_ID,
        VOBIZ_AUTH_TOKEN=AUTH_TOKEN,
        PYTHONUNBUFFERED="1",
    )


def run_manage(
    children: ExitStack,
    args: list[str],
    env: dict[str, str],
    log_path: Path,
    checkout: Path = PROJECT,
    allow_failure: bool = False,
) -> Usage:
    """Run manage.py (of `checkout`) to the end and return its Usage."""
    with open(log_path, "w") as log:
        started = time.perf_counter()
        # Stopped early by SIGINT, a sync marks its run failed.
        proc = start(children, [sys.executable, "manage.py", *args], log, env, cwd=checkout, stop_signal=signal.SIGINT)
        code, usage = wait_with_usage(proc, started)
    if code != 0 and not allow_failure:
        raise BenchError(f"manage.py {' '.join(args)} exited with {code}:\n{tail(log_path)}")
    usage.exit_code = code
    return usage


def measure_sync(
    children: ExitStack,
    workers: int,
    count: int,
    base_url: str,
    database: "SqliteDatabases | PostgresDatabases",
    workdir: Path,
    debug: bool,
    checkout: Path = PROJECT,
) -> SyncResult:
    """A full sync into a fresh database, with its wall time, peak RSS and a check of the result."""
    tag = f"{count}-w{workers}-{Path(checkout).name}"
    with database.fresh(tag) as database_url:
        env = child_env(base_url, database_url, debug)
        run_manage(children, ["migrate", "--noinput"], env, workdir / f"migrate-{tag}.log", checkout)
        meter = CpuMeter({})
        meter.start()
        usage = run_manage(
            children,
            ["sync_recordings", "--full", "--workers", str(workers)],
            env,
            workdir / f"sync-{tag}.log",
            checkout,
        )
        used = meter.stop()
        check = shell_json(env, CHECK_SNIPPET, cwd=checkout)
    if check["status"] != "succeeded" or check["recordings"] != count:
        raise BenchError(
            f"the {workers}-worker sync of {count} left {check['recordings']} recordings "
            f"(run {check['status']}: {check['error'] or 'no error'})"
        )
    return SyncResult(
        workers=workers,
        wall_s=usage.wall_s,
        cpu_s=usage.cpu_s,
        peak_rss_mib=usage.peak_rss_mib,
        run_s=check["seconds"],
        pages=check["pages"],
        recordings=check["recordings"],
        load_average_after=round(os.getloadavg()[0], 2),
        database_cpu_s=used["PostgreSQL"],
        machine_cpu_s=used["the whole machine"],
    )


# -- a list that moves --------------------------------------------------------------------------

STORED_IDS_SNIPPET = """
import json
from recordings.models import Recording
print(json.dumps(list(Recording.objects.values_list("recording_id", flat=True))))
"""


@dataclass
class MovingResult:
    checkout: str
    scenario: str
    count: int
    list_requests: int
    missed: int  # rows the sync should have stored and did not
    exit_code: int
    wall_s: float


@contextmanager
def fake_in_process(count, latency):
    """The fake API in this process, so the benchmark can move its clock and add recordings."""
    from vobiz.fake.data import FakeAccount
    from vobiz.fake.server import FakeVobizServer

    account = FakeAccount(count=count, seed=1, auth_id=AUTH_ID, auth_token=AUTH_TOKEN)
    with FakeVobizServer(account, latency=latency) as server:
        yield server


def checkout_name(checkout):
    return "this" if Path(checkout) == PROJECT else Path(checkout).name


def list_request_count(server):
    return sum(1 for r in server.requests_log if r.method == "GET" and r.path.endswith("/Recording/"))


def stored_ids(env: dict[str, str], checkout: Path) -> set[str]:
    return set(shell_json(env, STORED_IDS_SNIPPET, cwd=checkout))


def measure_day_later(children, args, database, workdir, checkout):
    """An incremental run a day after a first sync, with 10 new recordings: its list requests."""
    count, name = args.day_later_count, checkout_name(checkout)
    tag = f"day-later-{name}"
    with fake_in_process(count, args.latency) as server, database.fresh(tag) as database_url:
        env = child_env(server.base_url, database_url, args.django_debug)
        run_manage(children, ["migrate", "--noinput"], env, workdir / f"migrate-{tag}.log", checkout)
        workers = ["--workers", str(args.workers)]
        run_manage(children, ["sync_recordings", *workers], env, workdir / f"first-{tag}.log", checkout)
        server.account.advance_clock(days=1)
        new = server.account.add_recordings(10)
        server.reset_log()
        usage = run_manage(children, ["sync_recordings", *workers], env, workdir / f"sync-{tag}.log", checkout)
        missed = len(set(new) - stored_ids(env, checkout))
        result = MovingResult(name, "a day later, 10 new", count, list_request_count(server), missed, 0, usage.wall_s)
    log(f"{name}: a day later at {count:,}: {result.list_requests} list requests, {missed} of the 10 new missed")
    return result


def measure_arrivals(children, args, database, workdir, checkout, arrivals):
    """A --full sync while `arrivals` recordings arrive after every page served: rows missed."""
    count, name = args.arrivals_count, checkout_name(checkout)
    tag = f"arrivals-{arrivals}-{name}"
    with fake_in_process(count, args.latency) as server, database.fresh(tag) as database_url:
        env = child_env(server.base_url, database_url, args.django_debug)
        run_manage(children, ["migrate", "--noinput"], env, workdir / f"migrate-{tag}.log", checkout)
        server.arrivals_per_page = arrivals
        usage = run_manage(
            children,
            ["sync_recordings", "--full", "--workers", str(args.workers)],
            env,
            workdir / f"sync-{tag}.log",
            checkout,
            allow_failure=True,
        )
        server.arrivals_per_page = 0
        requests = list_request_count(server)
        listed = [o["recording_id"] for o in server.account.page(0, len(server.account))[0]]
        # What the longest list a page showed held: those that came after the last page (more
        # than `arrivals` when pages were served at once) no page could show.
        unseen = len(listed) - server.longest_list_served
        expected = set(listed[unseen:])
        missed = len(expected - stored_ids(env, checkout))
    result = MovingResult(name, f"{arrivals} per page", count, requests, missed, usage.exit_code, usage.wall_s)
    log(
        f"{name}: {arrivals} arrivals per page at {count:,}: {missed} missed, exit {usage.exit_code} "
        f"({unseen} arrived after the last page)"
    )
    return result


def bench_moving(
    args: argparse.Namespace, database: "SqliteDatabases | PostgresDatabases", workdir: Path
) -> list[MovingResult]:
    results = []
    checkouts = [PROJECT, *([Path(args.baseline)] if args.baseline else [])]
    with ExitStack() as children:
        for checkout in checkouts:
            results.append(measure_day_later(children, args, database, workdir, checkout))
            for arrivals in args.arrivals:
                results.append(measure_arrivals(children, args, database, workdir, checkout, arrivals))
    return results


def moving_table(results):
    head = ["code", "scenario", "recordings", "list requests", "rows missed", "exit status", "sync (s)"]
    lines = ["| " + " | ".join(head) + " |", "|---|---|" + "|".join("---:" for _ in head[2:]) + "|"]
    for r in results:
        lines.append(
            f"| {r.checkout} | {r.scenario} | {r.count:,} | {r.list_requests:,} | {r.missed:,} | "
            f"{r.exit_code} | {r.wall_s:.1f} |"
        )
    return "\n".join(lines)


# -- pages straight after a first sync ----------------------------------------------------------

# Run by `manage.py shell -c` straight after a first sync: server times of two pages with Django's
# caches emptied before each request (the first view after the sync), then again after an ANALYZE.
PAGES_SNIPPET = """
import json, re, statistics, time
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.db import close_old_connections, connection
from django.db.models import Q
from django.test import Client
from django.test.utils import override_settings
from recordings.models import Recording

override_settings(STORAGES={
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}).enable()
user, _ = get_user_model().objects.get_or_create(
    username="bench-pages", defaults={"is_staff": True, "is_superuser": True}
)
client = Client()
client.force_login(user)

def statistics_state():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT last_analyze, last_autoanalyze FROM pg_stat_user_tables WHERE relname = %s",
            [Recording._meta.db_table],
        )
        analyzed, autoanalyzed = cursor.fetchone()
    return {"analyzed": str(analyzed), "autoanalyzed": str(autoanalyzed)}

def digits(number):
    return re.sub(r"\\D", "", number)

# A customer's number: of a recording's two numbers, the one on fewer recordings (the other is
# usually one of the account's own lines, on every call).
middle = Recording.objects.order_by("id")[Recording.objects.count() // 2]
last6 = min(
    (digits(n)[-6:] for n in (middle.from_number, middle.to_number) if len(digits(n)) >= 6),
    key=lambda d: Recording.objects.filter(Q(from_number__endswith=d) | Q(to_number__endswith=d)).count(),
)
cases = {"page 50": "/?page=50", "last 6 digits": "/?q=" + last6}

def measure(requests=7, warmups=2):
    medians = {}
    for name, url in cases.items():
        times = []
        for i in range(warmups + requests):
            for cache in caches.all():
                cache.clear()
            started = time.perf_counter()
            response = client.get(url)
            elapsed = time.perf_counter() - started
            close_old_connections()
            assert response.status_code == 200, (url, response.status_code)
            if i >= warmups:
                times.append(elapsed * 1000)
        medians[name] = round(statistics.median(times), 1)
    return medians

# The second look straight after the sync is the one compared: the first also warms the caches.
result = {"statistics_after_sync": statistics_state(), "first_look": measure(), "after_sync": measure()}
with connection.cursor() as cursor:
    cursor.execute("ANALYZE " + connection.ops.quote_name(Recording._meta.db_table))
result["after_analyze"] = measure()
print(json.dumps(result))
"""


@dataclass
class PagesResult:
    checkout: str
    count: int
    sync_s: float
    statistics_after_sync: dict
    first_look: dict  # case -> median server time (ms), the first requests after the sync
    after_sync: dict  # the same requests again, before any ANALYZE of the benchmark's
    after_analyze: dict


def measure_pages_after_sync(
    children: ExitStack,
    args: argparse.Namespace,
    database: "SqliteDatabases | PostgresDatabases",
    workdir: Path,
    checkout: Path,
) -> PagesResult:
    """A first full sync into a fresh database, then the pages' times before and after an ANALYZE."""
    count, name = args.pages_after_sync, checkout_name(checkout)
    tag = f"pages-{name}"
    base_url = fake_vobiz(children, count, args.latency, workdir / f"fake-vobiz-{tag}.log")
    with database.fresh(tag) as database_url:
        env = child_env(base_url, database_url, args.django_debug)
        env.update(DJANGO_ALLOWED_HOSTS="testserver", VOBIZ_AUTH_ID="", VOBIZ_AUTH_TOKEN="", LOG_LEVEL="WARNING")
        run_manage(children, ["migrate", "--noinput"], env, workdir / f"migrate-{tag}.log", checkout)
        sync_env = {**env, "VOBIZ_AUTH_ID": AUTH_ID, "VOBIZ_AUTH_TOKEN": AUTH_TOKEN}
        usage = run_manage(
            children,
            ["sync_recordings", "--full", "--workers", str(args.workers)],
            sync_env,
            workdir / f"sync-{tag}.log",
            checkout,
        )
        pages = shell_json(env, PAGES_SNIPPET, cwd=checkout)
    result = PagesResult(name, count, usage.wall_s, **pages)
    log(f"{name}: pages after a first sync of {count:,}: {result.after_sync}; after ANALYZE {result.after_analyze}")
    return result


def pages_table(results):
    cases = list(results[0].after_sync)
    head = [
        "code",
        "recordings",
        "statistics after the sync",
        *(f"{case}: first look / after the sync / after ANALYZE (ms)" for case in cases),
    ]
    lines = ["| " + " | ".join(head) + " |", "|---|---:|---|" + "|".join("---:" for _ in cases) + "|"]
    for r in results:
        state = r.statistics_after_sync
        gathered = (
            "ANALYZE" if state["analyzed"] != "None" else "autovacuum" if state["autoanalyzed"] != "None" else "none"
        )
        cells = [f"{r.first_look[case]:.0f} / {r.after_sync[case]:.0f} / {r.after_analyze[case]:.0f}" for case in cases]
        lines.append(f"| {r.checkout} | {r.count:,} | {gathered} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# -- databases ----------------------------------------------------------------------------------


class SqliteDatabases:
    """A new SQLite file per run, in the benchmark's temporary folder."""

    def __init__(self, workdir):
        self.workdir = workdir

    def describe(self):
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version} (file in {self.workdir.parent})"

    @contextmanager
    def fresh(self, tag):
        path = self.workdir / f"sync-{tag}.sqlite3"
        yield f"sqlite:///{path}"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


class PostgresDatabases:
    """The database named in the URL, dropped and created again for every run, and dropped at the end."""

    def __init__(self, url: str) -> None:
        self.url = url
        name = database_name(url)
        if not name or name in ("postgres", "template0", "template1"):
            raise BenchError(f"--database-url must name a scratch database to drop and create, not {name!r}")

    def describe(self) -> str:
        """The server's version; fails the benchmark early when the server cannot be reached."""
        import psycopg

        try:
            with psycopg.connect(server_url(self.url), autocommit=True) as conn:
                version = conn.execute("SHOW server_version").fetchone()[0]
        except psycopg.OperationalError as exc:
            raise BenchError(f"cannot connect to PostgreSQL: {exc}") from None
        return f"PostgreSQL {version} ({urlsplit(self.url).hostname})"

    @contextmanager
    def fresh(self, tag: str) -> Iterator[str]:
        recreate_postgres(self.url)
        try:
            yield self.url
        finally:
            drop_postgres(self.url)


# -- one count, and the report ------------------------------------------------------------------


def bench_count(
    count: int, args: argparse.Namespace, database: "SqliteDatabases | PostgresDatabases", workdir: Path
) -> CountResult:
    with ExitStack() as children:
        base_url = fake_vobiz(children, count, args.latency, workdir / f"fake-vobiz-{count}.log")
        if args.skip_floor:
            floor_s, pages = None, -(-count // MAX_PAGE_SIZE)
        else:
            floor_s, pages, objects = measure_floor(base_url)
            if objects != count:
                raise BenchError(f"the floor walk read {objects} recordings, expected {count}")
            log(f"{count}: floor {floor_s:.1f}s over {pages} pages")
        result = CountResult(count=count, latency_s=args.latency, pages=pages, floor_s=floor_s)
        for workers in dict.fromkeys([args.workers] if args.skip_one_worker else [1, args.workers]):
            # With --repeat, this code's sync and the baseline's take turns, so that a change in
            # the machine's load falls on both; the table shows the median of each figure.
            syncs, bases = [], []
            for _ in range(args.repeat):
                sync = measure_sync(children, workers, count, base_url, database, workdir, args.django_debug)
                syncs.append(sync)
                log(
                    f"{count}: sync with {workers} worker(s) {sync.wall_s:.1f}s (CPU {sync.cpu_s:.1f}s), "
                    f"peak RSS {sync.peak_rss_mib:.0f} MiB, load average {sync.load_average_after}; "
                    f"PostgreSQL's CPU {sync.database_cpu_s:.1f}s, the machine's {sync.machine_cpu_s:.1f}s"
                )
                if args.baseline:
                    base = measure_sync(
                        children, workers, count, base_url, database, workdir, args.django_debug, args.baseline
                    )
                    bases.append(base)
                    log(
                        f"{count}: baseline sync with {workers} worker(s) {base.wall_s:.1f}s (CPU {base.cpu_s:.1f}s), "
                        f"load average {base.load_average_after}; PostgreSQL's CPU {base.database_cpu_s:.1f}s, "
                        f"the machine's {base.machine_cpu_s:.1f}s"
                    )
            result.syncs[workers] = median_result(syncs)
            if bases:
                result.baseline[workers] = median_result(bases)
        return result


def median_result(results):
    """Each figure's median over repeated syncs (a single sync's figures as they are)."""
    figures = {
        name: statistics.median(getattr(r, name) for r in results)
        for name in (
            "wall_s",
            "cpu_s",
            "peak_rss_mib",
            "run_s",
            "load_average_after",
            "database_cpu_s",
            "machine_cpu_s",
        )
    }
    return SyncResult(workers=results[0].workers, pages=results[0].pages, recordings=results[0].recordings, **figures)


def markdown_table(results, workers):
    head = [
        "count",
        "latency (ms)",
        "pages",
        "floor (s)",
        f"pages × latency / {workers} (s)",
        "sync, 1 worker (s)",
        f"sync, {workers} workers (s)",
        f"{workers} workers / floor",
        f"{workers} workers / (pages × latency / {workers})",
        "peak RSS (MiB)",
        f"CPU, {workers} workers (s)",
    ]
    rows = []
    for r in results:
        seq, par = r.syncs.get(1), r.syncs[workers]
        network_s = r.pages * r.latency_s / workers
        rows.append(
            [
                f"{r.count:,}",
                f"{r.latency_s * 1000:g}",
                f"{r.pages:,}",
                f"{r.floor_s:.1f}" if r.floor_s else "–",
                f"{network_s:.1f}",
                f"{seq.wall_s:.1f}" if seq else "–",
                f"{par.wall_s:.1f}",
                f"{100 * par.wall_s / r.floor_s:.0f} %" if r.floor_s else "–",
                f"{par.wall_s / network_s:.2f}×" if network_s else "–",
                f"{par.peak_rss_mib:.0f}",
                f"{par.cpu_s:.1f}",
            ]
        )
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---:" for _ in head) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def baseline_table(results):
    head = ["count", "workers", "this (s)", "baseline (s)", "this / baseline", "CPU this / baseline"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---:" for _ in head) + "|"]
    for r in results:
        for workers, base in r.baseline.items():
            this = r.syncs[workers]
            lines.append(
                f"| {r.count:,} | {workers} | {this.wall_s:.1f} | {base.wall_s:.1f} | "
                f"{this.wall_s / base.wall_s:.2f}× | {this.cpu_s / base.cpu_s:.2f}× |"
            )
    return "\n".join(lines)


def machine(database, args):
    return {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "database": database.describe(),
        "django_debug": args.django_debug,
        "load_average_at_start": round(os.getloadavg()[0], 2),  # other work competing for the CPUs
    }


def report(results, args, info, started_at):
    print()
    print(markdown_table(results, args.workers))
    print()
    if any(r.baseline for r in results):
        print(f"Full syncs against the code in {args.baseline}, measured in the same run:")
        print()
        print(baseline_table(results))
        print()
    print(
        f"Peak RSS and CPU (user + system) are the {args.workers}-worker sync process's own (wait4). Sync times "
        "are wall times of `manage.py sync_recordings --full`, Django start-up included; CPU close to the wall "
        "time means the sync is bound by its own work, not by the network."
    )
    print(
        f"Machine: {info['nproc']} CPUs (load average {info['load_average_at_start']} at start), "
        f"{info['python']}, Django DEBUG {'on' if info['django_debug'] else 'off'}, {info['database']}; "
        f"{info['platform']}."
    )
    print(f"Date: {started_at:%Y-%m-%d %H:%M} UTC. Command: `{command_line()}`")


def command_line():
    python = os.path.relpath(sys.executable, PROJECT) if sys.executable.startswith(str(PROJECT)) else sys.executable
    return shlex.join([python, os.path.relpath(__file__, PROJECT), *sys.argv[1:]])


def write_json(path, results, args, info, started_at, moving=(), pages=()):
    payload = {
        "moving": [asdict(m) for m in moving],
        "pages_after_sync": [asdict(p) for p in pages],
        "date": started_at.isoformat(timespec="seconds"),
        "command": command_line(),
        "machine": info,
        "workers": args.workers,
        "results": [
            {
                **asdict(r),
                "syncs": {str(w): asdict(s) for w, s in r.syncs.items()},
                "baseline": {str(w): asdict(s) for w, s in r.baseline.items()},
            }
            for r in results
        ],
    }
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(payload, indent=2) + "\n")


def interrupt(signum, frame):
    """SIGTERM unwinds like Ctrl-C, so the child processes are stopped either way."""
    raise KeyboardInterrupt


def log(message):
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--counts",
        type=int,
        nargs="+",
        default=[10_000, 100_000],
        help="recordings in the fake account, one benchmark each (default: 10000 100000)",
    )
    parser.add_argument(
        "--latency", type=float, default=0.05, help="seconds the fake API adds to every request (default: 0.05)"
    )
    parser.add_argument("--workers", type=int, default=8, help="workers for the parallel sync (default: 8)")
    parser.add_argument(
        "--database-url",
        default="",
        help="a PostgreSQL URL whose database is dropped and created for each run "
        "(default: a fresh SQLite file in a temporary folder)",
    )
    parser.add_argument(
        "--json", metavar="PATH", help="also write the results as JSON (bench/results/ is ignored by git)"
    )
    parser.add_argument(
        "--django-debug",
        action="store_true",
        help="run manage.py with DJANGO_DEBUG=1 (default: DEBUG off, as in production)",
    )
    parser.add_argument("--keep-temp", action="store_true", help="keep the temporary folder (logs, databases)")
    parser.add_argument(
        "--skip-one-worker",
        action="store_true",
        help="run only the --workers sync after the floor (at 1M the 1-worker sync alone takes over 10 minutes)",
    )
    parser.add_argument(
        "--skip-floor",
        action="store_true",
        help="do not walk the list sequentially first (at 1M and 250 ms of latency that alone takes 45 minutes); "
        "the syncs are still checked against the account's count",
    )
    parser.add_argument(
        "--baseline",
        metavar="PATH",
        help="a checkout of another version whose syncs are measured in the same run, for comparison",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="full syncs of each kind per count, taking turns with the baseline's; the table shows medians",
    )
    parser.add_argument("--skip-moving", action="store_true", help="skip the checks against a moving list")
    parser.add_argument(
        "--day-later-count", type=int, default=100_000, help="recordings for the day-later run (default: 100000)"
    )
    parser.add_argument(
        "--arrivals-count", type=int, default=10_000, help="recordings for the arrivals runs (default: 10000)"
    )
    parser.add_argument(
        "--arrivals",
        type=int,
        nargs="+",
        default=[0, 1, 5, 25],
        help="recordings arriving after every page served, one run each (default: 0 1 5 25)",
    )
    parser.add_argument("--skip-full", action="store_true", help="skip the full-sync timings (--counts)")
    parser.add_argument(
        "--pages-after-sync",
        type=int,
        default=0,
        metavar="COUNT",
        help="PostgreSQL only: a first full sync of COUNT recordings, then page 50 and a last-6-digits search "
        "timed straight after it and after an ANALYZE (default: not run)",
    )
    args = parser.parse_args(argv)
    if args.workers < 1 or args.repeat < 1 or any(c < 1 for c in args.counts) or args.latency < 0:
        parser.error("--workers, --repeat and --counts must be positive and --latency not negative")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, interrupt)
    started_at = datetime.now(UTC)
    with ExitStack() as stack:
        workdir = Path(tempfile.mkdtemp(prefix="sync-bench-"))
        if args.keep_temp:
            log(f"keeping logs and databases in {workdir}")
        else:
            stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        results, moving, pages = [], [], []
        try:
            database = PostgresDatabases(args.database_url) if args.database_url else SqliteDatabases(workdir)
            info = machine(database, args)
            for count in [] if args.skip_full else args.counts:
                results.append(bench_count(count, args, database, workdir))
            if not args.skip_moving:
                moving = bench_moving(args, database, workdir)
            if args.pages_after_sync:
                if not args.database_url:
                    raise BenchError("--pages-after-sync needs --database-url (PostgreSQL)")
                with ExitStack() as children:
                    for checkout in [PROJECT, *([Path(args.baseline)] if args.baseline else [])]:
                        pages.append(measure_pages_after_sync(children, args, database, workdir, checkout))
        except BenchError as exc:
            log(f"benchmark failed: {exc}")
            return 1
        except KeyboardInterrupt:
            log("interrupted; child processes stopped")
            return 130
        finally:
            if results:
                report(results, args, info, started_at)
            if moving:
                print()
                print("A moving list (rows missed must be 0):")
                print()
                print(moving_table(moving))
            if pages:
                print()
                print("Pages straight after a first sync (median server time, Django's caches emptied first):")
                print()
                print(pages_table(pages))
            if results or moving or pages:
                if args.json:
                    write_json(args.json, results, args, info, started_at, moving, pages)
    return 0


if __name__ == "__main__":
    sys.exit(main())
