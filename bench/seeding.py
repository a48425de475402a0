"""Databases for the benchmarks: made fresh, and filled with a big local copy the fastest honest way.

Recordings: `FakeAccount(count=N)`'s (realistic numbers, types, durations and add_times over a
year), turned into rows by `normalise()` as a full sync stores them, newest first, with a few
bookkeeping states sprinkled in deterministically (about 0.3 % gone at Vobiz, 0.1 % deleted by an
auditor, 1 % reviewed, 0.2 % flagged). Generated in worker processes; on PostgreSQL loaded with
`COPY ... FROM STDIN` (psycopg), on SQLite with `executemany` in big transactions with
`PRAGMA synchronous=OFF` for the load only. The table's plain indexes are dropped for the load and
created again from their own DDL afterwards (the same indexes, built in one go), then VACUUM ANALYZE
(PostgreSQL: autovacuum may be off on a benchmark server) or ANALYZE (SQLite). A kept database
records its seed in bench_pages_meta, so that a later run of the same count reuses it.

Transcripts: every recording whose row id ends in 1, 4 or 7 gets one (30 % of them: 300,000 of
1,000,000), of 40 to 120 words: the words of any call (Zipf-weighted), one of 24 topics ("refund",
"delivery", …: each in about 4 % of transcripts) and, in one transcript of 50, a city (each in about
0.01 %). Deterministic: the same row gets the same text. TRANSCRIPT_CASES then ask for a topic, a
city, two words together and a word nearly every call says. Loaded in bulk with the full-text index
built once afterwards: PostgreSQL's GIN index dropped and created again around COPY (its generated
tsvector column is computed as rows arrive); SQLite's FTS5 triggers dropped and the index rebuilt,
through the migration's own install_sqlite.
"""

import importlib
import io
import json
import math
import multiprocessing
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

TABLE = "recordings_recording"
CHUNK = 10_000  # rows a seed worker generates per task
SQLITE_BATCH = 100_000  # rows per SQLite transaction during the seed
META_DDL = "CREATE TABLE IF NOT EXISTS bench_pages_meta (count bigint, seeded_at text, seed json)"


# -- scratch PostgreSQL databases -------------------------------------------------------------------


def server_url(database_url: str) -> str:
    """The URL of the server's own `postgres` database, from which others are created and dropped."""
    return urlunsplit(urlsplit(database_url)._replace(path="/postgres"))


def database_name(database_url: str) -> str:
    return urlsplit(database_url).path.lstrip("/")


def fresh_database(database: str, *, folder: Path, pg_url: str, pg_name: str) -> str:
    """The URL of an empty database: a SQLite file in `folder`, or PostgreSQL's `pg_name` on the
    server at `pg_url`, dropped and created again."""
    if database == "sqlite":
        return f"sqlite:///{folder / 'db.sqlite3'}"
    database_url = f"{pg_url}/{pg_name}"
    recreate_postgres(database_url)
    return database_url


def recreate_postgres(database_url: str) -> None:
    """The database `database_url` names, dropped (whoever is connected) and created again, empty."""
    drop_postgres(database_url)
    _on_server(database_url, "CREATE DATABASE {}")


def drop_postgres(database_url: str) -> None:
    _on_server(database_url, "DROP DATABASE IF EXISTS {} WITH (FORCE)")


