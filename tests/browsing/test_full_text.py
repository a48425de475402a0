"""The one check that a SQLite full-text index is whole, shared by the conference and transcript searches."""

import logging

import pytest
from django.db import connection

from recordings import full_text
from recordings.browsing.search import CONFERENCE_INDEX
from recordings.browsing.transcript_search import TRANSCRIPT_INDEX
from recordings.full_text import SqliteIndex, sqlite_index_present

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif("connection.vendor != 'sqlite'", reason="SQLite's FTS5 tables"),
]


@pytest.fixture(autouse=True)
def nothing_logged_yet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(full_text, "_logged_missing", set())


def test_an_index_names_its_table_and_triggers() -> None:
    assert CONFERENCE_INDEX.objects == (
        "recordings_conference_fts",
        "recordings_conference_fts_ai",
        "recordings_conference_fts_au",
        "recordings_conference_fts_ad",
    )


def test_the_migrated_indexes_are_present(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="recordings"):
        assert sqlite_index_present(CONFERENCE_INDEX)
        assert sqlite_index_present(TRANSCRIPT_INDEX)
    assert caplog.text == ""


def test_a_missing_trigger_is_logged_once_for_each_index(caplog: pytest.LogCaptureFixture) -> None:
    with connection.cursor() as cursor:  # undone with the test's transaction
        cursor.execute("DROP TRIGGER recordings_conference_fts_ad")
        cursor.execute("DROP TRIGGER recordings_transcript_fts_ai")
    with caplog.at_level(logging.WARNING, logger="recordings"):
        for _ in range(3):
            assert not sqlite_index_present(CONFERENCE_INDEX)
            assert not sqlite_index_present(TRANSCRIPT_INDEX)
    messages = [record.getMessage() for record in caplog.records]
    assert messages == [
        "The conference name index (recordings_conference_fts and its triggers) is missing or incomplete: "
        "searching by scan. See recordings/migrations/0007_conference_name_search.py.",
        "The transcript search index (recordings_transcript_fts and its triggers) is missing or incomplete: "
        "transcript search finds nothing. See recordings/migrations/0010_transcripts.py.",
    ]


def test_an_index_never_made_is_missing(caplog: pytest.LogCaptureFixture) -> None:
    never_made = SqliteIndex(table="no_such_fts", name="test index", when_missing="nothing", migration="none")
    with caplog.at_level(logging.WARNING, logger="recordings"):
        assert not sqlite_index_present(never_made)
    assert "The test index (no_such_fts and its triggers)" in caplog.text
