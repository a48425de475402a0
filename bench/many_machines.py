"""Many machines on one: two web servers and two workers sharing PostgreSQL and Redis.

    .venv/bin/python bench/many_machines.py [--database-url postgres://…/bench_many_machines]
                                            [--redis-url redis://127.0.0.1:6379/0] [--count 3000]

It empties the database it is given (created if missing) and the Redis database, starts the fake
Vobiz API in this process (so that it can count what each recording was sent), two gunicorn
processes, two RQ workers and the scheduler, each a process of its own as on separate machines.

1. Twenty auditors press Sync now at the same moment, ten on each web server, on an empty copy:
   every click is answered, one sync runs at a time, and every recording is stored once.
2. A deletion batch is confirmed; when Vobiz has carried out a third of it, the worker running it is
   killed (SIGKILL, its whole process group). The scheduler's repairs queue the batch again and the
   other worker finishes it: each recording is sent exactly one DELETE.

It prints the figures as a Markdown table, for docs/performance.md. Every process it starts is
stopped at the end.
"""

import argparse
import os
import re
import secrets
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import redis
import requests
from processes import (
    PROJECT,
    PYTHON,
    csrf_token,
    free_port,
    manage,
    production_env,
    signed_in,
    start,
    start_gunicorn,
    wait_for,
)
from seeding import recreate_postgres

sys.path.insert(0, str(PROJECT))

AUTH_ID = "MA_MANYMACHINES"
AUTH_TOKEN = "many-machines-token-0123456789"
PASSWORD = secrets.token_urlsafe(16)