def _on_server(database_url: str, statement: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(server_url(database_url), autocommit=True) as conn:
        conn.execute(sql.SQL(statement).format(sql.Identifier(database_name(database_url))))


# -- recordings' rows: generated in worker processes too --------------------------------------------

_WORKER: dict[str, Any] = {}


def _init_worker(count: int, vendor: str) -> None:
    import django

    django.setup()
    from recordings.models import Recording
    from vobiz.fake.data import DEFAULT_NOW, FakeAccount

    _WORKER["account"] = FakeAccount(count=count)
    _WORKER["now"] = DEFAULT_NOW.astimezone(UTC)
    _WORKER["vendor"] = vendor
    _WORKER["fields"] = [f for f in Recording._meta.concrete_fields if not f.primary_key]


def bookkeeping(position: int, now: datetime) -> dict[str, Any]:
    """The sync's and the auditors' columns for the recording at `position` (0 = newest)."""
    h = (position * 2654435761 + 12345) % 2**32 % 1000
    state = {
        "first_synced_at": now,
        "last_synced_at": now,
        "gone_at": None,
        "review_state": "",
        "reviewed_at": None,
        "reviewed_by": None,
        "review_note": "",
        "deleted_at": None,
        "deleted_by": None,
        "deletion_reason": "",
    }
    if h < 3:
        state["gone_at"] = now
    elif h < 4:
        state["deleted_at"], state["deletion_reason"] = now, "benchmark: deleted by an auditor"
    elif 10 <= h < 20:
        state["review_state"], state["reviewed_at"] = "reviewed", now
    elif 20 <= h < 22:
        state["review_state"], state["reviewed_at"], state["review_note"] = "flagged", now, "benchmark flag"
    return state


def _sqlite_value(field: Any, value: Any) -> Any:
    if value is None:
        return None
    kind = field.get_internal_type()
    if kind == "DateTimeField":  # as Django's SQLite backend stores it: naive UTC text
        return str(value.astimezone(UTC).replace(tzinfo=None))
    if kind == "DecimalField":
        return str(value)
    if kind == "JSONField":
        return json.dumps(value)
    return value


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(field: Any, value: Any) -> str:
    """One value in PostgreSQL's COPY text format."""
    if value is None:
        return "\\N"
    kind = field.get_internal_type()
    if kind == "DateTimeField":
        return value.isoformat()
    if kind == "JSONField":
        value = json.dumps(value)
    return str(value).translate(_COPY_ESCAPES)


def _make_chunk(job: tuple[int, int]) -> bytes | list[tuple[Any, ...]]:
    """Rows [offset, offset+limit) of the newest-first list: COPY text (bytes) or SQLite tuples."""
    from recordings.sync.normalise import normalise

    offset, limit = job
    objects, _ = _WORKER["account"].page(offset, limit)
    fields, now, vendor = _WORKER["fields"], _WORKER["now"], _WORKER["vendor"]
    out = []
    for i, obj in enumerate(objects):
        values = normalise(obj)
        values.update(bookkeeping(offset + i, now))
        row = []
        for field in fields:
            if field.name in values:
                value = values[field.name]
            elif field.has_default():
                value = field.get_default()
            elif field.null:
                value = None
            else:
                raise RuntimeError(f"the benchmark does not know what to put in {field.name}")
            if hasattr(value, "pk"):
                value = value.pk
            row.append(value)
        if vendor == "postgresql":
            out.append("\t".join(_copy_text(f, v) for f, v in zip(fields, row)) + "\n")
        else:
            out.append(tuple(_sqlite_value(f, v) for f, v in zip(fields, row)))
    return "".join(out).encode() if vendor == "postgresql" else out


def generate_rows(count: int, vendor: str, workers: int) -> Iterator[Any]:
    """Yields chunks in order, generated by `workers` processes (spawned: no inherited connections)."""
    jobs = [(offset, min(CHUNK, count - offset)) for offset in range(0, count, CHUNK)]
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, initializer=_init_worker, initargs=(count, vendor)) as pool:
        yield from pool.imap(_make_chunk, jobs)


