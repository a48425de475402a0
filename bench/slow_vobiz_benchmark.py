"""How soon a callback's recording is on the table's first page when Vobiz's API is slow to know it,
and whether every one is stored through an outage.

    .venv/bin/python bench/slow_vobiz_benchmark.py --database sqlite
    .venv/bin/python bench/slow_vobiz_benchmark.py --database postgres --json out.json

It makes a fresh database (a SQLite file in a temporary folder, or the PostgreSQL database
`bench_slow_vobiz`), starts the fake Vobiz API in this process with --count recordings and syncs
them, then serves the dashboard with gunicorn and runs the default background worker (`manage.py
db_worker`, the database queue, at its own polling interval). A signed-in client polls the table's
first page every 50 ms. Three rounds, one after another:

1. baseline: --baseline callbacks with the API knowing each recording at once; from just before the
   callback's POST to the row on the first page;
2. lag: --callbacks callbacks, one a second, with the API answering "not found" (list and GET) for
   --lag seconds after each; from the moment the API knows the recording to the row on the first
   page, p50 and p95, and as a multiple of the baseline's p95;
3. outage: the API answers 503 for --outage seconds (with a Retry-After of --retry-after when
   given) while --outage-callbacks callbacks come, one every 2 s from its start; how many are
   stored, and how long after the outage's end the last one is on the first page.

Every process it starts is stopped at the end.
"""

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))
sys.path.insert(0, str(PROJECT / "bench"))

from processes import percentile, serve_synced_dashboard, signed_in  # noqa: E402
from seeding import fresh_database  # noqa: E402

from vobiz.fake.callbacks import CallbackSender  # noqa: E402
from vobiz.fake.data import FakeAccount  # noqa: E402
from vobiz.fake.server import FakeVobizServer  # noqa: E402

POLL_SECONDS = 0.05


class Watcher:
    """A signed-in client polling the first page, noting when each awaited recording shows on it."""

    def __init__(self, base: str, username: str, password: str) -> None:
        self.base = base
        self.session = signed_in(base, username, password, 10)
        self.awaited: dict[str, float | None] = {}  # recording id -> time.monotonic() it was first seen
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def await_recording(self, recording_id: str) -> None:
        with self.lock:
            self.awaited[recording_id] = None

    def run(self) -> None:
        while not self.stopping.wait(POLL_SECONDS):
            page = self.session.get(self.base + "/", timeout=30).text
            now = time.monotonic()
            with self.lock:
                for recording_id, seen in self.awaited.items():
                    if seen is None and f'href="/recordings/{recording_id}/"' in page:
                        self.awaited[recording_id] = now

    def wait_all(self, ids: list[str], give_up: float) -> dict[str, float | None]:
        deadline = time.monotonic() + give_up
        while time.monotonic() < deadline:
            with self.lock:
                if all(self.awaited[i] is not None for i in ids):
                    break
            time.sleep(POLL_SECONDS)
        with self.lock:
            return {i: self.awaited[i] for i in ids}


def send_calls(sender: CallbackSender, watcher: Watcher, n: int, every: float) -> list[tuple[str, float]]:
    """n callbacks, `every` seconds apart: each recording's id and when its call was added."""
    sent = []
    for _ in range(n):
        began = time.monotonic()
        recording_id = sender.new_call()
        sent.append((recording_id, began))
        watcher.await_recording(recording_id)
        time.sleep(max(0.0, every - (time.monotonic() - began)))
    return sent


