"""The one writer of recordings from Vobiz: the sync's pages and a callback's fetch store through
`store_recordings`."""

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import orjson
import psycopg
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from recordings.browsing.freshness import data_changed
from recordings.models import SYNCED_FIELDS, Recording
from vobiz.client import MAX_PAGE_SIZE

UNSIZED = re.compile(r"\(.*\)")  # a column type's length or precision: varchar(64), numeric(16, 6)
UPDATED_FIELDS = [name for name in SYNCED_FIELDS if name not in ("recording_id", "first_synced_at")]


def store_recordings(recordings: list[dict[str, Any]], *, now: datetime) -> None:
    """Store normalised recordings (as `normalise` makes them), seen at Vobiz at `now`."""
    if recordings:
        with transaction.atomic(savepoint=False):
            upsert_recordings([synced_row(fields, now=now) for fields in recordings])
            data_changed()


@contextmanager
def tuned_for_the_sync() -> Iterator[None]:
    """The connection set for a sync's many writes, and set back after it: a task worker's
    connection goes on to its next task."""
    connection = connections[DEFAULT_DB_ALIAS]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # A page's commit need not wait for the disk: after a crash, the last pages are lost
            # together with the progress stored with them, in order, and the next run fetches
            # them again. Waiting for each flush made PostgreSQL the sync's bottleneck.
            cursor.execute("SET synchronous_commit TO OFF")
            restore = "RESET synchronous_commit"
        else:
            # The indexes on ids take rows at random places: with SQLite's default cache of 2 MB,
            # their pages were read again from the file for nearly every row (0.82× the sync's
            # CPU at a million with 64 MiB).
            cursor.execute("PRAGMA cache_size")
            restore = f"PRAGMA cache_size = {int(cursor.fetchone()[0])}"
            cursor.execute("PRAGMA cache_size = -65536")  # KiB
    try:
        yield
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute(restore)
        except DatabaseError:
            pass  # a connection that broke is not used again


def mark_seen(recording_ids: list[str], *, now: datetime) -> None:
    """Recordings a full walk saw unchanged: seen at `now`, so not gone, without rewriting them."""
    if recording_ids:
        with transaction.atomic(savepoint=False):
            Recording.objects.filter(recording_id__in=recording_ids).update(last_synced_at=now, gone_at=None)
            data_changed()  # one of them may have been gone


def mark_gone(recording_id: str, *, now: datetime) -> None:
    """A recording Vobiz no longer has (it answered 404): kept, marked gone."""
    with transaction.atomic(savepoint=False):
        Recording.objects.filter(recording_id=recording_id).update(gone_at=now)
        data_changed()


def synced_row(fields: dict[str, Any], *, now: datetime) -> dict[str, Any]:
    """A recording's row: its normalised fields and the sync's bookkeeping. Seen now, so not gone;
    first seen now too, which the upsert keeps only for a new row."""
    return {**fields, "first_synced_at": now, "last_synced_at": now, "gone_at": None}


def upsert_recordings(rows: list[dict[str, Any]]) -> None:
    """Insert or update normalised recordings by id. The auditing columns are not the sync's: a
    new row gets their defaults, an existing one keeps them. The ids must be unique within a call:
    PostgreSQL refuses a statement that would update one row twice."""
    connection = connections[DEFAULT_DB_ALIAS]
    statement = UpsertStatement(connection)
    with driver_cursor(connection) as cursor:
        if connection.vendor == "postgresql":  # one statement, a column's values in each array
            cursor.execute(statement.unnest_sql, statement.columns(rows))
            return
        for start in range(0, len(rows), MAX_PAGE_SIZE):  # a statement per page of rows
            batch = rows[start : start + MAX_PAGE_SIZE]
            cursor.execute(statement.sql(len(batch)), statement.params(batch))


def stored_hashes(recording_ids: list[str]) -> dict[str, str]:
    """The content hash of each of these recordings that is stored, by id (at most 32,000 ids)."""
    if not recording_ids:
        return {}
    connection = connections[DEFAULT_DB_ALIAS]
    quote = connection.ops.quote_name
    id_column = quote(Recording._meta.get_field("recording_id").column)
    hash_column = quote(Recording._meta.get_field("content_hash").column)
    sql = f"SELECT {id_column}, {hash_column} FROM {quote(Recording._meta.db_table)} WHERE {id_column} "
    params: list[Any] = list(recording_ids)
    if connection.vendor == "postgresql":
        sql, params = sql + "= ANY(%b)", [params]  # an array, in binary: a short statement, parsed once
    else:
        sql += "IN (" + ", ".join(["?"] * len(recording_ids)) + ")"
    with driver_cursor(connection) as cursor:
        cursor.execute(sql, params)
        return dict(cursor.fetchall())


def placeholder(connection: BaseDatabaseWrapper) -> str:
    return "%s" if connection.vendor == "postgresql" else "?"


@contextmanager
def driver_cursor(connection: BaseDatabaseWrapper) -> Iterator[Any]:
    """The database driver's own cursor on Django's connection, for the sync's statements of
    thousands of values. Django's cursors bind them in Python on PostgreSQL (client-side), where
    psycopg's lets the server bind them; on SQLite, Django's rewrites each statement's 3,100 `%s`
    as `?` with a regular expression (10 % of the main thread's time in a profile of 2026-12-07),
    where these statements are written with `?`. Inside Django's transaction, like its cursors."""
    connection.ensure_connection()
    with connection.wrap_database_errors:  # the driver's errors raised as Django's, as its cursors do
        if connection.vendor == "postgresql":
            with psycopg.Cursor(connection.connection) as cursor:
                yield cursor
        else:
            cursor = connection.connection.cursor()
            try:
                yield cursor
            finally:
                cursor.close()


