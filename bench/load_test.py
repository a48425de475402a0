"""A team's daily load on the dashboard: gunicorn on PostgreSQL with a big local copy, driven by locust.

    .venv/bin/pip install -r bench/requirements.txt
    .venv/bin/python bench/pages_benchmark.py --count 1000000 --database postgres --keep --skip-admin
    .venv/bin/python bench/load_test.py --users 20 --duration 60

It uses the database the page benchmark seeded (bench_pages_<count>, from FakeAccount(count=N)), starts the
fake Vobiz API for that same account on port 8765 (where the seeded recordings' audio lives),
serves the dashboard with gunicorn (threaded workers, DEBUG off, static files collected), and runs
locust headless from a second process on loopback with the mix in bench/locustfile.py for
--duration seconds. It prints requests per second, median and 99th percentile latency and errors,
per kind of request and in all, then the CPU each kind of process spent over the run (gunicorn,
PostgreSQL, Redis, locust with the fake API, the rest), in all and per request. With --redis-url,
caches and limits live in that Redis, as when the dashboard is scaled out. Every process it starts
is stopped at the end.
"""

import argparse
import csv
import json
import os
import secrets
import tempfile
from contextlib import ExitStack
from pathlib import Path

from processes import (
    PROJECT,
    PYTHON,
    CpuMeter,
    free_port,
    manage,
    production_env,
    shell_json,
    start,
    start_fake_vobiz,
    start_gunicorn,
    wait_for,
)

FAKE_PORT = 8765  # the media address FakeAccount gives its recordings by default


def prepare(env: dict[str, str], sample_path: Path, username: str, password: str) -> dict:
    """Migrations, static files, a signed-in auditor, and ids and numbers to look for (also written
    to `sample_path`, for locust)."""
    manage(env, "migrate", "--noinput")
    manage(env, "collectstatic", "--noinput")
    script = f"""
import json
from django.contrib.auth import get_user_model
from django.db.models import Max, Min
from recordings.models import Recording
User = get_user_model()
user, _ = User.objects.get_or_create(username={username!r}, defaults={{"is_superuser": True, "is_staff": True}})
user.set_password({password!r}); user.save()
total = Recording.objects.count()
rows = []  # none to look for: refused below
if total:
    first, last = Recording.objects.aggregate(first=Min("pk"), last=Max("pk")).values()
    step = max(1, (last - first) // 300)
    # Ids spread over the table, read by id: a sliced step would read every row at ten million.
    ids = range(first, last + 1, step)[:300]
    rows = Recording.objects.filter(pk__in=list(ids)).order_by("pk")
    rows = list(rows.values_list("recording_id", "call_uuid", "from_number"))
print(json.dumps({{"count": total, "recordings": [r[0] for r in rows], "calls": [r[1] for r in rows if r[1]],
                  "numbers": [r[2] for r in rows if r[2]]}}))
"""
    sample = shell_json(env, script, timeout=None)
    if not sample["count"]:
        raise SystemExit(
            "The database holds no recordings to look for: seed one first, as bench/pages_benchmark.py "
            "--database postgres --keep does, and pass it with --database-url."
        )
    sample_path.write_text(json.dumps(sample))
    return sample


def read_stats(prefix):
    with open(f"{prefix}_stats.csv") as stats:
        return list(csv.DictReader(stats))


def report(rows, args, count):
    print(
        f"\n{count:,} recordings on PostgreSQL; {args.users} users for {args.duration}s; "
        f"gunicorn {args.workers} workers x {args.threads} threads; {os.cpu_count()} CPUs\n"
    )
    print("| request | requests | per second | median (ms) | 99th pct (ms) | errors |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['Name'] if row['Name'] != 'Aggregated' else '**all**'} | {row['Request Count']} | "
            f"{float(row['Requests/s']):.1f} | {row['50%']} | {row['99%']} | {row['Failure Count']} |"
        )


