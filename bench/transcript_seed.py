"""Transcripts for the page benchmark's recordings: what a contact centre's calls say, generated.

Every recording whose row id ends in 1, 4 or 7 gets one (30 % of them: 300,000 of 1,000,000), of
40 to 120 words: the words of any call (Zipf-weighted), one of 24 topics ("refund", "delivery",
…: each in about 4 % of transcripts) and, in one transcript of 50, a city (each in about 0.01 %).
Deterministic: the same row gets the same text. The search cases then ask for a topic, a city, two
words together and a word nearly every call says.

Loaded in bulk with the full-text index built once afterwards: PostgreSQL's GIN index dropped and
created again around COPY (its generated tsvector column is computed as rows arrive); SQLite's FTS5
triggers dropped and the index rebuilt, through the migration's own install_sqlite.
"""

import importlib
import io
import random
import sys
import time
from datetime import UTC, datetime

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
CASES = {
    "a topic word": "refund",
    "a rare word": "Udaipur",
    "two words": "broken kettle",
    "a word nearly every call says": COMMON,
}
FILLER_WEIGHTS = [1 / (rank + 1) for rank in range(len(FILLER))]


def text_for(row_id):
    rng = random.Random(row_id)
    words = rng.choices(FILLER, FILLER_WEIGHTS, k=rng.randint(40, 120))
    words.insert(rng.randrange(len(words)), rng.choice(TOPICS))
    if rng.random() < 0.95:
        words.insert(rng.randrange(len(words)), COMMON)
    if rng.random() < 0.02:
        words.insert(rng.randrange(len(words)), rng.choice(CITIES))
    return " ".join(words)


def seeded(cursor):
    cursor.execute("SELECT count(*) FROM recordings_transcript")
    return cursor.fetchone()[0]


def seed(vendor, connection):
    """Adds the transcripts if the database has none; returns the count and the seconds it took."""
    started = time.perf_counter()
    with connection.cursor() as cursor:
        if seeded(cursor):
            return {"transcripts": seeded(cursor), "transcripts_reused": True}
        cursor.execute("SELECT id, recording_id, call_uuid FROM recordings_recording WHERE id % 10 IN (1, 4, 7)")
        rows = cursor.fetchall()
    now = datetime.now(UTC)
    print(f"Seeding {len(rows):,} transcripts…", file=sys.stderr, flush=True)
    if vendor == "postgresql":
        seed_postgresql(connection, rows, now)
    else:
        seed_sqlite(connection, rows, now)
    return {"transcripts": len(rows), "transcripts_s": round(time.perf_counter() - started, 2)}


COLUMNS = "recording_id, call_uuid, text, error, masked, masked_kinds, received_at, updated_at"


def seed_postgresql(connection, rows, now):
    migration = importlib.import_module("recordings.migrations.0010_transcripts")
    connection.ensure_connection()
    with connection.connection.cursor() as cursor:  # psycopg's own, for COPY; autocommit as Django keeps it
        cursor.execute(f"DROP INDEX IF EXISTS {migration.PG_INDEX}")
        with cursor.copy(f"COPY recordings_transcript ({COLUMNS}) FROM STDIN") as copy:
            buffer = io.StringIO()
            for at, (row_id, recording_id, call_uuid) in enumerate(rows):
                buffer.write(
                    f"{recording_id}\t{call_uuid}\t{text_for(row_id)}\t\tf\t[]\t{now.isoformat()}\t{now.isoformat()}\n"
                )
                if at % 10_000 == 9_999:
                    copy.write(buffer.getvalue())
                    buffer = io.StringIO()
            copy.write(buffer.getvalue())
        cursor.execute("SET maintenance_work_mem = '1GB'")
        cursor.execute(f"CREATE INDEX {migration.PG_INDEX} ON recordings_transcript USING gin ({migration.PG_COLUMN})")
        cursor.execute("VACUUM (ANALYZE) recordings_transcript")


def seed_sqlite(connection, rows, now):
    migration = importlib.import_module("recordings.migrations.0010_transcripts")
    stamp = str(now.replace(tzinfo=None))
    with connection.schema_editor() as editor:
        migration.uninstall_sqlite(editor)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO recordings_transcript ({COLUMNS}) VALUES (%s, %s, %s, '', 0, '[]', %s, %s)",
            [(recording_id, call_uuid, text_for(row_id), stamp, stamp) for row_id, recording_id, call_uuid in rows],
        )
    with connection.schema_editor() as editor:
        migration.install_sqlite(editor)  # builds the index of every stored transcript at once
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
