"""Indexes a first import builds after its rows rather than row by row.

A row's insert updates every index of the table. Indexes on add_time take rows at one end (the list
is read in order), but those on phone numbers and durations take them at random places, each
writing a page of its own per row: on SQLite each page is written again to the WAL at every commit.
Into an empty table, a full sync drops these (`defer_for_first_import`) and builds them once at the
end (`build_missing`), in one pass each. The table stays usable meanwhile: the default page's index
(present recordings newest first), the id's and add_time's are kept; a search by number scans.

A run that ends in any way builds them in its `finally`; one that was killed leaves them to the
next run, which builds whatever is missing before it starts.
"""

from django.db import DEFAULT_DB_ALIAS, connections, models

from recordings.models import Recording

DEFERRED = ("rec_duration_idx", "rec_from_idx", "rec_to_idx", "rec_from_rev_idx", "rec_to_rev_idx")


def deferred_indexes() -> list[models.Index]:
    return [index for index in Recording._meta.indexes if index.name in DEFERRED]


def defer_for_first_import() -> bool:
    """Drop the deferred indexes if the table is empty; whether they were dropped."""
    if Recording.objects.exists():
        return False
    connection = connections[DEFAULT_DB_ALIAS]
    with connection.cursor() as cursor:
        for index in deferred_indexes():
            cursor.execute(f"DROP INDEX IF EXISTS {connection.ops.quote_name(str(index.name))}")
    return True


def missing_indexes() -> list[models.Index]:
    connection = connections[DEFAULT_DB_ALIAS]
    with connection.cursor() as cursor:
        present = connection.introspection.get_constraints(cursor, Recording._meta.db_table)
    return [index for index in deferred_indexes() if index.name not in present]


def build_missing() -> list[str]:
    """Build the deferred indexes the table lacks, with Django's own DDL; their names."""
    missing = missing_indexes()
    if not missing:
        return []
    connection = connections[DEFAULT_DB_ALIAS]
    editor = connection.schema_editor(collect_sql=True)  # the statements, run here: also in a transaction
    for index in missing:
        editor.add_index(Recording, index)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and connection.in_atomic_block:
            # Within a caller's transaction PostgreSQL refuses CREATE INDEX on a table with
            # foreign-key checks still deferred: they are run now, as at a commit.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for statement in editor.collected_sql:
            cursor.execute(statement.rstrip(";"))
    return [str(index.name) for index in missing]
