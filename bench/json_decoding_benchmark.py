"""What reading Vobiz's pages and hashing its recordings exactly costs: CPU a recording.

    .venv/bin/python bench/json_decoding_benchmark.py [--pages 200]

Pages of 100 recordings of the fake account, as its server writes them. Decoding: orjson alone
(the baseline, which reads integers past 64 bits as floats), `decode_json` (orjson after a check
for a run of 19 digits) and the standard library. Hashing: orjson alone, `canonical_json` as
`normalise` calls it for a plain object (orjson, its output checked to be ASCII) and the standard
library, whose bytes it must equal. Ratios are against the baseline of the same run.
"""

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import django

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vobiz_dashboard.test_settings")  # no database is used
django.setup()

import orjson  # noqa: E402

from recordings.sync.normalise import canonical_json  # noqa: E402
from vobiz.client import decode_json  # noqa: E402
from vobiz.fake.data import FakeAccount  # noqa: E402


def per_item(work: Callable[[Any], Any], items: list[Any], count: int) -> float:
    """The best of 5 rounds of `work` over `items`: µs of CPU per recording (`count` in all)."""
    best = float("inf")
    for _ in range(5):
        started = time.process_time()
        for item in items:
            work(item)
        best = min(best, time.process_time() - started)
    return best / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=200)
    args = parser.parse_args()
    account = FakeAccount(count=args.pages * 100, seed=7)
    pages = [account.page(offset, 100)[0] for offset in range(0, args.pages * 100, 100)]
    bodies = [json.dumps({"meta": {}, "objects": objects}).encode() for objects in pages]
    objects = [obj for page in pages for obj in page]
    count = len(objects)

    def sorted_orjson(obj: Any) -> bytes:
        return orjson.dumps(obj, default=str, option=orjson.OPT_SORT_KEYS)

    def standard(obj: Any) -> bytes:
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str, allow_nan=False).encode()

    def exact(obj: Any) -> bytes:
        return canonical_json(obj, checked=True)

    with open("/proc/loadavg") as load:
        print(f"{count} recordings; load average {load.read().split()[0]}")
    for title, cases, items in (
        (
            "decoding a page",
            (("orjson.loads", orjson.loads), ("decode_json", decode_json), ("json.loads", json.loads)),
            bodies,
        ),
        (
            "hashed encoding",
            (("orjson.dumps", sorted_orjson), ("canonical_json", exact), ("json.dumps", standard)),
            objects,
        ),
    ):
        baseline = per_item(cases[0][1], items, count)
        for name, work in cases:
            took = baseline if work is cases[0][1] else per_item(work, items, count)
            print(f"{title:16} {name:15} {took:6.2f} µs  {took / baseline:5.2f}×")


if __name__ == "__main__":
    main()
