"""Transcripts, the nonces of accepted callbacks, and the full-text index of transcripts.

The index differs by database, so it is raw SQL that the model does not know about (as in
0007_conference_name_search):

PostgreSQL: a stored generated column `search`, to_tsvector('english', text), with a GIN index.
Stored, so ranking a match reads the vector rather than parsing the text again.

SQLite: an FTS5 table over the transcripts' text (an external-content table: the text is not
stored twice), with the porter stemmer as PostgreSQL's english configuration stems, kept up to
date by triggers. Without FTS5 this logs a warning and creates nothing; the search then says it is
unavailable rather than scanning every transcript. A later migration that alters
recordings_transcript on SQLite rebuilds the table and drops the triggers: it must run
`install_sqlite` again (recordings/browsing/transcript_search.py checks for them and warns).
"""

import logging

import django.db.models.deletion
from django.db import DatabaseError, migrations, models, transaction

logger = logging.getLogger(__name__)

# Also named in recordings/browsing/transcript_search.py.
PG_COLUMN = "search"
PG_INDEX = "transcript_search_idx"
FTS_TABLE = "recordings_transcript_fts"
FTS_TRIGGERS = ("recordings_transcript_fts_ai", "recordings_transcript_fts_au", "recordings_transcript_fts_ad")


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(
            f"ALTER TABLE recordings_transcript ADD COLUMN {PG_COLUMN} tsvector "
            "GENERATED ALWAYS AS (to_tsvector('english', text)) STORED"
        )
        schema_editor.execute(f"CREATE INDEX {PG_INDEX} ON recordings_transcript USING gin ({PG_COLUMN})")
    elif vendor == "sqlite":
        install_sqlite(schema_editor)


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE recordings_transcript DROP COLUMN IF EXISTS {PG_COLUMN}")
    elif vendor == "sqlite":
        uninstall_sqlite(schema_editor)


def install_sqlite(schema_editor):
    """(Re)create the FTS table and its triggers, and index the stored transcripts."""
    connection = schema_editor.connection
    uninstall_sqlite(schema_editor)
    try:
        with transaction.atomic(using=connection.alias):
            schema_editor.execute(
                f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(text, content='recordings_transcript', "
                "content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')"
            )
    except DatabaseError as exc:
        logger.warning(
            "No full-text index of transcripts: this SQLite (%s) has no FTS5 (%s). Searching transcripts is "
            "unavailable until it has; use PostgreSQL or a SQLite built with FTS5.",
            connection.Database.sqlite_version,
            exc,
        )
        return
    ai, au, ad = FTS_TRIGGERS
    statements = [
        f"INSERT INTO {FTS_TABLE} ({FTS_TABLE}) VALUES ('rebuild')",
        f"""CREATE TRIGGER {ai} AFTER INSERT ON recordings_transcript BEGIN
            INSERT INTO {FTS_TABLE} (rowid, text) VALUES (new.id, new.text);
        END""",
        f"""CREATE TRIGGER {au} AFTER UPDATE OF id, text ON recordings_transcript BEGIN
            INSERT INTO {FTS_TABLE} ({FTS_TABLE}, rowid, text) VALUES ('delete', old.id, old.text);
            INSERT INTO {FTS_TABLE} (rowid, text) VALUES (new.id, new.text);
        END""",
        f"""CREATE TRIGGER {ad} AFTER DELETE ON recordings_transcript BEGIN
            INSERT INTO {FTS_TABLE} ({FTS_TABLE}, rowid, text) VALUES ('delete', old.id, old.text);
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
        ('recordings', '0009_review_samples'),
    ]

    operations = [
        migrations.CreateModel(
            name='CallbackNonce',
            fields=[
                ('nonce', models.CharField(max_length=64, primary_key=True, serialize=False)),
                ('seen_at', models.DateTimeField(db_index=True)),
            ],
        ),
        migrations.CreateModel(
            name='Transcript',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('call_uuid', models.CharField(blank=True, max_length=128)),
                ('text', models.TextField(blank=True)),
                ('duration_seconds', models.DecimalField(blank=True, decimal_places=3, max_digits=12, null=True)),
                ('charge', models.DecimalField(blank=True, decimal_places=6, max_digits=16, null=True)),
                ('rate', models.DecimalField(blank=True, decimal_places=6, max_digits=16, null=True)),
                ('error', models.TextField(blank=True, help_text='Why Vobiz could not transcribe the recording.')),
                ('masked', models.BooleanField(default=False, help_text='Payment or identity data was masked in the text.')),
                ('masked_kinds', models.JSONField(blank=True, default=list)),
                ('received_at', models.DateTimeField()),
                ('updated_at', models.DateTimeField()),
                ('recording', models.OneToOneField(db_column='recording_id', db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='transcript', to='recordings.recording', to_field='recording_id')),
            ],
            options={
                'indexes': [models.Index(condition=models.Q(('masked', True)), fields=['recording'], name='transcript_masked_idx')],
            },
        ),
        migrations.CreateModel(
            name='TranscriptIndex',
            fields=[
                ('transcript', models.OneToOneField(db_column='rowid', db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, primary_key=True, related_name='index_entry', serialize=False, to='recordings.transcript')),
                ('query', models.TextField(db_column='recordings_transcript_fts')),
                ('rank', models.FloatField()),
            ],
            options={
                'db_table': 'recordings_transcript_fts',
                'managed': False,
            },
        ),
        migrations.RunPython(forwards, backwards, elidable=False),
    ]