def report_cpu(used: dict[str, float], rows: list[dict[str, str]], load_before: float) -> None:
    """CPU seconds of each kind of process over the run, and per request served."""
    requests_served = sum(int(row["Request Count"]) for row in rows if row["Name"] == "Aggregated")
    machine = used.pop("the whole machine")
    used["locust and the fake Vobiz API"] = used.pop("this benchmark") - used["gunicorn (web)"]
    used["anything else (other jobs, the kernel)"] = max(0.0, machine - sum(used.values()))
    print(f"\nCPU over the run (load average {load_before:.1f} at its start, {os.getloadavg()[0]:.1f} at its end):\n")
    print("| process | CPU (s) | ms a request | share of the machine's busy time |")
    print("|---|---:|---:|---:|")
    for kind, seconds in used.items():
        share = seconds / machine if machine else 0.0
        print(f"| {kind} | {seconds:.1f} | {1000 * seconds / max(1, requests_served):.2f} | {share:.0%} |")
    web, database, cache = used["gunicorn (web)"], used["PostgreSQL"], used["Redis"]
    if database and cache:
        print(
            f"\nFor each CPU second of PostgreSQL's, the web processes spent {web / database:.1f}; for each of "
            f"Redis's, {web / cache:.1f}."
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/bench_pages_1000000")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--duration", type=int, default=60, help="seconds of load")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=8, help="threads per gunicorn worker")
    parser.add_argument(
        "--redis-url", default="", help="caches and limits in this Redis, as when scaled out (default: per process)"
    )
    parser.add_argument(
        "--locust",
        default=str(Path(PYTHON).parent / "locust"),
        help="the locust command (default: this virtualenv's; one of its own keeps locust's packages apart)",
    )
    args = parser.parse_args()

    password = secrets.token_urlsafe(16)
    port = free_port()
    with tempfile.TemporaryDirectory() as scratch, ExitStack() as stack:
        scratch = Path(scratch)
        env = production_env(
            args.database_url,
            VOBIZ_AUTH_ID="MA_FAKEDEMO",  # the fake's own account
            VOBIZ_AUTH_TOKEN="fake-token-0123456789abcdef",
            VOBIZ_API_URL=f"http://127.0.0.1:{FAKE_PORT}/api/v1",
            LOGIN_FAILURE_LIMIT="1000",
            REDIS_URL=args.redis_url,
        )
        sample = prepare(env, scratch / "sample.json", "loadtest", password)
        start_fake_vobiz(stack, sample["count"], scratch / "fake-vobiz.log", port=FAKE_PORT)
        log = stack.enter_context(open(scratch / "gunicorn.log", "w"))
        gunicorn = start_gunicorn(stack, env, log, port, args.workers, args.threads)
        wait_for(f"http://127.0.0.1:{port}/healthz")
        prefix = str(scratch / "locust")
        load_before = os.getloadavg()[0]
        locust = start(
            stack,
            [
                args.locust,
                "-f",
                str(PROJECT / "bench" / "locustfile.py"),
                "--headless",
                "-u",
                str(args.users),
                "-r",
                str(max(1, args.users // 4)),
                "-t",
                f"{args.duration}s",
                "--host",
                f"http://127.0.0.1:{port}",
                "--csv",
                prefix,
                "--only-summary",
            ],
            stack.enter_context(open(scratch / "locust.log", "w")),
            {
                **env,
                "LOAD_SAMPLE": str(scratch / "sample.json"),
                "LOAD_USERNAME": "loadtest",
                "LOAD_PASSWORD": password,
            },
        )
        # Locust is reaped by the time the meter reads: its CPU counts in this process's, as the fake's.
        meter = CpuMeter({"gunicorn (web)": gunicorn.pid, "this benchmark": os.getpid()})
        meter.start()
        locust.wait()
        used = meter.stop()
        rows = read_stats(prefix)
        report(rows, args, sample["count"])
        report_cpu(used, rows, load_before)


if __name__ == "__main__":
    main()
