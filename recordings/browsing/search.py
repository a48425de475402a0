"""Finding recordings by what support staff type: a number as read out, a call id, a conference name."""

import re
from dataclasses import dataclass

from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL, Value
from django.db.models.functions import StrIndex, Upper
from django.db.models.lookups import GreaterThan
from django_cte import CTE, with_cte

from recordings.full_text import SqliteIndex, sqlite_index_present
from recordings.models import Recording

PHONE_QUERY = re.compile(r"^[\d\s+()./-]+$")


NATIONAL_DIGITS = 10  # an Indian number without its country code


def number_digits_query(typed: str) -> str:
    """The reversed digits to prefix-match for a number as someone typed or read it out.

    "+91 98765 43210", "919876543210", "09876543210" and "9876543210" all mean the same line, and
    "3210" is the last digits a customer reads out: all become "ends with these digits", at most
    the national part, so the country code may be there or not.
    """
    digits = re.sub(r"\D", "", typed).lstrip("0")
    return digits[-NATIONAL_DIGITS:][::-1]


def matching_number(field_prefix: str, typed: str) -> Q:
    """Numbers ending with the digits of `typed`, as a range on the reversed digits.

    A range rather than LIKE 'prefix%': SQLite never uses an index for Django's LIKE … ESCAPE,
    and PostgreSQL only with a pattern-ops index. Digits only, so "next prefix" is well defined.
    """
    reversed_digits = number_digits_query(typed)
    if not reversed_digits:
        return Q(pk__in=[])
    field = f"{field_prefix}_digits_reversed"
    query = Q(**{f"{field}__gte": reversed_digits})
    upper = next_prefix(reversed_digits)
    return query & Q(**{f"{field}__lt": upper}) if upper else query


def next_prefix(digits: str) -> str:
    """The smallest digit string after every string starting with `digits`: "4329" -> "433"."""
    stripped = digits.rstrip("9")
    if not stripped:
        return ""  # all nines: nothing sorts after them among digit strings
    return stripped[:-1] + str(int(stripped[-1]) + 1)


@dataclass(frozen=True)
class Found:
    recordings: QuerySet[Recording]
    # Part of a conference name: rows the trigram index finds in no order (see matches_first).
    by_substring: bool = False


def search(queryset: QuerySet[Recording], *, text: str) -> Found:
    """The recordings a search box's text means: a number (whole or its last digits), else a
    recording id or the start of a call or recording id, else part of a conference name."""
    text = text.strip()
    if not text:
        return Found(queryset)
    if PHONE_QUERY.match(text) and sum(c.isdigit() for c in text) >= 3:
        return Found(queryset.filter(matching_number("from", text) | matching_number("to", text)))
    ids = Q(recording_id=text) | starts_with("call_uuid", text) | starts_with("recording_id", text)
    if queryset.filter(ids).exists():
        return Found(queryset.filter(ids))
    # Only then a conference name: a substring, which a trigram index serves.
    return Found(queryset.filter(conference_name_contains(text)), by_substring=True)


def reads_matches_first(*, by_substring: bool, ranked: bool, known_few: bool) -> bool:
    """Whether a view's rows are read by `matches_first`: a conference-name search whose count is
    exact (at most the count's bound), on PostgreSQL, whose planner is the reason. Not on SQLite,
    whose versions before 3.35 do not parse the CTE's AS MATERIALIZED (migration 0007 supports
    them) and which plans the search from its trigram table anyway. Not with a words-said search
    either: its rows are ordered best first and carry their "Said" snippets, which the CTE's
    plain select of the matches would drop."""
    return by_substring and known_few and not ranked and connection.vendor == "postgresql"


def matches_first(queryset: QuerySet[Recording]) -> QuerySet[Recording]:
    """The rows of a substring search known to be few (its exact count), read all at once, then
    sorted: not walked in the table's order.

    PostgreSQL guesses a substring's matches from no statistics (10,069 of 10 million for
    "ops-bridge-333", which has 194), so for a page of newest first it walks the time index
    expecting a match every thousand rows: 1.1 million rows, 0.6-2 s. Read first (a materialized
    CTE, which no index orders), the matches come from the trigram index and their sort is a
    top-N of a few thousand at most: 22 ms.
    """
    matches = CTE(queryset.order_by(), name="matches", materialized=True)
    return with_cte(matches, select=matches.queryset())


# SQLite's trigram index of conference names and the triggers that keep it up to date, made by
# migration 0007_conference_name_search. PostgreSQL's is a plain index: nothing to name here.
CONFERENCE_FTS_TABLE = "recordings_conference_fts"
CONFERENCE_INDEX = SqliteIndex(
    table=CONFERENCE_FTS_TABLE,
    name="conference name index",
    when_missing="searching by scan",
    migration="recordings/migrations/0007_conference_name_search.py",
)


TRIGRAM = 3


TRIGRAM_WORD = re.compile(r"[^\W_]{3}")  # three letters or digits in a row: pg_trgm finds a trigram in them


def conference_name_contains(text: str) -> Q | GreaterThan:
    """Conference names containing `text`, ignoring case: the same rows as `icontains`, sooner.

    PostgreSQL: `icontains` compiles to UPPER("conference_name"::text) LIKE UPPER('%text%'), the
    expression of the trigram index rec_conference_trgm_idx (a scan where pg_trgm was unavailable).
    pg_trgm takes trigrams from the words of a pattern (letters and digits); with none, as in "qa",
    the index is read whole and every row checked, slower than the scan (1.1-5.9 s against 0.9 s at
    1M rows), and the planner cannot tell: text with no three letters or digits in a row gets the
    same test in a form the index does not serve, STRPOS(UPPER(name), UPPER(text)) > 0.
    SQLite: the FTS5 trigram table names the candidates, the names holding the text's trigrams in a
    row (the phrase "text": its case folding is broader than LIKE's, never narrower), and the LIKE
    of `icontains` keeps exactly the rows it kept before. Text shorter than a trigram: a scan.
    """
    contains = Q(conference_name__icontains=text)
    if connection.vendor == "postgresql" and not TRIGRAM_WORD.search(text):
        return GreaterThan(StrIndex(Upper("conference_name"), Upper(Value(text))), 0)
    if connection.vendor != "sqlite" or len(text) < TRIGRAM or not sqlite_index_present(CONFERENCE_INDEX):
        return contains
    phrase = '"' + text.replace('"', '""') + '"'  # a string: no FTS5 query syntax in the text
    candidates = RawSQL(f"SELECT rowid FROM {CONFERENCE_FTS_TABLE} WHERE {CONFERENCE_FTS_TABLE} MATCH %s", [phrase])
    return Q(pk__in=candidates) & contains


def starts_with(field: str, text: str) -> Q:
    """A prefix match an index answers: SQLite never uses one for Django's LIKE … ESCAPE, so there
    a range on the column's binary order; PostgreSQL has a pattern-ops index for LIKE."""
    if connection.vendor == "sqlite":
        return Q(**{f"{field}__gte": text, f"{field}__lt": text + "\U0010ffff"})
    return Q(**{f"{field}__startswith": text})
