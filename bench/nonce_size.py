"""How much room the callback nonces take, kept for good: bytes per million, on both databases.

    .venv/bin/python bench/nonce_size.py
    .venv/bin/python bench/nonce_size.py --count 200000 --pg-url postgres://postgres@127.0.0.1:5432

Each database gets two scratch tables filled with --count random 20-digit nonces (Vobiz's form) in
random order, as callbacks spend them: the kept form (the nonce's 8-byte digest as a bigint primary
key, recordings.models.CallbackNonce) and, as the baseline measured in the same run, the former one
(the nonce as text, the primary key, and an indexed time). SQLite: each in a fresh file, its size
after VACUUM. PostgreSQL: the database `bench_nonces` (made and dropped), each table's total size
(heap and indexes) after VACUUM. The figures are scaled to a million nonces.
"""

import argparse
import hashlib
import json
import random
import sqlite3
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT / "bench"))

from seeding import drop_postgres, recreate_postgres  # noqa: E402

KEPT = "CREATE TABLE nonces (digest bigint PRIMARY KEY)"
FORMER = "CREATE TABLE nonces (nonce varchar(64) PRIMARY KEY, seen_at {timestamp} NOT NULL)"
FORMER_INDEX = "CREATE INDEX nonces_seen_at ON nonces (seen_at)"
BATCH = 50_000


def digest(nonce: str) -> int:
    """As recordings.live.callbacks.nonce_digest (kept apart so that no Django setup is needed)."""
    return int.from_bytes(hashlib.sha256(nonce.encode()).digest()[:8], "big", signed=True)


def nonces(count: int, seed: int = 7) -> Iterator[str]:
    generator = random.Random(seed)
    for _ in range(count):
        yield str(generator.randrange(10**19, 10**20))


def batches(rows: Iterator[tuple[object, ...]]) -> Iterator[list[tuple[object, ...]]]:
    batch: list[tuple[object, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def kept_rows(count: int) -> Iterator[tuple[object, ...]]:
    return ((digest(nonce),) for nonce in nonces(count))


def former_rows(count: int) -> Iterator[tuple[object, ...]]:
    return ((nonce, f"2026-01-01 00:00:{i % 60:02d}.{i % 999_999:06d}+00:00") for i, nonce in enumerate(nonces(count)))


def sqlite_size(count: int, kept: bool) -> int:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "nonces.sqlite3"
        db = sqlite3.connect(path)
        if kept:
            db.execute(KEPT)
            insert, rows = "INSERT OR IGNORE INTO nonces VALUES (?)", kept_rows(count)
        else:
            db.execute(FORMER.format(timestamp="datetime"))
            db.execute(FORMER_INDEX)
            insert, rows = "INSERT OR IGNORE INTO nonces VALUES (?, ?)", former_rows(count)
        for batch in batches(rows):
            db.executemany(insert, batch)
            db.commit()
        db.execute("VACUUM")
        db.close()
        return path.stat().st_size


def postgres_size(database_url: str, count: int, kept: bool) -> int:
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS nonces")
        if kept:
            conn.execute(KEPT)
            insert, rows = "INSERT INTO nonces VALUES (%s) ON CONFLICT DO NOTHING", kept_rows(count)
        else:
            conn.execute(FORMER.format(timestamp="timestamp with time zone"))
            conn.execute(FORMER_INDEX)
            insert, rows = "INSERT INTO nonces VALUES (%s, %s) ON CONFLICT DO NOTHING", former_rows(count)
        with conn.cursor() as cursor:
            for batch in batches(rows):
                cursor.executemany(insert, batch)
        conn.execute("VACUUM ANALYZE nonces")
        (size,) = conn.execute("SELECT pg_total_relation_size('nonces')").fetchone() or (0,)
        conn.execute("DROP TABLE nonces")
        return int(size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1_000_000, help="nonces per table")
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432", help="server, without a database")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    per_million = 1_000_000 / args.count
    figures: dict[str, dict[str, float]] = {
        "sqlite": {
            "kept_mb": sqlite_size(args.count, kept=True) * per_million / 1e6,
            "former_mb": sqlite_size(args.count, kept=False) * per_million / 1e6,
        }
    }
    if not args.no_postgres:
        database_url = args.pg_url.rstrip("/") + "/bench_nonces"
        recreate_postgres(database_url)
        try:
            figures["postgresql"] = {
                "kept_mb": postgres_size(database_url, args.count, kept=True) * per_million / 1e6,
                "former_mb": postgres_size(database_url, args.count, kept=False) * per_million / 1e6,
            }
        finally:
            drop_postgres(database_url)
    print(f"Per million nonces ({args.count:,} measured):")
    for database, sizes in figures.items():
        ratio = sizes["kept_mb"] / sizes["former_mb"]
        print(
            f"  {database:10} kept (8-byte digest): {sizes['kept_mb']:6.1f} MB;"
            f" former (text and time): {sizes['former_mb']:6.1f} MB; {ratio:.2f}x"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