class UpsertStatement:
    """`INSERT … ON CONFLICT (recording_id) DO UPDATE` written by hand, for the sync's hot path.

    Django's bulk_create(update_conflicts=True) does the same through the ORM: a model instance
    per row, each of the 31 values of a row through its field's pre_save and get_db_prep_save,
    and on SQLite statements of 32 rows (Django 5.2 assumes 999 parameters). Profiled in a full
    sync it was half the sync's CPU. Measured on 2026-12-01 (2 CPUs, load 3-5), pages of 100
    rows into a fresh table, the storing process's CPU per page: SQLite 38-45 ms against 15-19 ms
    here (2.4×); PostgreSQL 35-40 ms against 26-30 ms (1.35×; 30-35 ms through Django's own,
    client-binding cursor). A full sync storing through bulk_create took 1.67× the time of the
    sync before it (1.82× the CPU); through this statement, 0.99-1.00× on SQLite and 0.85-0.91×
    on PostgreSQL (CPU 0.97-1.07× and 0.93×).
    On PostgreSQL the values go as one array per column (`INSERT … SELECT * FROM unnest(…)`), all
    the rows of a store in one statement: psycopg caches the parsing of a statement only up to 4 kB,
    and parsing the 3,100 placeholders of a page's VALUES again for every page was 55 % of the
    sync's main thread in a profile on 2026-12-07; the statement of arrays is short, parsed once.
    The arrays go in binary (`%b`): psycopg writes text arrays in Python, escaping each value with a
    regular expression, 58 µs of CPU a row against 10 µs in binary (400 rows a statement).
    tests/sync/test_sync_upsert.py checks that it writes exactly what bulk_create writes, so a change
    in Django or in the model shows there.
    """

    def __init__(self, connection: BaseDatabaseWrapper) -> None:
        template = Recording()  # the defaults a new row gets for the columns the sync does not own
        fields = [f for f in Recording._meta.concrete_fields if not f.primary_key]
        quote = connection.ops.quote_name
        columns = ", ".join(quote(f.column) for f in fields)
        updates = ", ".join(
            f"{quote(f.column)} = EXCLUDED.{quote(f.column)}" for f in fields if f.name in UPDATED_FIELDS
        )
        insert = f"INSERT INTO {quote(Recording._meta.db_table)} ({columns})"
        self.head = f"{insert} VALUES "
        self.tail = f" ON CONFLICT ({quote(Recording._meta.get_field('recording_id').column)}) DO UPDATE SET {updates}"
        self.row_placeholder = "(" + ", ".join([placeholder(connection)] * len(fields)) + ")"
        if connection.vendor == "postgresql":
            # Binary: see above. Arrays of the types without length or precision (varchar[], not
            # varchar(64)[]): an explicit cast cuts a value to fit, where the column's own
            # assignment refuses one too long or too large, as bulk_create's statement does.
            arrays = ", ".join(f"%b::{UNSIZED.sub('', str(f.db_type(connection)))}[]" for f in fields)
            self.unnest_sql = f"{insert} SELECT * FROM unnest({arrays}){self.tail}"
        self.converters = [self.converter(f, template, connection) for f in fields]

    @staticmethod
    def converter(
        field: models.Field[Any, Any], template: Recording, connection: BaseDatabaseWrapper
    ) -> Callable[[dict[str, Any]], Any]:
        name = field.name
        if name not in SYNCED_FIELDS:
            default = field.get_db_prep_save(field.value_from_object(template), connection)
            return lambda row: default
        if isinstance(field, models.DateTimeField):
            return LastAdapted(name, connection.ops.adapt_datetimefield_value)
        if isinstance(field, models.DecimalField):
            # What get_db_prep_save ends in for the finite Decimal or None the normaliser gives.
            adapt_decimal = connection.ops.adapt_decimalfield_value
            digits, places = field.max_digits, field.decimal_places
            return lambda row: adapt_decimal(row[name], digits, places)
        if isinstance(field, models.JSONField):
            return lambda row: json_param(row[name], field)
        return lambda row: row[name]  # text and whole numbers, as the normaliser made them

    def sql(self, count: int) -> str:
        return self.head + ", ".join([self.row_placeholder] * count) + self.tail

    def params(self, rows: list[dict[str, Any]]) -> list[Any]:
        return [convert(row) for row in rows for convert in self.converters]

    def columns(self, rows: list[dict[str, Any]]) -> list[list[Any]]:
        return [[convert(row) for row in rows] for convert in self.converters]


class LastAdapted:
    """A datetime column's converter that adapts a value once for a run of rows that share it:
    the sync's own times are one object for every row of a batch."""

    def __init__(self, name: str, adapt: Callable[[Any], Any]) -> None:
        self.name = name
        self.adapt = adapt
        self.last: tuple[Any, Any] = (None, adapt(None))

    def __call__(self, row: dict[str, Any]) -> Any:
        value = row[self.name]
        if value is not self.last[0]:
            self.last = (value, self.adapt(value))
        return self.last[1]


def json_param(value: Any, field: models.JSONField) -> str:
    """A JSON column's parameter: orjson's text, which both databases read as JSON; for what
    orjson cannot encode (integers past 64 bits), the text Django's JSONField would send."""
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value, cls=field.encoder)