def waits(seen: dict[str, float | None], since: dict[str, float]) -> list[float]:
    """Seconds from each recording's `since` to when it was seen, for those seen."""
    return [at - since[i] for i, at in seen.items() if at is not None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432", help="server, without a database")
    parser.add_argument("--pg-name", default="bench_slow_vobiz")
    parser.add_argument("--count", type=int, default=2_000, help="recordings in the account, synced first")
    parser.add_argument("--baseline", type=int, default=10, help="callbacks with no lag")
    parser.add_argument("--callbacks", type=int, default=20, help="callbacks with the API lagging")
    parser.add_argument("--lag", type=float, default=8.0)
    parser.add_argument("--outage", type=float, default=45.0)
    parser.add_argument("--retry-after", type=float, default=None)
    parser.add_argument("--outage-callbacks", type=int, default=5)
    parser.add_argument("--json", help="write every figure to this file")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="bench_slow_vobiz_"))
    database_url = fresh_database(args.database, folder=folder, pg_url=args.pg_url, pg_name=args.pg_name)
    account = FakeAccount(count=args.count, seed=5)
    with ExitStack() as stack, FakeVobizServer(account=account) as fake:
        print(f"Seeding {args.count:,} recordings through the sync ({args.database})…", flush=True)
        dashboard = serve_synced_dashboard(
            stack,
            database_url=database_url,
            vobiz_api_url=fake.base_url,
            auth_id=account.auth_id,
            auth_token=account.auth_token,
            folder=folder,
            gunicorn_workers=2,
        )
        base, username, password = dashboard.base_url, dashboard.username, dashboard.password
        watcher = Watcher(base, username, password)
        watcher.thread.start()
        sender = CallbackSender(account, base)
        try:
            print("Baseline: no lag…", flush=True)
            sent = send_calls(sender, watcher, args.baseline, 1.0)
            seen = watcher.wait_all([i for i, _ in sent], 60)
            baseline = waits(seen, {i: at for i, at in sent})

            print(f"Lag: the API knows each recording {args.lag:g} s after its callback…", flush=True)
            fake.api_lag = args.lag
            sent = send_calls(sender, watcher, args.callbacks, 1.0)
            seen = watcher.wait_all([i for i, _ in sent], args.lag + 120)
            after_known = waits(seen, {i: at + args.lag for i, at in sent})
            lag_missed = sum(seen[i] is None for i, _ in sent)
            fake.api_lag = 0

            print(f"Outage: 503 for {args.outage:g} s…", flush=True)
            fake.start_outage(args.outage, retry_after=args.retry_after)
            outage_end = time.monotonic() + args.outage
            sent = send_calls(sender, watcher, args.outage_callbacks, 2.0)
            seen = watcher.wait_all([i for i, _ in sent], args.outage + 180)
            after_outage = waits(seen, {i: outage_end for i, _ in sent})
            outage_stored = len(after_outage)
        finally:
            watcher.stopping.set()
            watcher.thread.join()
            sender.session.close()

    ms = lambda seconds: round(seconds * 1000)  # noqa: E731
    figures = {
        "database": args.database,
        "baseline_ms": {"p50": ms(statistics.median(baseline)), "p95": ms(percentile(baseline, 0.95))},
        "lag_s": args.lag,
        "callbacks": args.callbacks,
        "lag_missed": lag_missed,
        "after_api_knows_ms": {"p50": ms(statistics.median(after_known)), "p95": ms(percentile(after_known, 0.95))},
        "outage_s": args.outage,
        "retry_after": args.retry_after,
        "outage_callbacks": args.outage_callbacks,
        "outage_stored": outage_stored,
        "after_outage_end_ms": {"first": ms(min(after_outage)), "last": ms(max(after_outage))}
        if after_outage
        else None,
    }
    print(
        f"\n{args.database}: baseline (no lag), callback to first page: p50 {figures['baseline_ms']['p50']} ms, "
        f"p95 {figures['baseline_ms']['p95']} ms\n"
        f"API {args.lag:g} s behind, {args.callbacks} callbacks ({lag_missed} missed): API knows it to first page "
        f"p50 {figures['after_api_knows_ms']['p50']} ms, p95 {figures['after_api_knows_ms']['p95']} ms "
        f"({percentile(after_known, 0.95) / percentile(baseline, 0.95):.1f}× the baseline's p95)\n"
        f"{args.outage:g} s outage (Retry-After {args.retry_after}), {args.outage_callbacks} callbacks: "
        f"{outage_stored} stored"
        + (
            f", the first {figures['after_outage_end_ms']['first']} ms and the last "
            f"{figures['after_outage_end_ms']['last']} ms after its end"
            if after_outage
            else ""
        )
    )
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
