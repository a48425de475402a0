"""What chaining costs an audit write, with many processes writing at once; and how fast the chain is walked.

    .venv/bin/python bench/audit_chain_benchmark.py --writers 8 --events 1000
    .venv/bin/python bench/audit_chain_benchmark.py --database sqlite --writers 8 --events 1000
    .venv/bin/python bench/audit_chain_benchmark.py --writers 8 --events 1000 --walk 1000000 --json out.json

It makes a fresh database (PostgreSQL `bench_audit_chain`, or a SQLite file in a temporary folder)
and migrates it. Then --writers processes (DEBUG off, as gunicorn's and the workers' are) start
together and each writes --events audit events, every --pause seconds (0: without pause), timing
each write:

- the baseline: the unchained insert the log made before (one INSERT, its seq set apart);
- chained: `record_for`, with a sealer process chaining what was written every 2 s meanwhile, as
  the scheduler does (its seals are timed too: events, seconds).

The baseline's rows are then removed and the chain of every chained event must verify
(`manage.py verify_audit`). With --walk N the chain is then grown to N events (written in bulk, as
the sealer seals an existing log) and `verify_audit` is timed over all of them, with its peak
memory. Goal: chained p95 under 2 ms on PostgreSQL with 8 writers, against the baseline.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))
sys.path.insert(0, str(PROJECT / "bench"))

from processes import PYTHON, manage, percentile, production_env  # noqa: E402
from seeding import recreate_postgres  # noqa: E402

SEQ_APART = 10**12  # the baseline's rows: seq -(writer × SEQ_APART + n), never in the chain


def write(mode: str, writer: int, events: int, pause: float, start_at: float) -> None:
    """A writer process: `events` writes, timed, printed as JSON (seconds each)."""
    import django

    django.setup()
    from django.utils import timezone

    from recordings.audit_trail import Actor, canonical_ip, record_for
    from recordings.models import AuditEvent

    actor = Actor(user=None, ip_address="203.0.113.7", user_agent="Mozilla/5.0 (bench) Firefox/130.0")
    AuditEvent.objects.exists()  # connected before the clock starts
    time.sleep(max(0.0, start_at - time.time()))
    times: dict[str, list[float]] = {"baseline": [], "chained": []}
    kinds = ["baseline", "chained"] if mode == "interleaved" else [mode]
    for n in range(events):
        note = f"writer {writer}, event {n}: at 0:{n % 60:02d} caller +9198765{n:05d}"
        for kind in kinds:
            began = time.perf_counter()
            if kind == "chained":
                record_for(actor, AuditEvent.Action.NOTE, note=note)
            else:  # what record_for wrote before the chain: one INSERT
                AuditEvent.objects.create(
                    at=timezone.now(),
                    username=actor.username,
                    action=AuditEvent.Action.NOTE,
                    ip_address=canonical_ip(actor.ip_address),
                    user_agent=actor.user_agent,
                    note=note,
                    seq=-(writer * SEQ_APART + n + 1),
                )
            times[kind].append(time.perf_counter() - began)
            if pause:
                time.sleep(pause)
    print(json.dumps(times))


def seal(done: Path) -> None:
    """The sealer process: seal every SEAL_AUDIT_EVERY, as the scheduler does, until the file `done`
    exists, then once more; print each seal's [events, seconds] as JSON."""
    import django

    django.setup()
    from recordings.audit_trail import seal_pending
    from recordings.background.scheduler import SEAL_AUDIT_EVERY

    seals = []
    while True:
        last = done.exists()
        began = time.perf_counter()
        sealed = seal_pending()
        if sealed:
            seals.append((sealed, time.perf_counter() - began))
        if last:
            break
        time.sleep(SEAL_AUDIT_EVERY.total_seconds())
    print(json.dumps(seals))


