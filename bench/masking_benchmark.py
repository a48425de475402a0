"""How long masking a transcript takes, and a transcription callback's answer with the largest body.

    .venv/bin/python bench/masking_benchmark.py
    .venv/bin/python bench/masking_benchmark.py --database-url postgres://postgres@127.0.0.1:5432/bench_masking

1. The masker's CPU time (time.process_time, best of --rounds) on 1 MB of each input: call-centre
   speech with card numbers, codes and IDs in it, and inputs made to be slow (thousands of "oh",
   "cvv" and digits in a row, a megabyte-long number, other scripts). Each is also masked at a
   quarter of the size: a linear masker takes four times as long for four times the text. The
   baseline, measured in the same run, is splitting the same text into words (`str.split`).
2. The callback: signed transcription callbacks of just under the accepted body limit (1 MB)
   posted through Django's test client to the real view and database (a new SQLite file unless
   --database-url names a PostgreSQL database, whose tables it makes anew), and meanwhile a
   small recording callback; their answer times (Vobiz wants one within 3 s).
"""

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

MEGABYTE = 1_000_000
SPEECH = (
    "Agent: thank you for calling, can I have the card number please? Customer: yes it is 4111 – 1111 um "
    "1111 1111, expiry twelve twenty seven and 123 is my CVV. Agent: and your aadhaar? Customer: 2341 "
    "2341 2346, PAN ABCPE1234F, my order 55012 came on 3 March and I paid 1499 rupees. Agent: okay. "
)


def inputs() -> dict[str, str]:
    def fill(piece: str) -> str:
        return (piece * (MEGABYTE // len(piece) + 1))[:MEGABYTE]

    rng = __import__("random").Random(7)
    return {
        "call-centre speech": fill(SPEECH),
        '"oh oh oh …"': fill("oh "),
        '"cvv cvv …"': fill("cvv "),
        '"cvv 1 cvv 1 …"': fill("cvv 1 "),
        '"1 1 1 …" (one run)': fill("1 "),
        "random digits, spaced": " ".join(rng.choice("0123456789") for _ in range(MEGABYTE // 2)),
        "one 1 MB number": fill("4111"),
        "digit words": fill("four one one one double one triple one "),
        "Devanagari": fill("मेरा आधार २३४१ २३४१ २३४६ है "),
        "circled digits": fill("①②③④ "),
    }


def cpu_seconds(work, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        work()
        best = min(best, time.process_time() - start)
    return best


def bench_masking(rounds: int) -> None:
    from recordings.live.masking import mask

    print(f"Masking, CPU seconds, best of {rounds} (load average {os.getloadavg()[0]:.1f}):")
    print("| input | 1 MB | ¼ MB | 1 MB / ¼ MB | split (baseline) | masking / baseline |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, text in inputs().items():
        quarter = text[: len(text) // 4]
        full = cpu_seconds(lambda: mask(text), rounds)
        part = cpu_seconds(lambda: mask(quarter), rounds)
        baseline = cpu_seconds(lambda: text.split(), rounds)
        print(f"| {name} | {full:.3f} | {part:.3f} | {full / part:.1f} | {baseline:.4f} | {full / baseline:.0f} |")


def set_up_django(database_url: str, token: str) -> None:
    os.environ.update(
        DATABASE_URL=database_url,
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        VOBIZ_AUTH_ID="MA_BENCH",
        VOBIZ_AUTH_TOKEN=token,
        DASHBOARD_PUBLIC_URL="https://recordings.example.com",
        DJANGO_ALLOWED_HOSTS="testserver",
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vobiz_dashboard.settings")
    import django

    django.setup()


def bench_callback(database_url: str, token: str, count: int) -> None:
    from django.core.management import call_command
    from django.test import Client

    from recordings.live.callbacks import MAX_BODY_BYTES, sign

    if not database_url.startswith("sqlite"):
        call_command("flush", interactive=False, verbosity=0)
    call_command("migrate", interactive=False, verbosity=0)

    def post(path: str, fields: dict[str, str]) -> float:
        nonce = str(secrets.randbelow(10**20))
        url = "https://recordings.example.com" + path
        headers = {"X-Vobiz-Signature-V3": sign(token, url, nonce), "X-Vobiz-Signature-V3-Nonce": nonce}
        start = time.perf_counter()
        response = Client().post(path, urlencode(fields), "application/x-www-form-urlencoded", headers=headers)
        seconds = time.perf_counter() - start
        if response.status_code != 200:
            raise SystemExit(f"{path} answered {response.status_code}: {response.content[:200]!r}")
        return seconds

    text = SPEECH * (MAX_BODY_BYTES // len(urlencode({"transcription": SPEECH})))
    alone, alone_cpu = [], []
    for n in range(count):
        cpu = time.process_time()
        alone.append(post("/vobiz/transcription-callback", {"recording_id": f"alone-{n}", "transcription": text}))
        alone_cpu.append(time.process_time() - cpu)
    large, small = [], []
    for n in range(count):
        fields = {"recording_id": f"bench-{n}", "transcription": text}
        thread = threading.Thread(target=lambda: large.append(post("/vobiz/transcription-callback", fields)))
        thread.start()
        time.sleep(0.05)  # the large one is being masked when the small one comes
        small.append(post("/vobiz/recording-callback", {"RecordingID": f"small-{n}"}))
        thread.join()
    print(f"\nCallbacks on {database_url.split(':')[0]}, {count} rounds, load average {os.getloadavg()[0]:.1f}:")
    print(
        f"- transcription callback of {len(urlencode({'transcription': text})):,} bytes alone: median "
        f"{statistics.median(alone):.2f} s ({statistics.median(alone_cpu):.2f} s of CPU), max {max(alone):.2f} s"
    )
    print(f"- the same with a recording callback: median {statistics.median(large):.2f} s, max {max(large):.2f} s")
    print(f"- recording callback sent meanwhile: median {statistics.median(small):.3f} s, max {max(small):.3f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--callbacks", type=int, default=5, help="large callbacks posted (0: none)")
    parser.add_argument("--database-url", default="", help="a PostgreSQL database to make anew (default: SQLite)")
    args = parser.parse_args()
    token = secrets.token_hex(16)
    with tempfile.TemporaryDirectory() as folder:
        database_url = args.database_url or f"sqlite:///{folder}/bench.sqlite3"
        set_up_django(database_url, token)
        bench_masking(args.rounds)
        if args.callbacks:
            bench_callback(database_url, token, args.callbacks)


if __name__ == "__main__":
    main()