def progress(what: str, done: int, total: int, started: float) -> None:
    if sys.stderr.isatty() or done == total or done % (total // 10 or 1) < CHUNK:
        rate = done / max(time.perf_counter() - started, 1e-9)
        print(f"  {done:,}/{total:,} {what} ({rate:,.0f}/s)", file=sys.stderr, flush=True)


def load_timings(started: float, loaded: float, indexed: float, indexes: int) -> dict[str, float]:
    """A load's phases, in seconds: rows, indexes, then statistics (ending now)."""
    return {
        "load_s": loaded - started,
        "indexes_s": indexed - loaded,
        "analyze_s": time.perf_counter() - indexed,
        "indexes_rebuilt": indexes,
    }


# -- a database seeded with recordings --------------------------------------------------------------


class SeededSqlite:
    """A SQLite file: in a temporary folder of its own, or with `keep` in <tmp>/bench_pages, by count."""

    vendor = "sqlite"

    def __init__(self, count: int, keep: bool) -> None:
        self.keep = keep
        if keep:
            folder = Path(tempfile.gettempdir()) / "bench_pages"
            folder.mkdir(exist_ok=True)
            self.tmpdir = None
        else:
            folder = Path(tempfile.mkdtemp(prefix="bench_pages_"))
            self.tmpdir = folder
        self.path = folder / f"sqlite-{count}.sqlite3"
        self.url = f"sqlite:///{self.path}"

    def describe(self) -> str:
        return f"SQLite {sqlite3.sqlite_version} (file {self.path})"

    def seeded_meta(self) -> dict[str, Any] | None:
        """The seed record of a kept database, or None."""
        if not self.path.exists():
            return None
        try:
            with sqlite3.connect(self.path) as conn:
                row = conn.execute("SELECT count, seeded_at, seed FROM bench_pages_meta").fetchone()
        except sqlite3.Error:
            return None
        return {"count": row[0], "seeded_at": row[1], **json.loads(row[2])} if row else None

    def fresh(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    def load(self, count: int, workers: int, fields: list[Any]) -> dict[str, float]:
        """Drop the plain indexes, insert every row, create the indexes again. Returns timings."""
        conn = sqlite3.connect(self.path, isolation_level=None)
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-1000000")  # 1 GB for the index builds; this connection only
        indexes = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type='index' AND tbl_name=? AND sql IS NOT NULL", (TABLE,)
        ).fetchall()
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        columns = ", ".join(f'"{f.column}"' for f in fields)
        insert = f'INSERT INTO "{TABLE}" ({columns}) VALUES ({", ".join("?" * len(fields))})'
        started = time.perf_counter()
        done, in_transaction = 0, 0
        conn.execute("BEGIN")
        for rows in generate_rows(count, "sqlite", workers):
            conn.executemany(insert, rows)
            done += len(rows)
            in_transaction += len(rows)
            if in_transaction >= SQLITE_BATCH:
                conn.execute("COMMIT")
                conn.execute("BEGIN")
                in_transaction = 0
            progress("rows", done, count, started)
        conn.execute("COMMIT")
        loaded = time.perf_counter()
        for name, sql in indexes:
            conn.execute(sql)
        indexed = time.perf_counter()
        conn.execute("ANALYZE")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        return load_timings(started, loaded, indexed, len(indexes))

    def analyze(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None)
        conn.execute("ANALYZE")
        conn.close()

    def write_meta(self, meta: dict[str, Any]) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None)
        conn.execute(META_DDL)
        conn.execute("DELETE FROM bench_pages_meta")
        conn.execute(
            "INSERT INTO bench_pages_meta VALUES (?, ?, ?)", (meta["count"], meta["seeded_at"], json.dumps(meta))
        )
        conn.close()

    def cleanup(self) -> None:
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)


class SeededPostgres:
    """The PostgreSQL database `name` on the server at `server`, dropped and created again; with
    `keep`, `<name>_<count>`, kept afterwards (a kept 1M database survives a 100k run)."""

    vendor = "postgresql"

    def __init__(self, count: int, keep: bool, server: str, name: str) -> None:
        self.keep = keep
        self.name = f"{name}_{count}" if keep else name
        self.url = urlunsplit(urlsplit(server)._replace(path=f"/{self.name}"))
        self.admin_url = server_url(self.url)

    def _connect(self, url: str, autocommit: bool = True) -> Any:
        import psycopg

        return psycopg.connect(url, autocommit=autocommit)

    def describe(self) -> str:
        with self._connect(self.admin_url) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]
            settings = {
                name: conn.execute(f"SHOW {name}").fetchone()[0]
                for name in (
                    "shared_buffers",
                    "work_mem",
                    "effective_cache_size",
                    "random_page_cost",
                    "jit",
                    "max_parallel_workers_per_gather",
                    "autovacuum",
                    "lc_collate",
                )
            }
        return f"PostgreSQL {version} ({', '.join(f'{k}={v}' for k, v in settings.items())})"

    def seeded_meta(self) -> dict[str, Any] | None:
        """The seed record of a kept database, or None."""
        import psycopg

        try:
            with self._connect(self.url) as conn:
                row = conn.execute("SELECT count, seeded_at, seed FROM bench_pages_meta").fetchone()
        except psycopg.Error:
            return None
        return (
            {"count": row[0], "seeded_at": row[1], **(row[2] if isinstance(row[2], dict) else json.loads(row[2]))}
            if row
            else None
        )

    def fresh(self) -> None:
        recreate_postgres(self.url)

    def load(self, count: int, workers: int, fields: list[Any]) -> dict[str, float]:
        """Drop the plain indexes, COPY every row, create the indexes again. Returns timings."""
        with self._connect(self.url, autocommit=False) as conn:
            indexes = conn.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = %s "
                "AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)",
                (TABLE, TABLE),
            ).fetchall()
            for name, _ in indexes:
                conn.execute(f'DROP INDEX "{name}"')
            columns = ", ".join(f'"{f.column}"' for f in fields)
            started = time.perf_counter()
            done = 0
            with conn.cursor().copy(f'COPY "{TABLE}" ({columns}) FROM STDIN') as copy:
                for data in generate_rows(count, "postgresql", workers):
                    copy.write(data)
                    done = min(done + CHUNK, count)
                    progress("rows", done, count, started)
            conn.commit()
            loaded = time.perf_counter()
            conn.execute("SET maintenance_work_mem = '1GB'")
            for _, ddl in indexes:
                conn.execute(ddl)
            conn.commit()
            indexed = time.perf_counter()
        with self._connect(self.url) as conn:
            conn.execute("VACUUM (ANALYZE)")
        return load_timings(started, loaded, indexed, len(indexes))

    def analyze(self) -> None:
        with self._connect(self.url) as conn:
            conn.execute("VACUUM (ANALYZE)")

    def write_meta(self, meta: dict[str, Any]) -> None:
        with self._connect(self.url) as conn:
            conn.execute(META_DDL)
            conn.execute("DELETE FROM bench_pages_meta")
            conn.execute(
                "INSERT INTO bench_pages_meta VALUES (%s, %s, %s)", (meta["count"], meta["seeded_at"], json.dumps(meta))
            )

    def cleanup(self) -> None:
        if not self.keep:
            from django.db import connections

            connections.close_all()
            drop_postgres(self.url)