def run_writers(
    env: dict[str, str], mode: str, writers: int, events: int, pause: float
) -> tuple[dict[str, list[float]], float, list[list[float]]]:
    """Every writer's write times by kind, the wall time from the common start to the last end, and
    with chaining the sealer's seals."""
    start_at = time.time() + 3.0  # every process imported Django and connected by then
    children = [
        subprocess.Popen(
            [PYTHON, __file__, "--writer", mode, str(n), str(events), str(pause), str(start_at)],
            cwd=PROJECT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(writers)
    ]
    done = Path(tempfile.mkdtemp(prefix="bench_audit_")) / "done"
    sealer = None
    if mode != "baseline":
        command = [PYTHON, __file__, "--sealer", str(done)]
        sealer = subprocess.Popen(command, cwd=PROJECT, env=env, stdout=subprocess.PIPE, text=True)
    times: dict[str, list[float]] = {"baseline": [], "chained": []}
    try:
        for child in children:
            out, _ = child.communicate()
            if child.returncode != 0:
                raise SystemExit(f"a {mode} writer failed ({child.returncode})")
            for kind, seconds in json.loads(out.strip().splitlines()[-1]).items():
                times[kind] += seconds
    finally:
        done.touch()  # the sealer's last seal, however the writers ended
    wall = time.time() - start_at
    seals: list[list[float]] = []
    if sealer is not None:
        out, _ = sealer.communicate()
        if sealer.returncode != 0:
            raise SystemExit(f"the sealer failed ({sealer.returncode})")
        seals = json.loads(out.strip().splitlines()[-1])
    return times, wall, seals


def remove_baseline_rows(env: dict[str, str]) -> None:
    snippet = "from recordings.models import AuditEvent; AuditEvent.objects.filter(seq__lt=0).delete()"
    subprocess.run([PYTHON, "manage.py", "shell", "-c", snippet], cwd=PROJECT, env=env, check=True)


def grow_chain(env: dict[str, str], total: int) -> None:
    """Append chained events in bulk until the log holds `total`, as the migration seals a log."""
    snippet = f"""
import secrets
from datetime import timedelta
from django.db import connection, transaction
from recordings.audit_trail import HEAD, PERSONAL_FIELDS, event_hash, personal_hashes
from recordings.models import AuditChainHead, AuditEvent
head = AuditChainHead.objects.get(pk=HEAD)
seq, previous, at = head.seq, head.hash, head.at
while seq < {total}:
    batch = []
    for _ in range(min(10_000, {total} - seq)):
        seq += 1
        at = at + timedelta(milliseconds=1)
        event = AuditEvent(seq=seq, at=at, username="bench", action="play", call_uuid=f"call-{{seq}}",
                           ip_address="203.0.113.7", user_agent="Mozilla/5.0 (bench)", note=f"event {{seq}}",
                           salt=secrets.token_hex(16))
        values = {{name: getattr(event, name) for name in PERSONAL_FIELDS}}
        event.hash = previous = event_hash(previous, seq=seq, at=at, action="play", recording_id=None, redacts=[],
                                           personal=personal_hashes(event.salt, {{}}, values))
        batch.append(event)
    with transaction.atomic():
        if connection.vendor == "postgresql":  # COPY: a million rows in minutes, not tens of them
            columns = ["seq", "at", "username", "action", "call_uuid", "ip_address", "user_agent", "note",
                       "salt", "hash", "kept_hashes", "redacts"]
            with connection.cursor() as cursor:
                with cursor.cursor.copy(f"COPY recordings_auditevent ({{', '.join(columns)}}) FROM STDIN") as copy:
                    for e in batch:
                        copy.write_row([e.seq, e.at, e.username, e.action, e.call_uuid, e.ip_address,
                                        e.user_agent, e.note, e.salt, e.hash, "{{}}", "[]"])
        else:
            AuditEvent.objects.bulk_create(batch)
        AuditChainHead.objects.filter(pk=HEAD).update(seq=seq, hash=previous, at=at)
"""
    subprocess.run([PYTHON, "manage.py", "shell", "-c", snippet], cwd=PROJECT, env=env, check=True)


def verify(env: dict[str, str]) -> dict[str, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    out = subprocess.run([PYTHON, "manage.py", "verify_audit"], cwd=PROJECT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise SystemExit(f"verify_audit failed: {out.stderr}")
    print(out.stdout.strip(), flush=True)
    return {
        "seconds": round(seconds, 2),
        "cpu_seconds": round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 2),
        "peak_memory_mib": round(after.ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="postgres")
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432", help="server, without a database")
    parser.add_argument("--pg-name", default="bench_audit_chain")
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--events", type=int, default=1000, help="per writer")
    parser.add_argument("--pause", type=float, default=0.0, help="seconds each writer waits between writes")
    parser.add_argument("--walk", type=int, default=0, help="grow the chain to this many events and time the walk")
    parser.add_argument("--json", help="write every figure to this file")
    parser.add_argument("--writer", nargs=5, help=argparse.SUPPRESS)
    parser.add_argument("--sealer", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sealer:
        seal(Path(args.sealer))
        return
    if args.writer:
        mode, writer, events, pause, start_at = args.writer
        write(mode, int(writer), int(events), float(pause), float(start_at))
        return

    if args.database == "sqlite":
        database_url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='bench_audit_')) / 'db.sqlite3'}"
    else:
        database_url = f"{args.pg_url}/{args.pg_name}"
        recreate_postgres(database_url)
    env = production_env(database_url, LOG_LEVEL="WARNING")
    env["DJANGO_SETTINGS_MODULE"] = "vobiz_dashboard.settings"
    manage(env, "migrate", "--noinput")

    ms = lambda seconds: round(seconds * 1000, 2)  # noqa: E731
    figures: dict[str, object] = {
        "database": args.database,
        "writers": args.writers,
        "events_per_writer": args.events,
        "pause": args.pause,
    }
    for mode in ("baseline", "chained", "interleaved"):
        sealer = "" if mode == "baseline" else ", a sealer every 2 s"
        print(f"{mode}: {args.writers} writers × {args.events} events{sealer}…", flush=True)
        times, wall, seals = run_writers(env, mode, args.writers, args.events, args.pause)
        for kind, seconds in times.items():
            if seconds:
                figures[f"{mode}/{kind}" if mode == "interleaved" else mode] = {
                    "p50_ms": ms(statistics.median(seconds)),
                    "p95_ms": ms(percentile(seconds, 0.95)),
                    "p99_ms": ms(percentile(seconds, 0.99)),
                    "max_ms": ms(max(seconds)),
                    "writes_per_second": round(len(seconds) / wall),
                }
        if seals:
            figures[f"{mode}/seals"] = {
                "count": len(seals),
                "events_most": max(int(events) for events, _ in seals),
                "p95_ms": ms(percentile([seconds for _, seconds in seals], 0.95)),
                "max_ms": ms(max(seconds for _, seconds in seals)),
            }
        print(f"  { {key: value for key, value in figures.items() if key.startswith(mode)} }", flush=True)
        remove_baseline_rows(env)
    for mode in ("chained", "interleaved/chained"):
        base = figures["baseline" if mode == "chained" else "interleaved/baseline"]
        figures[f"{mode} p95 − baseline p95 (ms)"] = round(figures[mode]["p95_ms"] - base["p95_ms"], 2)  # type: ignore[index]
    figures["verify_written"] = verify(env)
    if args.walk:
        print(f"growing the chain to {args.walk:,} events…", flush=True)
        grow_chain(env, args.walk)
        figures["verify_walk"] = {"events": args.walk, **verify(env)}
    figures["load_avg"] = os.getloadavg()
    print(json.dumps(figures, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
