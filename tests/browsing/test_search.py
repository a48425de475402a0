"""The search by conference name: the rows of a case-insensitive substring match, from an index.

PostgreSQL: a trigram GIN index on UPPER(conference_name). SQLite: an FTS5 trigram table kept by
triggers. Both are made by migration *_conference_name_search; see its docstring.
"""

import logging
import sys
from datetime import datetime, timedelta, timezone

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.test.utils import CaptureQueriesContext

from recordings import full_text
from recordings.browsing import counting
from recordings.browsing import search as browsing_search
from recordings.browsing.freshness import data_changed
from recordings.browsing.search import CONFERENCE_FTS_TABLE, CONFERENCE_INDEX
from recordings.models import Recording, SyncRun
from recordings.sync.normalise import normalise
from recordings.sync.store import store_recordings
from tests.factories import api_object, make_recording, transcribe

pytestmark = pytest.mark.django_db

PG_INDEX = "rec_conference_trgm_idx"
postgresql_only = pytest.mark.skipif("connection.vendor != 'postgresql'", reason="PostgreSQL's index")
sqlite_only = pytest.mark.skipif("connection.vendor != 'sqlite'", reason="SQLite's index")

NAMES = [
    "Quarterly Review Bridge",
    "quarterly-review",
    "100% sync",
    "100 sync",
    "1000 sync",
    "a_b team",
    "axb team",
    'say "hi" all',
    "NEAR(a b) OR c*",
    "back\\slash",
    "Ümit Café",
    "ümit café",
    "ops-bridge-042",
    "",
]
QUERIES = [
    "quarterly review",
    "QUARTERLY",
    "rly rev",
    "100%",
    "0%",
    "a_b",
    "_",
    "%",
    '"hi"',
    'say "',
    '"',
    "NEAR(a",
    "OR c*",
    "*",
    "back\\s",
    "\\",
    "Ümit",
    "ümit",
    "CAFÉ",
    "ab",
    "e b",
    "bridge-04",
    "no such name",
]


def found(text):
    return set(
        browsing_search.search(Recording.objects.all(), text=text).recordings.values_list("conference_name", flat=True)
    )


def contains(text):
    """What the search found before it had an index: Django's icontains, a scan."""
    return set(Recording.objects.filter(conference_name__icontains=text).values_list("conference_name", flat=True))


@pytest.fixture
def named():
    for name in NAMES:
        make_recording(recording_type="conference", conference_name=name)


def upsert(**overrides):
    store_recordings([normalise(api_object(**overrides))], now=datetime.now(timezone.utc))


@pytest.mark.parametrize("text", QUERIES)
def test_the_same_rows_as_a_case_insensitive_substring_scan(named, text):
    assert found(text) == contains(text)


def test_case_is_ignored_and_wildcards_are_literal(named):
    assert found("quarterly REVIEW") == {"Quarterly Review Bridge"}
    assert found("QUARTERLY") == {"Quarterly Review Bridge", "quarterly-review"}
    assert found("100%") == {"100% sync"}
    assert found("0%") == {"100% sync"}  # shorter than a trigram: the scan, with the same escaping
    assert found("a_b") == {"a_b team"}
    assert found('"hi"') == {'say "hi" all'}
    assert found("OR c*") == {"NEAR(a b) OR c*"}  # FTS5 query syntax in the text is just text
    assert found("back\\s") == {"back\\slash"}
    assert found("bridge") == {"Quarterly Review Bridge", "ops-bridge-042"}


def test_the_index_follows_inserts_updates_upserts_and_deletes():
    recording = make_recording(recording_type="conference", conference_name="Alpha Standup")
    assert found("alpha") == {"Alpha Standup"}
    Recording.objects.filter(pk=recording.pk).update(conference_name="Beta Standup")
    assert found("alpha") == set()
    assert found("beta") == {"Beta Standup"}
    Recording.objects.filter(pk=recording.pk).update(conference_name="")
    assert found("standup") == set()
    Recording.objects.filter(pk=recording.pk).update(conference_name="Gamma Standup")
    assert found("gamma") == {"Gamma Standup"}

    # The sync's INSERT … ON CONFLICT DO UPDATE: a new row, then the same row renamed.
    upsert(recording_id="rec-upserted", conference_name="Delta Review")
    assert found("delta") == {"Delta Review"}
    upsert(recording_id="rec-upserted", conference_name="Epsilon Review")
    assert found("delta") == set()
    assert found("epsilon") == {"Epsilon Review"}
    upsert(recording_id="rec-upserted", conference_name="Epsilon Review", recording_format="wav")  # name unchanged
    assert found("epsilon") == {"Epsilon Review"}

    Recording.objects.filter(recording_id="rec-upserted").delete()
    recording.delete()
    assert found("review") == set()
    assert found("gamma") == set()


def test_names_stored_by_a_sync_are_found(synced):
    names = list(Recording.objects.exclude(conference_name="").values_list("conference_name", flat=True).distinct()[:5])
    assert names
    for name in names:
        assert found(name) == contains(name) == {name}
        assert found(name[2:-2].upper()) == contains(name[2:-2].upper())


