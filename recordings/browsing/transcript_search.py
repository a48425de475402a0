"""Reads of transcripts: the full-text search of what was said, and its highlighted matches.

The indexes are made by migration 0010_transcripts: on PostgreSQL a stored tsvector column with a
GIN index, searched with plainto_tsquery('english', …) and ranked by ts_rank; on SQLite an FTS5
table (porter stemmer), searched with the words as quoted terms and ranked by bm25. Both match
every word, stemmed ("refunds" finds "refund"), and rank the best match first.

How a search reads, so that it costs about a page whatever the words (see docs/performance.md):

- Words in at most RANKED_MATCHES transcripts are ranked from the transcripts alone, in a
  subquery that the planners keep apart, and only then joined to their recordings in that order,
  so the other filters are checked on as many matches as a page takes (not on every match).
- Words in more transcripts than that (a word nearly every call says) are not ranked: ranking
  hundreds of thousands of matches is the whole cost, and such a ranking says little. They are
  shown newest first, the table's own order, each recording checked for the words as the table
  reads it; the page says so. On SQLite, words in up to READ_ONCE_MATCHES transcripts are read
  from the index once for that check, rather than asked of it for each recording.
- Highlights are made for the page's rows only, in one more query.

Highlights are made by the database around private-use characters that stored text never holds
(masking removes them), then the snippet is escaped and only those become <mark>: a transcript
saying "<script>" shows as text.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import reduce
from hashlib import md5
from operator import or_
from typing import Any, cast

from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank
from django.core.cache import cache
from django.db import connection
from django.db.models import BooleanField, Exists, F, Func, OuterRef, Prefetch, Q, QuerySet, Subquery, TextField, Value
from django.db.models.expressions import Combinable
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django_cte import CTE, with_cte

from recordings.full_text import SqliteIndex, sqlite_index_present
from recordings.models import MASKED_KINDS, Recording, Transcript, TranscriptIndex, TranscriptVector

TRANSCRIPT_INDEX = SqliteIndex(
    table="recordings_transcript_fts",
    name="transcript search index",
    when_missing="transcript search finds nothing",
    migration="recordings/migrations/0010_transcripts.py",
)
START, STOP = "\ue000", "\ue001"
WORD = re.compile(r"[^\W_]+")
MAX_WORDS = 12
# Words in more transcripts than this are shown newest first rather than ranked (see above).
RANKED_MATCHES = 5_000
# On SQLite, words in more transcripts than this are looked up in the index for each recording
# walked rather than read from it once (see FullText.said_in): reading a common word's 285,000
# matches took 134 ms, where its page walks 83 recordings.
READ_ONCE_MATCHES = 25_000
# How long `known_matches` keeps what it counted.
KNOWN_MATCHES_SECONDS = 600
SNIPPET_WORDS = 24


@dataclass(frozen=True)
class Search:
    """The recordings whose transcript says every word, in the order the table shows them, and
    the same recordings in the form that counts them soonest."""

    recordings: QuerySet[Recording]
    counted: QuerySet[Recording]
    best_first: bool  # ranked; else newest first, as the table is


def count_bound(best_first: bool) -> int:
    """How far a search's page counts its recordings (see counting.summarise): a ranked search has
    at most RANKED_MATCHES, so its count is exact at once; one too common to rank counts as far as
    its page (each recording checked as the page checks it) and the page asks /count for the rest."""
    return RANKED_MATCHES if best_first else 0


def search_words(text: str) -> list[str]:
    return WORD.findall(text)[:MAX_WORDS]


def search(queryset: QuerySet[Recording], *, text: str) -> Search:
    """The recordings of `queryset` whose transcript says every word of `text`, each with its
    transcript as `matched`, whose `snippet` has the matches between START and STOP; ranked best
    match first (`transcript_rank`, higher is better) unless the words are too common to rank."""
    words = search_words(text)
    if not words or (connection.vendor != "postgresql" and not sqlite_index_present(TRANSCRIPT_INDEX)):
        return Search(queryset.none(), queryset.none(), best_first=True)
    full_text = FullText(words)
    # As an attribute of its own: a row read without this prefetch shows no snippet rather than
    # fetching its transcript.
    snippets = Prefetch("transcript", queryset=full_text.snippets(), to_attr="matched")
    matches = known_matches(words, full_text)
    if matches <= RANKED_MATCHES:
        ranked = CTE(full_text.matches(ranked=True).order_by("-score", "-transcript_id"), name="ranked_transcripts")
        recordings = joined(queryset, ranked).annotate(transcript_rank=ranked.col.score)
        recordings = recordings.order_by(ranked.col.score.desc(), ranked.col.transcript_id.desc())
        return Search(recordings.prefetch_related(snippets), recordings, best_first=True)
    walked = queryset.filter(Exists(full_text.said_in(OuterRef("recording_id"), walking=True, matches=matches)))
    if full_text.postgresql:
        counted = queryset.filter(Exists(full_text.said_in(OuterRef("recording_id"), walking=False, matches=matches)))
    else:  # from the index's matches, each joined to its recording: SQLite asks EXISTS row by row
        counted = joined(queryset, CTE(full_text.matches(ranked=False), name="matching_transcripts"))
    return Search(walked.prefetch_related(snippets), counted, best_first=False)


def known_matches(words: list[str], full_text: "FullText") -> int:
    """How many transcripts say the words, as far as the search's choices need to know: up to
    `full_text.matches_counted` (5,001 rows read for a common word, about 8 ms on PostgreSQL at
    300,000 transcripts), then kept for KNOWN_MATCHES_SECONDS for a page turn or the next search of the
    same words. A figure gone stale changes only the order shown or how the rows are read: the
    transcripts of a few minutes more do not make either slow, and the rows and their count are
    read afresh."""
    said = " ".join(words).lower()  # both indexes fold case
    key = "matches:" + md5(f"{connection.vendor}|{said}".encode(), usedforsecurity=False).hexdigest()
    counted = cache.get_or_set(key, lambda: full_text.matches_up_to(full_text.matches_counted), KNOWN_MATCHES_SECONDS)
    # get_or_set returns None only when its default is None: here it is the int just counted or kept.
    return cast(int, counted)


def joined(queryset: QuerySet[Recording], matches: CTE) -> QuerySet[Recording]:
    """The recordings of `queryset` that `matches` (transcript rows) name, in one join."""
    return with_cte(matches, select=matches.join(queryset, recording_id=matches.col.recording_id))


class FullText:
    """The words as each database's full-text index takes them: the one place its SQL is written."""

    def __init__(self, words: list[str]) -> None:
        self.postgresql = connection.vendor == "postgresql"
        if self.postgresql:
            self.query = SearchQuery(" ".join(words), config="english")  # plainto_tsquery: words only
        else:
            self.terms = " ".join('"' + word.replace('"', '""') + '"' for word in words)  # no FTS5 syntax

    @property
    def matches_counted(self) -> int:
        """How far `known_matches` counts: to the most that are ranked, and on SQLite, whose index
        counts its matches without reading them, to the most that are read once (`said_in`)."""
        return RANKED_MATCHES + 1 if self.postgresql else READ_ONCE_MATCHES + 1

    def matches_up_to(self, limit: int) -> int:
        """How many transcripts say the words, but no more than `limit`, from the index."""
        matches: QuerySet[TranscriptVector] | QuerySet[TranscriptIndex]
        if self.postgresql:
            matches = TranscriptVector.objects.filter(search=self.query)
        else:
            matches = TranscriptIndex.objects.filter(query=self.terms)  # the index alone, no join
        return matches[:limit].count()

    def matches(self, *, ranked: bool) -> QuerySet[TranscriptVector | TranscriptIndex, Mapping[str, Any]]:
        """Every matching transcript's `transcript_id` and `recording_id`, and if `ranked` its
        `score` (higher is better)."""
        matches: QuerySet[TranscriptVector] | QuerySet[TranscriptIndex]
        score: Combinable
        if self.postgresql:
            matches = TranscriptVector.objects.filter(search=self.query)
            score = SearchRank(F("search"), self.query)
        else:
            matches = TranscriptIndex.objects.filter(query=self.terms).annotate(
                recording_id=F("transcript__recording_id")
            )
            score = -F("rank")  # bm25 is lower for a better match
        if ranked:
            return matches.annotate(score=score).values("transcript_id", "recording_id", "score")
        return matches.values("transcript_id", "recording_id")

    def said_in(
        self, recording_id: OuterRef, *, walking: bool, matches: int
    ) -> QuerySet[Transcript] | QuerySet[TranscriptIndex] | QuerySet[TranscriptVector]:
        """The transcript of the recording `recording_id` if it says the words. `walking`: asked of
        each recording in turn, as the table reads them in its order; else PostgreSQL's planner may
        as well read every match from the index first. `matches`: how many transcripts say them, as
        far as `known_matches` counted, which decides on SQLite how each recording is asked."""
        if not self.postgresql:
            if matches <= READ_ONCE_MATCHES:
                # The matches read from the index once (SQLite keeps the list for the statement),
                # each recording's transcript looked up in it: asking the index of each recording
                # costs about 15 µs, which at 12,000 matches of 300,000 (a topic word: 2,000
                # recordings walked for a page) was 29 ms against 12.
                said = TranscriptIndex.objects.filter(query=self.terms).values("transcript")
                return Transcript.objects.filter(recording_id=recording_id, pk__in=said)
            return TranscriptIndex.objects.filter(query=self.terms, transcript__recording_id=recording_id)
        if walking:
            # The function of @@ rather than the operator, so that the planner cannot make a GIN
            # index scan of every match out of it: its estimates for words said together are far
            # too low (458 for "broken kettle", said in 12,345 transcripts: 1.4 s instead of 45 ms).
            says = Func(F("search"), self.query, function="ts_match_vq", output_field=BooleanField())
            return TranscriptVector.objects.filter(says, recording_id=recording_id)
        return TranscriptVector.objects.filter(search=self.query, recording_id=recording_id)

    def snippets(self) -> QuerySet[Transcript]:
        """Transcripts with their `snippet`: for the rows of a page only."""
        transcripts = Transcript.objects.only("recording_id")
        if self.postgresql:
            snippet: Func = SearchHeadline(
                "text",
                self.query,
                config="english",
                start_sel=START,
                stop_sel=STOP,
                max_words=SNIPPET_WORDS,
                min_words=10,
                max_fragments=2,
                fragment_delimiter=" … ",
            )
            return transcripts.annotate(snippet=snippet)
        # FTS5's snippet() needs the MATCH of its row, and asked row by row (its rowid) rather than
        # joined: the planner would read every match first (250 ms for a word in 285,000 transcripts).
        snippet = Func(
            F("query"),  # the table's own hidden column: what FTS5's functions take first
            Value(0),
            Value(START),
            Value(STOP),
            Value(" … "),
            Value(SNIPPET_WORDS),
            function="snippet",
            output_field=TextField(),
        )
        of_row = TranscriptIndex.objects.filter(query=self.terms, transcript=OuterRef("pk")).annotate(snippet=snippet)
        return transcripts.annotate(snippet=Subquery(of_row.values("snippet")))


def highlighted(snippet: str | None) -> SafeString:
    """A snippet made by `search`, escaped, with its matches in <mark>."""
    text = escape(snippet or "")
    return mark_safe(text.replace(START, "<mark>").replace(STOP, "</mark>"))


def masked_recordings(queryset: QuerySet[Recording], kind: str = "") -> QuerySet[Recording]:
    """Recordings whose transcript had payment or identity data masked (of `kind`, one of
    MASKED_KINDS' labels, if given): for auditors to review."""
    masked = Q(transcript__masked=True)
    if kind:
        # Each kind is listed once, so it sits at one of the first len(MASKED_KINDS) places (a JSON
        # array's `contains` is not there on SQLite).
        masked &= reduce(or_, (Q(**{f"transcript__masked_kinds__{at}": kind}) for at in range(len(MASKED_KINDS))))
    return queryset.filter(masked)