def record_full_sync(count: int) -> None:
    """The finished full sync that would have stored the seeded rows: pages read it (the sync status
    line, and whatever the app keys on the last sync), so a database without one is not realistic."""
    from recordings.models import SyncRun, SyncState
    from vobiz.fake.data import DEFAULT_NOW

    if SyncRun.objects.exists():
        return
    finished = DEFAULT_NOW.astimezone(UTC)
    SyncRun.objects.create(
        mode=SyncRun.Mode.FULL,
        status=SyncRun.Status.SUCCEEDED,
        started_at=finished - timedelta(minutes=20),
        finished_at=finished,
        pages=math.ceil(count / 100),
        created=count,
        total_upstream=count,
        owner="bench:0",
    )
    SyncState.objects.update_or_create(pk=1, defaults={"list_total": count, "unread": []})


def check_seed(count: int) -> None:
    """The rows read back through the ORM equal what normalise() makes of the same objects."""
    from django.db import connections

    from recordings.models import API_FIELDS, Recording
    from recordings.sync.normalise import normalise
    from vobiz.fake.data import FakeAccount

    connections.close_all()
    stored = Recording.objects.count()
    if stored != count:
        raise SystemExit(f"seeded {stored:,} recordings, expected {count:,}")
    account = FakeAccount(count=count)
    for offset in (0, count // 3, count - 1):
        obj = account.page(offset, 1)[0][0]
        expected = normalise(obj)
        row = Recording.objects.get(recording_id=expected["recording_id"])
        for name in API_FIELDS + ("raw", "from_digits_reversed", "to_digits_reversed", "content_hash"):
            if getattr(row, name) != expected[name]:
                raise SystemExit(f"seeded {name} reads back as {getattr(row, name)!r}, not {expected[name]!r}")


# -- transcripts: what a contact centre's calls say, generated --------------------------------------

FILLER = (
    "i you the to a and is it that my for on of in this have can please yes no okay thank thanks "
    "hello sir madam account number call order help sorry about just need want know like will "
    "check see moment hold again today time week day look let me your we there one two"
).split()
COMMON = "thank"  # in nearly every transcript
TOPICS = (
    "refund",
    "delivery",
    "password",
    "invoice",
    "upgrade",
    "cancel",
    "broken kettle",
    "address",
    "payment",
    "charged twice",
    "warranty",
    "replacement",
    "courier",
    "login",
    "subscription",
    "discount",
    "voucher",
    "technician",
    "installation",
    "router",
    "outage",
    "complaint",
    "statement",
    "balance",
)
CITIES = (
    "Mumbai Delhi Bengaluru Hyderabad Ahmedabad Chennai Kolkata Surat Pune Jaipur Lucknow Kanpur "
    "Nagpur Indore Thane Bhopal Visakhapatnam Patna Vadodara Ghaziabad Ludhiana Agra Nashik "
    "Faridabad Meerut Rajkot Varanasi Srinagar Aurangabad Dhanbad Amritsar Allahabad Ranchi "
    "Howrah Coimbatore Jabalpur Gwalior Vijayawada Jodhpur Madurai Raipur Kota Guwahati Chandigarh "
    "Solapur Hubli Bareilly Moradabad Mysore Gurgaon Aligarh Jalandhar Tiruchirappalli Bhubaneswar "
    "Salem Warangal Thiruvananthapuram Bhiwandi Saharanpur Guntur Amravati Bikaner Noida Jamshedpur "
    "Bhilai Cuttack Firozabad Kochi Bhavnagar Dehradun Durgapur Asansol Nanded Kolhapur Ajmer "
    "Gulbarga Jamnagar Ujjain Loni Siliguri Jhansi Ulhasnagar Nellore Jammu Belgaum Mangalore "
    "Ambattur Tirunelveli Malegaon Gaya Jalgaon Udaipur Maheshtala"
).split()
TRANSCRIPT_CASES = {
    "a topic word": "refund",
    "a rare word": "Udaipur",
    "two words": "broken kettle",
    "a word nearly every call says": COMMON,
}
FILLER_WEIGHTS = [1 / (rank + 1) for rank in range(len(FILLER))]
TRANSCRIPT_COLUMNS = "recording_id, call_uuid, text, error, masked, masked_kinds, received_at, updated_at"


def transcript_text(row_id: int) -> str:
    rng = random.Random(row_id)
    words = rng.choices(FILLER, FILLER_WEIGHTS, k=rng.randint(40, 120))
    words.insert(rng.randrange(len(words)), rng.choice(TOPICS))
    if rng.random() < 0.95:
        words.insert(rng.randrange(len(words)), COMMON)
    if rng.random() < 0.02:
        words.insert(rng.randrange(len(words)), rng.choice(CITIES))
    return " ".join(words)


def _transcripts_stored(cursor: Any) -> int:
    cursor.execute("SELECT count(*) FROM recordings_transcript")
    return cursor.fetchone()[0]


def seed_transcripts(vendor: str, connection: Any) -> dict[str, Any]:
    """Adds the transcripts if the database has none; returns the count and the seconds it took."""
    started = time.perf_counter()
    with connection.cursor() as cursor:
        if _transcripts_stored(cursor):
            return {"transcripts": _transcripts_stored(cursor), "transcripts_reused": True}
        cursor.execute("SELECT id, recording_id, call_uuid FROM recordings_recording WHERE id % 10 IN (1, 4, 7)")
        rows = cursor.fetchall()
    now = datetime.now(UTC)
    print(f"Seeding {len(rows):,} transcripts…", file=sys.stderr, flush=True)
    if vendor == "postgresql":
        _transcripts_postgresql(connection, rows, now)
    else:
        _transcripts_sqlite(connection, rows, now)
    return {"transcripts": len(rows), "transcripts_s": round(time.perf_counter() - started, 2)}


def _transcripts_postgresql(connection: Any, rows: list[tuple[int, str, str]], now: datetime) -> None:
    migration = importlib.import_module("recordings.migrations.0010_transcripts")
    connection.ensure_connection()
    with connection.connection.cursor() as cursor:  # psycopg's own, for COPY; autocommit as Django keeps it
        cursor.execute(f"DROP INDEX IF EXISTS {migration.PG_INDEX}")
        with cursor.copy(f"COPY recordings_transcript ({TRANSCRIPT_COLUMNS}) FROM STDIN") as copy:
            buffer = io.StringIO()
            for at, (row_id, recording_id, call_uuid) in enumerate(rows):
                buffer.write(
                    f"{recording_id}\t{call_uuid}\t{transcript_text(row_id)}\t\tf\t[]\t"
                    f"{now.isoformat()}\t{now.isoformat()}\n"
                )
                if at % 10_000 == 9_999:
                    copy.write(buffer.getvalue())
                    buffer = io.StringIO()
            copy.write(buffer.getvalue())
        cursor.execute("SET maintenance_work_mem = '1GB'")
        cursor.execute(f"CREATE INDEX {migration.PG_INDEX} ON recordings_transcript USING gin ({migration.PG_COLUMN})")
        cursor.execute("VACUUM (ANALYZE) recordings_transcript")


def _transcripts_sqlite(connection: Any, rows: list[tuple[int, str, str]], now: datetime) -> None:
    migration = importlib.import_module("recordings.migrations.0010_transcripts")
    stamp = str(now.replace(tzinfo=None))
    with connection.schema_editor() as editor:
        migration.uninstall_sqlite(editor)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO recordings_transcript ({TRANSCRIPT_COLUMNS}) VALUES (%s, %s, %s, '', 0, '[]', %s, %s)",
            [
                (recording_id, call_uuid, transcript_text(row_id), stamp, stamp)
                for row_id, recording_id, call_uuid in rows
            ],
        )
    with connection.schema_editor() as editor:
        migration.install_sqlite(editor)  # builds the index of every stored transcript at once
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
