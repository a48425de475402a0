"""The indexes a first import builds after its rows: named as the model names them, rebuilt when
missing or INVALID, built without blocking writes on PostgreSQL, and missed aloud on the sync page."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from recordings.models import Recording
from recordings.sync.indexes import (
    CALL_UUID_INDEX,
    DEFERRED,
    build_missing,
    defer_for_first_import,
    deferred_indexes,
    missing_indexes,
    usable_index_names,
)

WARNING = "Slow until the next sync rebuilds their indexes: searches by"


def test_every_deferred_index_is_one_of_the_models():
    assert set(DEFERRED) <= {index.name for index in Recording._meta.indexes}


@pytest.mark.django_db
def test_the_call_uuid_index_is_the_one_the_migrations_made_and_built_again_the_same():
    """Deferred on SQLite by the name Django gave call_uuid's db_index: a Django that names it
    otherwise fails here, not silently in a first import that scans for calls."""
    assert CALL_UUID_INDEX in usable_index_names(connection)
    if connection.vendor != "sqlite":
        assert CALL_UUID_INDEX not in {index.name for index in deferred_indexes(connection)}
        return

    def definition():
        with connection.cursor() as cursor:
            cursor.execute("SELECT sql FROM sqlite_master WHERE name = %s", [CALL_UUID_INDEX])
            return cursor.fetchone()

    made = definition()
    assert defer_for_first_import()
    assert definition() is None
    assert CALL_UUID_INDEX in build_missing()
    assert definition() == made


@pytest.mark.django_db
def test_the_sync_page_warns_while_an_index_is_missing(support_client):
    assert WARNING not in support_client.get("/sync/").content.decode()
    assert defer_for_first_import()  # as a first import killed before its end leaves the table
    searches = "number, duration"
    if connection.vendor == "sqlite":
        searches += ", call id (and a call&#x27;s page)"
    assert f"{WARNING} {searches}." in support_client.get("/sync/").content.decode()
    assert sorted(build_missing()) == sorted(index.name for index in deferred_indexes(connection))
    assert WARNING not in support_client.get("/sync/").content.decode()


@pytest.mark.django_db(transaction=True)
def test_on_postgresql_they_are_built_concurrently_and_an_invalid_one_is_built_again():
    if connection.vendor != "postgresql":
        pytest.skip("CREATE INDEX CONCURRENTLY and INVALID indexes are PostgreSQL's")
    with connection.cursor() as cursor:  # as a concurrent build killed halfway leaves it
        cursor.execute(
            "UPDATE pg_index SET indisvalid = false WHERE indexrelid = %s::regclass",
            [connection.ops.quote_name("rec_from_idx")],
        )
    assert [index.name for index in missing_indexes()] == ["rec_from_idx"]

    with CaptureQueriesContext(connection) as queries:
        assert build_missing() == ["rec_from_idx"]
    statements = [query["sql"] for query in queries.captured_queries]
    assert any(sql.startswith('DROP INDEX CONCURRENTLY IF EXISTS "rec_from_idx"') for sql in statements)
    assert any(sql.startswith('CREATE INDEX CONCURRENTLY "rec_from_idx"') for sql in statements)
    assert missing_indexes() == []
