"""Indexes a first import builds after its rows rather than row by row.

A row's insert updates every index of the table. Indexes on add_time take rows at one end (the list
is read in order), but those on phone numbers and durations take them at random places, each
writing a page of its own per row: on SQLite each page is written again to the WAL at every commit.
Into an empty table, a sync not limited to a call or a type drops these (`defer_for_first_import`)
and builds them once at the end (`build_missing`), in one pass each. Reads stay possible meanwhile:
the default page's index (present recordings newest first), the id's and add_time's are kept; a
search by number or duration scans (on SQLite, a call's recordings are found by a scan too), and
the sync page says so (`status.slow_searches`). On PostgreSQL the build is CONCURRENTLY, so that
writes (notes, callbacks, deletions) go on while it runs; SQLite's blocks writers for its time
(the six: 4.3-5.8 s at a million rows).

A run that ends in any way builds them; one that was killed leaves them to the next run, which
builds whatever is missing before it starts. An index a killed concurrent build left behind is
there but INVALID (never used by the planner, yet kept up to date): it counts as missing, and is
dropped and built again.
"""

from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.backends.base.base import BaseDatabaseWrapper

from recordings.models import Recording

# Each deferred index of the model, and what a search is by that scans the table while it is missing.
DEFERRED = {
    "rec_from_idx": "number",
    "rec_to_idx": "number",
    "rec_from_rev_idx": "number",
    "rec_to_rev_idx": "number",
    "rec_duration_idx": "duration",
}
# call_uuid's own index (its field's db_index, named as Django named it in migration 0001), deferred
# on SQLite too: call ids are random keys (with the usage triggers, 0.66× the CPU of storing at a
# million; docs/performance.md). On PostgreSQL it has a twin for prefix searches
# (varchar_pattern_ops), and the sync's CPU there is within 50 µs a recording with both kept.
CALL_UUID_INDEX = "recordings_recording_call_uuid_5155b1d9"
SEARCHED_BY = {**DEFERRED, CALL_UUID_INDEX: "call id (and a call's page)"}


def deferred_indexes(connection: BaseDatabaseWrapper) -> list[models.Index]:
    indexes = [index for index in Recording._meta.indexes if index.name in DEFERRED]
    if connection.vendor == "sqlite":
        indexes.append(models.Index(fields=["call_uuid"], name=CALL_UUID_INDEX))
    return indexes


def defer_for_first_import() -> bool:
    """Drop the deferred indexes if the table is empty; whether they were dropped."""
    if Recording.objects.exists():
        return False
    connection = connections[DEFAULT_DB_ALIAS]
    with connection.cursor() as cursor:
        for index in deferred_indexes(connection):
            cursor.execute(f"DROP INDEX IF EXISTS {connection.ops.quote_name(str(index.name))}")
    return True


def usable_index_names(connection: BaseDatabaseWrapper) -> set[str]:
    """The names of the recordings table's indexes that queries can use, with one query: on
    PostgreSQL the valid ones (pg_index.indisvalid), on SQLite all of them."""
    table = Recording._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT index_class.relname FROM pg_index JOIN pg_class index_class"
                " ON index_class.oid = pg_index.indexrelid WHERE pg_index.indrelid = %s::regclass"
                " AND pg_index.indisvalid",
                [connection.ops.quote_name(table)],
            )
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = %s", [table])
        return {name for (name,) in cursor.fetchall()}


def missing_indexes() -> list[models.Index]:
    """The deferred indexes the table lacks, or has but cannot use (INVALID)."""
    connection = connections[DEFAULT_DB_ALIAS]
    usable = usable_index_names(connection)
    return [index for index in deferred_indexes(connection) if index.name not in usable]


def build_missing() -> list[str]:
    """Build the deferred indexes the table lacks, with Django's own DDL; their names. On
    PostgreSQL outside a transaction, CONCURRENTLY: writes go on meanwhile."""
    missing = missing_indexes()
    if not missing:
        return []
    connection = connections[DEFAULT_DB_ALIAS]
    postgresql = connection.vendor == "postgresql"
    concurrently = postgresql and not connection.in_atomic_block  # refused within a transaction
    # The editor only writes the statements, run here. Not as a context manager: on SQLite its
    # __enter__ refuses to run within a transaction (NotSupportedError) and its __exit__ checks
    # every foreign key of the database; on PostgreSQL it would open a transaction.
    editor = connection.schema_editor()
    statements = [
        str(
            index.create_sql(Recording, editor, concurrently=True)
            if concurrently
            else index.create_sql(Recording, editor)
        )
        for index in missing
    ]
    drop = "DROP INDEX CONCURRENTLY IF EXISTS" if concurrently else "DROP INDEX IF EXISTS"
    with connection.cursor() as cursor:
        if postgresql and not concurrently:
            # Within a caller's transaction PostgreSQL refuses CREATE INDEX on a table with
            # foreign-key checks still deferred: they are run now, as at a commit.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for index in missing:  # an INVALID one, left by a killed concurrent build, is in the way
            cursor.execute(f"{drop} {connection.ops.quote_name(str(index.name))}")
        for statement in statements:
            cursor.execute(statement)
    return [str(index.name) for index in missing]
