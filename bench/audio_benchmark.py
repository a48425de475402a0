"""The audio path's speed with the audio hash against without it, measured in the same run.

    .venv/bin/python bench/audio_benchmark.py --database sqlite
    .venv/bin/python bench/audio_benchmark.py --database postgres --rounds 30 --json out.json
    .venv/bin/python bench/audio_benchmark.py --audio-bandwidth 524288 --rounds 5   # a slow link

It makes a fresh database (a SQLite file in a temporary folder, or the PostgreSQL database
`bench_audio`), starts the fake Vobiz API in a process of its own (its audio sent at
--audio-bandwidth bytes a second if given, as over a slow link) and syncs --count recordings from
it, then serves the dashboard three times with gunicorn (threaded workers, DEBUG off), each
`bench/unhashed_wsgi.py` but the first:
- "hashed", the dashboard as it is, hashing each whole audio as it streams and keeping or comparing
  the hash at its end;
- "before", the audio path as it was before the hash: `iter_content` in 64 KiB chunks, no hash;
- "unhashed", the audio path as it is with its hash left out (what the hash alone costs).
A signed-in client fetches the --files longest recordings' whole audio from each in turn, --rounds
times, after a first round that warms them up (the fake renders each file once; the dashboard
stores each first hash, so the rounds measured compare, as every later play does). For each fetch
it measures the time to the first byte of the body, and the throughput: the bytes over the whole
fetch's time, from the request to the last byte, and over the time after the first byte (medians;
each ratio is the median of one server's fetch against the other's fetch of the same file beside
it, which drifts less with the machine's load than a ratio of medians); and for each server the
CPU time its processes used per GiB served. Goal: hashed within 1.1× of before."""

import argparse
import hashlib
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))
sys.path.insert(0, str(PROJECT / "bench"))

from processes import (  # noqa: E402
    GUNICORN,
    free_port,
    manage,
    production_env,
    shell_json,
    signed_in,
    start,
    start_fake_vobiz,
    wait_for,
)
from seeding import fresh_database  # noqa: E402

AUTH_ID, AUTH_TOKEN = "MA_FAKEDEMO", "fake-token-0123456789abcdef"
CHUNK = 64 * 1024  # for SHA-256's own rate
READ = 1024 * 1024  # the client's reads: whatever has arrived, up to this much
KINDS = ("hashed", "before", "unhashed")
# (server, against): the ratios given, of the first's time against the second's.
PAIRS = (("hashed", "before"), ("hashed", "unhashed"), ("unhashed", "before"))
LONGEST = (
    "import json; from recordings.models import Recording; "
    "print(json.dumps(list(Recording.objects.order_by('-recording_duration_ms')"
    ".values_list('recording_id', flat=True)[:{files}])))"
)


