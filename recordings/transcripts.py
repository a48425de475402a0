"""Reads of transcripts: the full-text search of what was said, and its highlighted matches.

The indexes are made by migration 0010_transcripts: on PostgreSQL a stored tsvector column with a
GIN index, searched with plainto_tsquery('english', …) and ranked by ts_rank; on SQLite an FTS5
table (porter stemmer), searched with the words as quoted terms and ranked by bm25. Both match
every word, stemmed ("refunds" finds "refund"), and rank the best match first.

Highlights are made by the database around private-use characters that stored text never holds
(masking removes them), then the snippet is escaped and only those become <mark>: a transcript
saying "<script>" shows as text.
"""

import logging
import re

from django.db import connection
from django.db.models import BooleanField, F, FloatField, Q, QuerySet, TextField
from django.db.models.expressions import RawSQL
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from .models import Transcript
from .selectors import sqlite_objects_exist

logger = logging.getLogger(__name__)

FTS_TABLE = "recordings_transcript_fts"
FTS_OBJECTS = (
    FTS_TABLE,
    "recordings_transcript_fts_ai",
    "recordings_transcript_fts_au",
    "recordings_transcript_fts_ad",
)
START, STOP = "\ue000", "\ue001"
WORD = re.compile(r"[^\W_]+")
MAX_WORDS = 12
# A search's count joins a transcript to its recording per row: counted exactly up to here
# (a thousand joins, a few milliseconds), "more than" beyond, as the table's views do at 10,000.
COUNT_BOUND = 1_000
TRANSCRIPT = Transcript._meta.db_table  # the alias of the one join to it that `matching` makes (as FTS_TABLE)


def search_words(text: str) -> list[str]:
    return WORD.findall(text)[:MAX_WORDS]


def matching(queryset: QuerySet, text: str) -> QuerySet:
    """Recordings whose transcript says every word of `text`, best match first, each with
    `transcript_rank` (higher is better) and `transcript_snippet` (matches between START and STOP)."""
    words = search_words(text)
    if not words:
        return queryset.none()
    if connection.vendor == "postgresql":
        query, params = "plainto_tsquery('english', %s)", [" ".join(words)]
        hit = RawSQL(f'"{TRANSCRIPT}"."search" @@ {query}', params, output_field=BooleanField())
        queryset = queryset.filter(transcript__isnull=False).alias(transcript_hit=hit).filter(transcript_hit=True)
        rank = RawSQL(f'ts_rank("{TRANSCRIPT}"."search", {query})', params, output_field=FloatField())
        options = f'StartSel={START}, StopSel={STOP}, MaxWords=24, MinWords=10, MaxFragments=2, FragmentDelimiter=" … "'
        snippet = RawSQL(
            f'ts_headline(\'english\', "{TRANSCRIPT}"."text", {query}, %s)',
            [*params, options],
            output_field=TextField(),
        )
    else:
        if not sqlite_index_present():
            return queryset.none()
        terms = " ".join('"' + word.replace('"', '""') + '"' for word in words)  # words only, no FTS5 syntax
        # The FTS table joined, so that rank and snippet come from the query's one MATCH.
        queryset = queryset.filter(transcript__index_entry__query=terms)
        rank = -F("transcript__index_entry__rank")  # bm25 is lower for a better match
        snippet = RawSQL(f"snippet({FTS_TABLE}, 0, %s, %s, %s, 24)", [START, STOP, " … "], output_field=TextField())
    # Ties broken by the transcript's own id (the latest stored first), not the recording's time:
    # the transcripts then come ranked from their own table and only a page of them is joined
    # (PostgreSQL at a million recordings: 570 → 122 ms under load, for a word in 12,000 of them).
    return queryset.annotate(transcript_rank=rank, transcript_snippet=snippet).order_by(
        "-transcript_rank", "-transcript__id"
    )


def highlighted(snippet: str | None) -> SafeString:
    """A snippet made by `matching`, escaped, with its matches in <mark>."""
    text = escape(snippet or "")
    return mark_safe(text.replace(START, "<mark>").replace(STOP, "</mark>"))


def masked_recordings(queryset: QuerySet) -> QuerySet:
    """Recordings whose transcript had payment or identity data masked: for auditors to review."""
    return queryset.filter(Q(transcript__masked=True))


_missing_index_logged = False


def sqlite_index_present() -> bool:
    """Whether the FTS table and all its triggers exist (see migration 0010_transcripts)."""
    global _missing_index_logged
    present = sqlite_objects_exist(FTS_OBJECTS)
    if not present and not _missing_index_logged:
        _missing_index_logged = True
        logger.warning(
            "The transcript search index (%s and its triggers) is missing or incomplete: transcript search finds "
            "nothing. See recordings/migrations/0010_transcripts.py.",
            FTS_TABLE,
        )
    return present