def test_the_page_finds_a_conference_by_part_of_its_name(support_client, named):
    response = support_client.get("/", {"q": "review brid"})
    assert [row.record.conference_name for row in response.context["table"].page.object_list] == [
        "Quarterly Review Bridge"
    ]


# -- SQLite: the FTS5 trigram table -------------------------------------------------------------------


@sqlite_only
def test_sqlite_search_reads_the_trigram_table(named):
    assert full_text.sqlite_index_present(CONFERENCE_INDEX), "the migration made no FTS5 table or its triggers are gone"
    queryset = browsing_search.search(Recording.objects.all(), text="review brid").recordings
    sql, params = queryset.query.sql_with_params()
    assert CONFERENCE_FTS_TABLE in sql
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        plan = " / ".join(row[3] for row in cursor.fetchall())
    assert f"SCAN {CONFERENCE_FTS_TABLE} VIRTUAL TABLE" in plan, plan
    assert "USING INTEGER PRIMARY KEY" in plan, plan


@sqlite_only
def test_sqlite_search_scans_when_a_trigger_is_missing(named, monkeypatch, caplog):
    """A migration that rebuilds the table on SQLite drops its triggers: the search must not miss rows."""
    monkeypatch.setattr(full_text, "_logged_missing", set())
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER recordings_conference_fts_au")  # undone with the test's transaction
    Recording.objects.filter(conference_name="ops-bridge-042").update(conference_name="ops-bridge-043")
    with caplog.at_level(logging.WARNING, logger="recordings"):
        assert found("bridge-043") == {"ops-bridge-043"}
        sql = str(browsing_search.search(Recording.objects.all(), text="bridge-043").recordings.query)
    assert CONFERENCE_FTS_TABLE not in sql
    assert "conference name index" in caplog.text


# -- PostgreSQL: the trigram GIN index ----------------------------------------------------------------


@postgresql_only
def test_postgresql_has_the_trigram_index():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND indexname = %s", [PG_INDEX]
        )
        row = cursor.fetchone()
    assert row is not None, "no trigram index: was the pg_trgm extension unavailable to the migration?"
    assert "USING gin (upper((conference_name)::text) gin_trgm_ops)" in row[0]


@postgresql_only
def test_postgresql_search_can_use_the_trigram_index(named):
    # No order and no other filter: another index could serve those; here only the name can be served.
    queryset = browsing_search.search(Recording.objects.order_by(), text="review brid").recordings
    sql, params = queryset.query.sql_with_params()
    assert 'UPPER("recordings_recording"."conference_name"::text) LIKE UPPER(' in sql  # the index's expression
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a few rows: make the planner's choice deterministic
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert PG_INDEX in plan, plan


@postgresql_only
@pytest.mark.parametrize("text", ["qa", "a-b", "0%", "--", "é1"])
def test_postgresql_text_without_a_trigram_is_not_sent_to_the_index(named, text):
    """pg_trgm finds no trigram in "%qa%": it would read its whole index (seconds at 1M rows)."""
    sql = str(browsing_search.search(Recording.objects.all(), text=text).recordings.query)
    assert "STRPOS(UPPER(" in sql
    assert " LIKE " not in sql


@postgresql_only
def test_migration_without_pg_trgm_warns_and_the_search_still_works(named, caplog):
    """A database user who may not create the extension: no index, a warning, no failed migration."""
    migration = search_migration_module()
    with connection.cursor() as cursor:
        cursor.execute("DROP EXTENSION pg_trgm CASCADE")  # and the index; all undone with the test's transaction
        cursor.execute("CREATE ROLE search_test_no_privileges NOLOGIN")
        cursor.execute("SET LOCAL ROLE search_test_no_privileges")  # not the database owner: no CREATE on it
    with caplog.at_level(logging.WARNING, logger="recordings"), connection.schema_editor() as editor:
        migration.forwards(None, editor)
    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")
        cursor.execute("SELECT count(*) FROM pg_indexes WHERE indexname = %s", [PG_INDEX])
        assert cursor.fetchone()[0] == 0
    assert "pg_trgm extension is not available" in caplog.text
    assert "CREATE EXTENSION pg_trgm" in caplog.text
    assert found("review brid") == {"Quarterly Review Bridge"}


# -- the migration --------------------------------------------------------------------------------------


def search_migration():
    loader = MigrationLoader(connection)
    [key] = [key for key in loader.disk_migrations if key[0] == "recordings" and key[1].endswith("_name_search")]
    return loader.disk_migrations[key]


def search_migration_module():
    return sys.modules[type(search_migration()).__module__]


@pytest.mark.django_db(transaction=True)
def test_the_migration_reverses_and_applies_again_over_existing_rows():
    migration = search_migration()
    [parent] = [dep for dep in migration.dependencies if dep[0] == "recordings"]
    make_recording(recording_type="conference", conference_name="Zeta Bridge")
    try:
        call_command("migrate", "recordings", parent[1], verbosity=0)
        assert not index_objects()
        assert found("zeta") == {"Zeta Bridge"}
    finally:
        call_command("migrate", "recordings", verbosity=0)
    assert index_objects()
    assert found("zeta") == {"Zeta Bridge"}  # rows stored before the index are in it
    Recording.objects.filter(conference_name="Zeta Bridge").update(conference_name="Eta Bridge")
    assert found("zeta") == set()
    assert found("eta bri") == {"Eta Bridge"}