def until(condition, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise SystemExit(f"gave up after {seconds}s waiting for {what}")


def post(
    session: requests.Session, base_url: str, path: str, data: dict, page: str = "/sync/"
) -> tuple[requests.Response, float]:
    """A form's POST as a browser sends it from `page`, and the seconds its answer took."""
    token = csrf_token(session.get(f"{base_url}{page}", timeout=30).text)
    started = time.monotonic()
    response = session.post(
        f"{base_url}{path}",
        {**data, "csrfmiddlewaretoken": token},
        headers={"Referer": f"{base_url}{page}"},
        timeout=60,
        allow_redirects=False,
    )
    return response, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/bench_many_machines")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--count", type=int, default=3000, help="recordings at the fake Vobiz")
    parser.add_argument("--delete", type=int, default=300, help="recordings in the deletion batch")
    parser.add_argument("--latency", type=float, default=0.03, help="seconds the fake Vobiz takes per request")
    args = parser.parse_args()

    recreate_postgres(args.database_url)
    redis.Redis.from_url(args.redis_url).flushdb()
    env = production_env(
        args.database_url,
        DJANGO_SETTINGS_MODULE="vobiz_dashboard.settings",
        REDIS_URL=args.redis_url,
        LOGIN_FAILURE_LIMIT="1000",
        SYNC_EVERY_MINUTES="0",  # syncs only from the clicks; the scheduler still repairs the queue
        VOBIZ_AUTH_ID=AUTH_ID,
        VOBIZ_AUTH_TOKEN=AUTH_TOKEN,
    )
    os.environ.update(env)
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from recordings.models import DeletionBatch, DeletionOutcome, Recording, SyncRun, TaskRun
    from recordings.roles import AUDITORS, role_group
    from vobiz.fake.data import FakeAccount
    from vobiz.fake.server import FakeVobizServer

    User = get_user_model()

    with ExitStack() as stack, tempfile.TemporaryDirectory() as scratch:
        fake = stack.enter_context(
            FakeVobizServer(account=FakeAccount(count=args.count, auth_id=AUTH_ID, auth_token=AUTH_TOKEN))
        )
        fake.latency = args.latency
        env["VOBIZ_API_URL"] = fake.base_url
        manage(env, "migrate", "--noinput")
        manage(env, "collectstatic", "--noinput")
        users = [f"auditor{n}" for n in range(20)]
        for username in users:
            User.objects.create_user(username, password=PASSWORD).groups.add(role_group(AUDITORS))
        log = stack.enter_context(open(Path(scratch) / "processes.log", "w"))
        # Each a process group of its own, as if on a machine of its own.
        webs = []
        for _ in range(2):
            port = free_port()
            start_gunicorn(stack, env, log, port, workers=1, threads=8, own_session=True)
            webs.append(f"http://127.0.0.1:{port}")
        rq_worker = [
            PYTHON,
            "manage.py",
            "rqworker",
            "--with-scheduler",
            "--job-class",
            "django_tasks_rq.Job",
            "default",
        ]
        workers = [start(stack, rq_worker, log, env, own_session=True) for _ in range(2)]
        start(stack, [PYTHON, "manage.py", "run_scheduler"], log, env, own_session=True)
        for base_url in webs:
            wait_for(f"{base_url}/healthz")
        sessions = [(signed_in(webs[n % 2], username, PASSWORD), webs[n % 2]) for n, username in enumerate(users)]

        # 1. Twenty Sync now clicks at once.
        started = time.monotonic()
        with ThreadPoolExecutor(len(sessions)) as pool:
            answers = list(pool.map(lambda pair: post(*pair, "/sync/now", {}), sessions))
        answered = sum(1 for response, _ in answers if response.status_code == 302)
        seconds = sorted(elapsed for _, elapsed in answers)

        def queue_idle():
            return not TaskRun.objects.filter(status__in=["queued", "running"]).exists()

        until(queue_idle, 600, "the syncs to finish")
        synced_in = time.monotonic() - started
        runs = list(SyncRun.objects.order_by("started_at").values("started_at", "finished_at", "status"))
        one_sync = max(run["finished_at"] - run["started_at"] for run in runs).total_seconds()
        overlaps = sum(1 for a, b in zip(runs, runs[1:]) if b["started_at"] < a["finished_at"])
        stored = Recording.objects.count()
        distinct = Recording.objects.values("recording_id").distinct().count()
        task_runs = Counter(TaskRun.objects.filter(kind="sync").values_list("status", flat=True))

        # 2. A deletion batch whose worker is killed a third of the way through.
        session, base_url = sessions[0]
        ids = list(Recording.objects.order_by("pk").values_list("recording_id", flat=True)[: args.delete])
        fake.reset_log()
        confirmation, _ = post(session, base_url, "/bulk/delete", {"selected": ids}, page="/")
        batch_id = int(re.search(r'name="batch" value="(\d+)"', confirmation.text).group(1))
        post(session, base_url, "/bulk/delete", {"batch": batch_id, "reason": "retention"}, page="/")

        def deletes():
            return [r.path for r in list(fake.requests_log) if r.method == "DELETE"]

        until(lambda: len(deletes()) >= args.delete // 3, 300, "a third of the deletions")
        running = TaskRun.objects.get(kind="deletion", status="running")
        horse = int(running.worker.split(":")[1])  # the work horse RQ forked for the job
        parent = int(Path(f"/proc/{horse}/stat").read_text().rsplit(")", 1)[1].split()[1])
        victim = next(worker for worker in workers if worker.pid in (horse, parent))
        os.killpg(victim.pid, signal.SIGKILL)  # the worker, and its horse (in a process group of its own)
        os.kill(horse, signal.SIGKILL)
        killed_at = time.time()
        deleted_before_kill = len(deletes())
        until(lambda: DeletionBatch.objects.get(pk=batch_id).finished_at is not None, 600, "the batch to finish")
        finished_after = time.time() - killed_at
        first_delete = min(r.time for r in fake.requests_log if r.method == "DELETE")
        # The baseline: the same batch at the pace it went before the kill, uninterrupted.
        uninterrupted = args.delete * (killed_at - first_delete) / deleted_before_kill
        with_kill = killed_at + finished_after - first_delete
        sent = Counter(deletes())
        outcomes = Counter(DeletionOutcome.objects.filter(batch_id=batch_id).values_list("status", flat=True))
        finisher = TaskRun.objects.filter(kind="deletion", status="succeeded").values_list("worker", flat=True).first()
        gone_upstream = sum(1 for recording_id in ids if fake.account.get(recording_id) is None)

    median, slowest = statistics.median(seconds) * 1000, seconds[-1] * 1000
    rows = [
        ("Sync now clicks answered (a redirect to /sync/)", f"{answered} of {len(answers)}"),
        ("answer time, median / slowest", f"{median:.0f} ms / {slowest:.0f} ms"),
        (
            "sync task runs: finished / skipped / failed",
            f"{task_runs['succeeded']} / {task_runs['skipped']} / {task_runs['failed']}",
        ),
        ("sync runs, of them overlapping another", f"{len(runs)}, {overlaps}"),
        ("recordings stored / distinct / at Vobiz", f"{stored:,} / {distinct:,} / {args.count:,}"),
        (
            "from the clicks to an idle queue, against the one sync alone",
            f"{synced_in:.1f} s against {one_sync:.1f} s ({synced_in / one_sync:.2f}×)",
        ),
        ("deletion batch", f"{args.delete} recordings; worker killed after {deleted_before_kill} deletions"),
        ("batch finished after the kill", f"{finished_after:.1f} s (killed `{running.worker}`, then `{finisher}`)"),
        (
            "the batch with the kill, against its pace before it",
            f"{with_kill:.1f} s against {uninterrupted:.1f} s ({with_kill / uninterrupted:.2f}×)",
        ),
        (
            "DELETEs sent: in all / distinct recordings / most to one recording",
            f"{sum(sent.values())} / {len(sent)} / {max(sent.values())}",
        ),
        ("outcomes", ", ".join(f"{count} {status}" for status, count in sorted(outcomes.items()))),
        ("gone at Vobiz afterwards", f"{gone_upstream} of {args.delete}"),
    ]
    print(f"\n{args.count:,} recordings at a fake Vobiz answering in {args.latency * 1000:.0f} ms; two gunicorn")
    print(f"processes (1 worker x 8 threads), two RQ workers, a scheduler; PostgreSQL, Redis; {os.cpu_count()} CPUs\n")
    print("| figure | value |\n|---|---|")
    for figure, value in rows:
        print(f"| {figure} | {value} |")


if __name__ == "__main__":
    main()
