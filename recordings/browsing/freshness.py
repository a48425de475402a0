"""How fresh a cached figure is: the data version that cached counts are kept by, and how many
recordings arrived above a view's first row since it was drawn ("N new")."""

from functools import lru_cache

from django.db import connection
from django.db.models import F, FloatField, Model, Q, QuerySet, Subquery
from django.db.models.expressions import Combinable, OrderBy
from django.db.models.functions import Cast

from recordings.models import AuditEvent, DataChange, Recording, SyncRun

# What an auditor does that changes which rows a filter shows (a hold: the Legal hold filter's),
# told by its audit event. A note counts too, as every write does: no filter reads notes yet, and
# one that does needs no change here.
CHANGING_ACTIONS = [
    AuditEvent.Action.REVIEW,
    AuditEvent.Action.FLAG,
    AuditEvent.Action.CLEAR_REVIEW,
    AuditEvent.Action.DELETE,
    AuditEvent.Action.HOLD,
    AuditEvent.Action.RELEASE,
    AuditEvent.Action.NOTE,
    AuditEvent.Action.AUDIO_CHANGED,  # the Audio filter's
]


def data_changed() -> None:
    """Move the data version: called by every write of recordings or transcripts that leaves no audit
    event (the sync's and a callback's row writer, the gone check, a transcript stored or replaced).
    An insert, not a counter's update, so that concurrent callbacks do not queue on one row."""
    DataChange.objects.create()


def forget_old_changes() -> None:
    """Only the newest change counts: the others go (the scheduler's daily job)."""
    newest = DataChange.objects.order_by("-pk").values_list("pk", flat=True).first()
    if newest is not None:
        DataChange.objects.filter(pk__lt=newest).delete()


def data_version() -> str | None:
    """Changes whenever the rows a count sees may have. What moves it, all of it:
    the newest sync run (none yet: no caching), the newest `data_changed()` (every write of
    recordings or transcripts), and the latest audit event of each of CHANGING_ACTIONS (an auditor's
    review mark, hold placed or lifted, deletion, note). tests/browsing/test_data_version.py walks each path.

    One query; each action's latest event is its own index lookup (audit_action_idx), so the
    plays and downloads that fill the log are never scanned; the newest run and change are the last
    entries of their indexes. Written out once (`data_version_sql`): built by the ORM on every page
    it took 2.4 ms, of a table page's 25.
    """
    with connection.cursor() as cursor:
        cursor.execute(data_version_sql(), CHANGING_ACTIONS)
        row = cursor.fetchone()
    return repr(row) if row else None  # no sync yet: rows that came another way, so no caching


@lru_cache(maxsize=1)
def data_version_sql() -> str:
    quote = connection.ops.quote_name

    def latest(model: type[Model], order: str, where: str = "") -> str:
        return f"(SELECT {quote('id')} FROM {quote(model._meta.db_table)}{where} ORDER BY {order} DESC LIMIT 1)"

    events = [latest(AuditEvent, quote("at"), f" WHERE {quote('action')} = %s") for _ in CHANGING_ACTIONS]
    columns = ", ".join([quote("id"), latest(DataChange, quote("id")), *events])
    return f"SELECT {columns} FROM {quote(SyncRun._meta.db_table)} ORDER BY {quote('started_at')} DESC LIMIT 1"


NEW_COUNT_BOUND = 100  # "more than 99 new" says enough


def newest_stored() -> int:
    """The id of the latest recording stored: the table asks what came after it (`count_new_above`)."""
    return Recording.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def first_row_and_newest_stored(queryset: QuerySet[Recording]) -> tuple[int | None, int]:
    """The id of a view's first row (None when it is empty) and `newest_stored()`, in one query."""
    newest = Subquery(Recording.objects.order_by("-pk").values("pk")[:1])
    row = queryset.annotate(newest_stored=newest).values_list("pk", "newest_stored").first()
    return row if row is not None else (None, newest_stored())


def count_new_above(queryset: QuerySet[Recording], *, since: int, first_shown: int | None) -> int:
    """How many of a view's recordings were stored after row `since` and come before its row
    `first_shown` in the view's order (what reloading it puts above the rows it showed), up to
    NEW_COUNT_BOUND. A recording stored late with an old add_time (a restore, a sync filling in
    the past) lands further down, and is not new to the reader.

    Cheap however large the view: the rows stored after `since` are a few at the end of the
    primary key, and the first row shown is read by its key.
    """
    above = queryset if first_shown is None else ahead_of_row(queryset, pk=first_shown)
    return above.filter(pk__gt=since).order_by().values("pk")[:NEW_COUNT_BOUND].count()


def ahead_of_row(queryset: QuerySet[Recording], *, pk: int) -> QuerySet[Recording]:
    """The rows of `queryset` that its order puts before row `pk`, NULLs where the database sorts
    them; all of them if that row has left the view (nothing to place them against)."""
    default = (queryset.model._meta.ordering or ()) if queryset.query.default_ordering else ()
    ordering = queryset.query.order_by or default
    keys = [sort_key(item) for item in ordering]
    names = {f"sort_key_{i}": expression for i, (expression, _, _) in enumerate(keys)}
    # A float (a transcript's rank is PostgreSQL's real) is read and compared as double precision:
    # a real read back as a parameter is not equal to itself, and ties would be lost.
    resolved = queryset.annotate(**names).query.annotations
    names = {
        name: Cast(expression, FloatField()) if isinstance(resolved[name].output_field, FloatField) else expression
        for name, expression in names.items()
    }
    keyed = queryset.annotate(**names)
    anchor = keyed.filter(pk=pk).values(*names).first()
    if anchor is None:
        return queryset
    ahead, ties = Q(pk__in=[]), Q()
    for name, (_, descending, nulls_first) in zip(names, keys):
        value = anchor[name]
        if value is None:
            before = Q(pk__in=[]) if nulls_first else Q(**{f"{name}__isnull": False})
            equal = Q(**{f"{name}__isnull": True})
        else:
            before = Q(**{f"{name}__{'gt' if descending else 'lt'}": value})
            if nulls_first:
                before |= Q(**{f"{name}__isnull": True})
            equal = Q(**{name: value})
        ahead |= ties & before
        ties &= equal
    return keyed.filter(ahead)


def sort_key(item: str | Combinable) -> tuple[Combinable, bool, bool]:
    """(expression, descending, NULLs first) of one item of a queryset's order_by."""
    expression: Combinable
    nulls_first: bool | None
    nulls_last: bool | None
    if isinstance(item, str):
        expression, descending, nulls_first, nulls_last = F(item.lstrip("-")), item.startswith("-"), None, None
    elif isinstance(item, OrderBy):
        expression, descending = item.expression, item.descending
        nulls_first, nulls_last = item.nulls_first, item.nulls_last
    else:
        expression, descending, nulls_first, nulls_last = item, False, None, None
    if not (nulls_first or nulls_last):
        # PostgreSQL sorts NULL above every value, SQLite below.
        nulls_first = descending == (connection.vendor == "postgresql")
    return expression, descending, bool(nulls_first)