def index_objects():
    """The index's database objects that exist: the GIN index, or the FTS table and its triggers."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT indexname FROM pg_indexes WHERE indexname = %s", [PG_INDEX])
        else:
            names = CONFERENCE_INDEX.objects
            cursor.execute(f"SELECT name FROM sqlite_master WHERE name IN ({', '.join(['%s'] * len(names))})", names)
        return {row[0] for row in cursor.fetchall()}


# -- a page of a conference search ------------------------------------------------------------------


def page_of(client, params):
    with CaptureQueriesContext(connection) as captured:
        response = client.get("/", params)
    rows = [record.recording_id for record in response.context["table"].page_records]
    page_sql = [q["sql"] for q in captured if "AS MATERIALIZED" in q["sql"]]
    return rows, page_sql, len(captured)


@pytest.fixture
def synced_once(db):
    SyncRun.objects.create(mode="full", status="succeeded", started_at=datetime.now(timezone.utc), pages=1)


@postgresql_only
def test_few_conference_matches_are_read_first_then_sorted(auditor_client, synced_once, monkeypatch):
    for n in range(30):
        make_recording(recording_type="conference", conference_name=f"ops-bridge-{n % 3}")
    expected = list(
        Recording.objects.filter(conference_name="ops-bridge-1")
        .order_by("-add_time", "-id")
        .values_list("recording_id", flat=True)
    )
    rows, materialized, queries = page_of(auditor_client, {"q": "bridge-1"})
    assert rows == expected  # the same rows in the table's order, holds and masks marked as usual
    assert materialized and "ORDER BY" in materialized[0].rsplit(")", 1)[-1]  # sorted outside the CTE

    # Beyond the bound (not counted exactly) the table's own order walks, as before, in as many queries.
    monkeypatch.setattr(counting, "COUNT_BOUND", 5)
    rows, materialized, more_queries = page_of(auditor_client, {"q": "bridge-2", "per_page": 25})
    assert len(rows) == 10 and not materialized
    assert more_queries == queries


@sqlite_only
def test_sqlite_reads_a_conference_search_in_the_tables_order(auditor_client, synced_once):
    """SQLite before 3.35 does not parse AS MATERIALIZED; its trigram table serves the search anyway."""
    for n in range(6):
        make_recording(recording_type="conference", conference_name=f"ops-bridge-{n % 3}")
    rows, materialized, _ = page_of(auditor_client, {"q": "bridge-1"})
    assert len(rows) == 2 and not materialized


@pytest.fixture
def bridges(synced_once):
    now = datetime.now(timezone.utc)
    for n in range(120):
        make_recording(
            recording_type="conference",
            conference_name=f"ops-bridge-{n % 2}",
            add_time=(now - timedelta(minutes=n * 7 % 41)).isoformat(),
            recording_duration_ms=1000 + (n * 13 % 40) * 10,
            from_number=f"9198000{n:05d}",
        )


@pytest.mark.parametrize("who", ["auditor_client", "support_client"])
@pytest.mark.parametrize("sort", ["", "add_time", "recording_duration_ms", "-recording_duration_ms", "-from_number"])
@pytest.mark.parametrize("page", [1, 3])
def test_matches_read_first_are_the_rows_of_the_tables_order(request, who, sort, page, bridges, monkeypatch):
    client = request.getfixturevalue(who)
    params = {"q": "bridge-1", "page": page, **({"sort": sort} if sort else {})}
    read_first, materialized, _ = page_of(client, params)
    assert bool(materialized) == (connection.vendor == "postgresql")
    monkeypatch.setattr(browsing_search, "matches_first", lambda queryset: queryset)
    cache.clear()
    walked, _, _ = page_of(client, params)
    assert len(read_first) == (25 if page == 1 else 10) and read_first == walked


def test_a_conference_search_with_words_said_keeps_best_first_and_the_snippets(auditor_client, synced_once):
    """The CTE's plain select of the matches would drop the ranked order and the "Said" snippets."""
    for n, text in enumerate(["refund maybe", "refund refund refund please", "nothing here refund refund"]):
        recording = make_recording(recording_type="conference", conference_name=f"ops-bridge-{n}")
        transcribe(recording.recording_id, text)
    data_changed()
    with CaptureQueriesContext(connection) as captured:
        response = auditor_client.get("/", {"q": "ops-brid", "transcript": "refund"})
    records = response.context["table"].page_records
    assert [record.conference_name for record in records] == ["ops-bridge-1", "ops-bridge-2", "ops-bridge-0"]
    assert all("refund" in record.matched.snippet for record in records)
    assert not any("AS MATERIALIZED" in q["sql"] for q in captured)