def serve(stack: ExitStack, env: dict[str, str], log, kind: str, threads: int) -> tuple[str, int]:
    """The base URL and the gunicorn master's pid of the dashboard served as `kind`."""
    app = "vobiz_dashboard.wsgi" if kind == "hashed" else "unhashed_wsgi:application"
    env = {**env, "BENCH_AUDIO_BASELINE": kind}
    port = free_port()
    command = [GUNICORN, "--pythonpath", str(PROJECT / "bench"), app, "--worker-class", "gthread"]
    command += ["--workers", "1", "--threads", str(threads), "--bind", f"127.0.0.1:{port}"]
    process = start(stack, command, log, env)
    base = f"http://127.0.0.1:{port}"
    wait_for(base + "/healthz", process=process)
    return base, process.pid


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system) a process and its descendants have used so far, from /proc: a
    gunicorn's worker is its master's child. Unlike wall times, it hardly moves with the load other
    processes put on the machine."""
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except OSError:  # gone meanwhile
            continue
    return total


def fetch(session, url: str) -> tuple[float, float, int]:
    """(seconds to the first byte of the body, seconds to the last, bytes) of one whole audio."""
    started = time.perf_counter()
    with session.get(url, stream=True, timeout=60) as response:
        response.raise_for_status()
        size = len(response.raw.read(1))  # as soon as one byte has come
        first = time.perf_counter() - started
        while chunk := response.raw.read1(READ):
            size += len(chunk)
    return first, time.perf_counter() - started, size


def sha256_rate(mib: int = 64) -> float:
    """MiB/s SHA-256 takes in this process, now: what hashing costs on the machine of the run."""
    chunk = bytes(CHUNK)
    digest = hashlib.sha256()
    started = time.perf_counter()
    for _ in range(mib * 2**20 // CHUNK):
        digest.update(chunk)
    return mib / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--pg-name", default="bench_audio")
    parser.add_argument("--count", type=int, default=40, help="recordings in the fake account")
    parser.add_argument("--files", type=int, default=4, help="the longest recordings fetched each round")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads of each server")
    parser.add_argument(
        "--audio-bandwidth", type=float, help="bytes a second the fake sends audio at (default: as fast as it goes)"
    )
    parser.add_argument("--json", help="write every figure to this file")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="bench_audio_"))
    database_url = fresh_database(args.database, folder=folder, pg_url=args.pg_url, pg_name=args.pg_name)

    username, password = "bench", secrets.token_urlsafe(12)
    times: dict[str, dict[str, list[float]]] = {kind: {"first": [], "rate": [], "body": []} for kind in KINDS}
    sizes: list[int] = []
    with ExitStack() as stack:
        api = start_fake_vobiz(
            stack,
            args.count,
            folder / "fake.log",
            auth_id=AUTH_ID,
            auth_token=AUTH_TOKEN,
            audio_bandwidth=args.audio_bandwidth,
        )
        env = production_env(
            database_url,
            DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
            VOBIZ_AUTH_ID=AUTH_ID,
            VOBIZ_AUTH_TOKEN=AUTH_TOKEN,
            VOBIZ_API_URL=api,
            VOBIZ_MEDIA_HOSTS="127.0.0.1",
            LOG_LEVEL="WARNING",
        )
        print(f"Seeding {args.count} recordings through the sync ({args.database})…", flush=True)
        manage(env, "migrate", "--noinput")
        manage(env, "collectstatic", "--noinput")
        manage(env, "sync_recordings")
        manage({**env, "DASHBOARD_PASSWORD": password}, "create_user", username, "--role", "support")
        recording_ids = shell_json(env, LONGEST.format(files=args.files))
        log = stack.enter_context(open(folder / "gunicorn.log", "w"))
        servers = {kind: serve(stack, env, log, kind, args.threads) for kind in KINDS}
        sessions = {kind: signed_in(base, username, password) for kind, (base, _) in servers.items()}
        cpu: dict[str, float] = {}
        for round_number in range(args.rounds + 1):
            if round_number == 1:  # the first round warms up
                cpu = {kind: cpu_seconds(pid) for kind, (_, pid) in servers.items()}
            # Rotated, each server first in turn, so that none meets a busier machine.
            order = KINDS[round_number % 3 :] + KINDS[: round_number % 3]
            for recording_id in recording_ids:
                for kind in order:
                    base = servers[kind][0]
                    first, whole, size = fetch(sessions[kind], f"{base}/recordings/{recording_id}/audio")
                    if round_number:
                        times[kind]["first"].append(first)
                        times[kind]["rate"].append(size / whole / 2**20)
                        times[kind]["body"].append(size / (whole - first) / 2**20)
                        sizes.append(size)
        cpu = {kind: cpu_seconds(pid) - cpu[kind] for kind, (_, pid) in servers.items()}
        hashed_count = shell_json(env, "from recordings.models import AudioHash; print(AudioHash.objects.count())")

    medians = {kind: {what: statistics.median(values) for what, values in times[kind].items()} for kind in KINDS}
    # Time ratios: first bytes' times, and times per byte (the inverse of the throughputs).
    ratios = {
        f"{kind}/{against}": {
            "time_to_first_byte": statistics.median(
                a / b for a, b in zip(times[kind]["first"], times[against]["first"])
            ),
            "time_per_byte": statistics.median(b / a for a, b in zip(times[kind]["rate"], times[against]["rate"])),
            "body_time_per_byte": statistics.median(b / a for a, b in zip(times[kind]["body"], times[against]["body"])),
        }
        for kind, against in PAIRS
    }
    served_gib = sum(sizes) / len(KINDS) / 2**30  # each server served its share
    cpu_per_gib = {kind: cpu[kind] / served_gib for kind in KINDS}
    figures = {
        "database": args.database,
        "audio_bandwidth": args.audio_bandwidth,
        "files": len(recording_ids),
        "rounds": args.rounds,
        "median_size_mib": round(statistics.median(sizes) / 2**20, 2),
        "hashes_stored": hashed_count,
        "time_to_first_byte_ms": {kind: round(m["first"] * 1000, 2) for kind, m in medians.items()},
        "throughput_mib_s": {kind: round(m["rate"], 1) for kind, m in medians.items()},
        "body_throughput_mib_s": {kind: round(m["body"], 1) for kind, m in medians.items()},
        "server_cpu_s_per_gib": {kind: round(seconds, 2) for kind, seconds in cpu_per_gib.items()},
        "ratios": {
            pair: {
                **{what: round(value, 3) for what, value in ratio.items()},
                "server_cpu": round(cpu_per_gib[pair.split("/")[0]] / cpu_per_gib[pair.split("/")[1]], 3),
            }
            for pair, ratio in ratios.items()
        },
        "sha256_alone_mib_s": round(sha256_rate(), 1),
        "load_avg": os.getloadavg(),
    }
    link = f"audio at {args.audio_bandwidth:.0f} B/s" if args.audio_bandwidth else "audio as fast as it goes"
    lines = [
        f"\n{args.rounds} rounds of {len(recording_ids)} whole files (median {figures['median_size_mib']} MiB) on "
        f"{args.database}, {link}; {hashed_count} hashes stored",
        "| server | time to first byte | throughput, whole fetch | throughput after the first byte | CPU per GiB |",
        "|---|---|---|---|---|",
        *(
            f"| {kind} | {figures['time_to_first_byte_ms'][kind]} ms | {figures['throughput_mib_s'][kind]} MiB/s "
            f"| {figures['body_throughput_mib_s'][kind]} MiB/s | {figures['server_cpu_s_per_gib'][kind]} s |"
            for kind in KINDS
        ),
        "",
        "| ratio | time to first byte | time per byte, whole fetch | after the first byte | server CPU per GiB |",
        "|---|---|---|---|---|",
        *(
            f"| {pair} | {ratio['time_to_first_byte']:.3f}× | {ratio['time_per_byte']:.3f}× "
            f"| {ratio['body_time_per_byte']:.3f}× | {ratio['server_cpu']:.3f}× |"
            for pair, ratio in figures["ratios"].items()
        ),
        f"SHA-256 alone: {figures['sha256_alone_mib_s']} MiB/s; load average {figures['load_avg'][0]:.2f}; "
        "goal: hashed/before within 1.1×",
    ]
    print("\n".join(lines))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
