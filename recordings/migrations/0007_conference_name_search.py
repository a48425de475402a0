"""An index for the search by conference name, a case-insensitive substring match.

No model Meta index can express either of these, and Meta indexes cannot differ by database, so
this migration builds them in raw SQL and the model does not know about them (makemigrations
ignores them; nothing to keep in step).

PostgreSQL: a trigram GIN index on UPPER(conference_name::text), the very expression Django's
`icontains` compiles to (`UPPER("conference_name"::text) LIKE UPPER('%text%')`), so the existing
lookup uses it unchanged. It needs the pg_trgm extension. Creating an extension needs privileges
(pg_trgm is trusted since PostgreSQL 13, so a database owner may create it; a plain user may not):
when it cannot be created, this logs a warning and builds no index, and the search keeps working
as a scan; the warning gives the two statements a DBA can run later. Reversing drops the index but
not the extension, which others may use.

SQLite: an FTS5 table with the trigram tokenizer (SQLite 3.34+) holding each named recording's
conference_name under the recording's id, kept up to date by triggers on the recordings table
(the sync's INSERT … ON CONFLICT DO UPDATE fires them like any insert or update). The search asks
it for candidate ids and checks them with the same LIKE as before, so the results are unchanged.
When the SQLite build has no FTS5 or no trigram tokenizer, this logs a warning and creates nothing;
the search checks for the table and triggers on each use and scans without them.

Caveat (SQLite): Django alters a SQLite table by building a new one and dropping the old, which
drops the triggers. A later migration that alters recordings_recording on SQLite must run
`install_sqlite` again (import it from here); until then the search sees the triggers missing and
falls back to the scan (tests/browsing/test_search.py fails, so it does not go unnoticed).
"""

import logging

from django.db import DatabaseError, migrations, transaction

logger = logging.getLogger(__name__)

PG_INDEX = "rec_conference_trgm_idx"
PG_INDEX_SQL = (
    f'CREATE INDEX IF NOT EXISTS {PG_INDEX} ON "recordings_recording" '
    'USING gin ((UPPER("conference_name"::text)) gin_trgm_ops)'
)
# Also named in recordings/browsing/search.py, which checks they exist before using them.
FTS_TABLE = "recordings_conference_fts"
FTS_TRIGGERS = ("recordings_conference_fts_ai", "recordings_conference_fts_au", "recordings_conference_fts_ad")


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        install_postgresql(schema_editor)
    elif vendor == "sqlite":
        install_sqlite(schema_editor)


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {PG_INDEX}")
    elif vendor == "sqlite":
        uninstall_sqlite(schema_editor)


def install_postgresql(schema_editor):
    connection = schema_editor.connection
    try:
        with transaction.atomic(using=connection.alias):  # a savepoint: a failure leaves the migration usable
            with connection.cursor() as cursor:
                cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
                cursor.execute(
                    "SELECT 1 FROM pg_opclass WHERE opcname = 'gin_trgm_ops' AND pg_opclass_is_visible(oid)"
                )
                if cursor.fetchone() is None:
                    raise DatabaseError("pg_trgm is installed in a schema outside the search_path")
    except DatabaseError as exc:
        logger.warning(
            "No index for the conference name search: the pg_trgm extension is not available (%s). "
            "The search works without it, by scanning the table. To add the index later, have the "
            "database owner or a superuser run: CREATE EXTENSION pg_trgm; %s;",
            first_line(exc),
            PG_INDEX_SQL,
        )
        return
    schema_editor.execute(PG_INDEX_SQL)


def first_line(exc):
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def install_sqlite(schema_editor):
    """(Re)create the FTS table and its triggers, and fill it from the recordings table."""
    connection = schema_editor.connection
    uninstall_sqlite(schema_editor)
    try:
        with transaction.atomic(using=connection.alias):
            schema_editor.execute(f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(conference_name, tokenize='trigram')")
    except DatabaseError as exc:
        logger.warning(
            "No index for the conference name search: this SQLite (%s) has no FTS5 trigram tokenizer (%s). "
            "The search works without it, by scanning the table.",
            connection.Database.sqlite_version,
            exc,
        )
        return
    ai, au, ad = FTS_TRIGGERS
    statements = [
        f"INSERT INTO {FTS_TABLE} (rowid, conference_name) "
        "SELECT id, conference_name FROM recordings_recording WHERE conference_name <> ''",
        # Only named recordings are indexed. OR REPLACE: an insert never fails on a stale entry.
        f"""CREATE TRIGGER {ai} AFTER INSERT ON recordings_recording WHEN new.conference_name <> ''
        BEGIN
            INSERT OR REPLACE INTO {FTS_TABLE} (rowid, conference_name) VALUES (new.id, new.conference_name);
        END""",
        # The sync's upsert sets every column: only a changed name touches the index.
        f"""CREATE TRIGGER {au} AFTER UPDATE OF id, conference_name ON recordings_recording
        WHEN old.conference_name IS NOT new.conference_name OR old.id IS NOT new.id
        BEGIN
            DELETE FROM {FTS_TABLE} WHERE rowid = old.id;
            INSERT OR REPLACE INTO {FTS_TABLE} (rowid, conference_name)
                SELECT new.id, new.conference_name WHERE new.conference_name <> '';
        END""",
        f"""CREATE TRIGGER {ad} AFTER DELETE ON recordings_recording WHEN old.conference_name <> ''
        BEGIN
            DELETE FROM {FTS_TABLE} WHERE rowid = old.id;
        END""",
    ]
    for sql in statements:
        schema_editor.execute(sql)


def uninstall_sqlite(schema_editor):
    for trigger in FTS_TRIGGERS:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    schema_editor.execute(f"DROP TABLE IF EXISTS {FTS_TABLE}")


class Migration(migrations.Migration):
    dependencies = [
        ("recordings", "0006_present_recordings_index"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards, elidable=False),
    ]
