"""How soon a recording Vobiz calls back about is on the table's first page, with the pages under load.

    .venv/bin/python bench/freshness_benchmark.py --database sqlite
    .venv/bin/python bench/freshness_benchmark.py --database postgres --callbacks 60 --json out.json

It makes a fresh database (a SQLite file in a temporary folder, or the PostgreSQL database
`bench_freshness`), starts the fake Vobiz API with --count recordings and syncs them through the
real sync, then serves the dashboard with gunicorn (threaded workers, DEBUG off) and the default
background worker (`manage.py db_worker`, the database queue, polling as configured). While
--load-threads signed-in clients ask for pages without pause (the table, a search, a recording, a
call), the fake Vobiz makes a new call every --interval seconds and posts its signed recording
callback, as Vobiz does. For each callback it measures

- the callback's answer time (Vobiz wants 200 within 3 s; the goal is 100 ms), and
- freshness: from just before the POST to the first moment a signed-in client polling the table's
  first page (every 50 ms) sees the recording there; that includes the worker's polling interval,
  its fetch from the API and the page's own time.

The baseline, measured in the same run, is the first page's own time under the same load; the
figures are reported as they are and as multiples of it. Goal: freshness p95 of at most 2 s.
Every process it starts is stopped at the end.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import requests

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))
sys.path.insert(0, str(PROJECT / "bench"))

from processes import percentile, serve_synced_dashboard, signed_in  # noqa: E402
from seeding import fresh_database  # noqa: E402

from vobiz.fake.callbacks import CallbackSender  # noqa: E402
from vobiz.fake.data import FakeAccount  # noqa: E402
from vobiz.fake.server import FakeVobizServer  # noqa: E402

POLL_SECONDS = 0.05
SIGN_IN_SECONDS = 10.0


class Load:
    """Clients asking for pages without pause, and the first page's times meanwhile."""

    def __init__(self, base: str, username: str, password: str, threads: int, sample: dict[str, str]) -> None:
        self.base = base
        self.sessions = [signed_in(base, username, password, SIGN_IN_SECONDS) for _ in range(threads)]
        self.paths = ["/", f"/?q={sample['number']}", f"/recordings/{sample['recording_id']}/", "/?page=40", "/"]
        self.first_page_seconds = []
        self.errors = 0
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(s,), daemon=True) for s in self.sessions]

    def start(self):
        for thread in self.threads:
            thread.start()

    def stop(self):
        self.stopping.set()
        for thread in self.threads:
            thread.join()

    def run(self, session):
        turn = 0
        while not self.stopping.is_set():
            path = self.paths[turn % len(self.paths)]
            turn += 1
            began = time.perf_counter()
            try:
                answer = session.get(self.base + path, timeout=30, allow_redirects=False)
            except requests.RequestException:
                self.errors += 1
                continue
            if answer.status_code != 200:
                self.errors += 1
            elif path == "/":
                self.first_page_seconds.append(time.perf_counter() - began)


def measure(
    args: argparse.Namespace, base: str, account: FakeAccount, username: str, password: str
) -> tuple[list[float], list[float], int]:
    watcher = signed_in(base, username, password, SIGN_IN_SECONDS)
    sender = CallbackSender(account, base)
    answers, freshness, missed = [], [], 0
    for _ in range(args.callbacks):
        began = time.perf_counter()
        recording_id = sender.new_call()
        answers.append(time.perf_counter() - began)
        link = f'href="/recordings/{recording_id}/"'
        while True:
            if link in watcher.get(base + "/", timeout=30).text:
                freshness.append(time.perf_counter() - began)
                break
            if time.perf_counter() - began > args.give_up:
                missed += 1
                break
            time.sleep(POLL_SECONDS)
        time.sleep(max(0.0, args.interval - (time.perf_counter() - began)))
    sender.session.close()
    return answers, freshness, missed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432", help="server, without a database")
    parser.add_argument("--pg-name", default="bench_freshness")
    parser.add_argument("--count", type=int, default=20_000, help="recordings in the account, synced first")
    parser.add_argument("--callbacks", type=int, default=40)
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between new calls")
    parser.add_argument("--load-threads", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--give-up", type=float, default=30.0, help="seconds after which a recording counts as missed")
    parser.add_argument(
        "--worker-interval",
        type=float,
        help="db_worker's --interval, the seconds an idle worker waits before it looks for tasks again "
        "(default: db_worker's own)",
    )
    parser.add_argument("--json", help="write every figure to this file")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="bench_freshness_"))
    database_url = fresh_database(args.database, folder=folder, pg_url=args.pg_url, pg_name=args.pg_name)
    account = FakeAccount(count=args.count, seed=5)
    with ExitStack() as stack, FakeVobizServer(account=account) as fake:
        print(f"Seeding {args.count:,} recordings through the sync ({args.database})…", flush=True)
        interval = () if args.worker_interval is None else ("--interval", str(args.worker_interval))
        dashboard = serve_synced_dashboard(
            stack,
            database_url=database_url,
            vobiz_api_url=fake.base_url,
            auth_id=account.auth_id,
            auth_token=account.auth_token,
            folder=folder,
            gunicorn_workers=args.workers,
            db_worker_args=interval,
        )
        base, username, password = dashboard.base_url, dashboard.username, dashboard.password
        sample = account.page(10, 1)[0][0]
        sample = {"recording_id": sample["recording_id"], "number": sample["from_number"][-6:]}
        load = Load(base, username, password, args.load_threads, sample)
        load.start()
        time.sleep(2)  # the load settles
        try:
            answers, freshness, missed = measure(args, base, account, username, password)
        finally:
            load.stop()

    ms = lambda seconds: round(seconds * 1000, 1)  # noqa: E731
    page_p50 = statistics.median(load.first_page_seconds)
    figures = {
        "database": args.database,
        "count": args.count,
        "callbacks": args.callbacks,
        "load_threads": args.load_threads,
        "worker_interval": args.worker_interval,
        "load_errors": load.errors,
        "missed": missed,
        "callback_answer_ms": {"p50": ms(statistics.median(answers)), "p95": ms(percentile(answers, 0.95))},
        "freshness_ms": {"p50": ms(statistics.median(freshness)), "p95": ms(percentile(freshness, 0.95))}
        if freshness
        else None,
        "first_page_under_load_ms": {"p50": ms(page_p50), "p95": ms(percentile(load.first_page_seconds, 0.95))},
        "load_avg": os.getloadavg(),
    }
    print(
        f"\n{args.callbacks} callbacks on {args.database} with {args.count:,} recordings, db_worker interval "
        f"{'default' if args.worker_interval is None else f'{args.worker_interval:g} s'}, "
        f"{args.load_threads} clients loading pages ({load.errors} errors), {missed} missed\n"
        f"| what | p50 | p95 | p95 / first page p50 |\n|---|---|---|---|\n"
        f"| callback answered | {figures['callback_answer_ms']['p50']} ms | {figures['callback_answer_ms']['p95']} ms "
        f"| {percentile(answers, 0.95) / page_p50:.1f}× |"
    )
    if freshness:
        print(
            f"| on the first page | {figures['freshness_ms']['p50']} ms | {figures['freshness_ms']['p95']} ms "
            f"| {percentile(freshness, 0.95) / page_p50:.1f}× |"
        )
    print(
        f"| first page under load (baseline) | {figures['first_page_under_load_ms']['p50']} ms "
        f"| {figures['first_page_under_load_ms']['p95']} ms | |\n"
        f"load average {figures['load_avg'][0]:.2f}; goal: freshness p95 ≤ 2000 ms, answer ≤ 100 ms"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
