"""The usage page's figures kept as they change, so that the page reads a few thousand rows rather
than every recording and transcript (at a million recordings its all-time aggregates took 0.5-0.8 s
each on PostgreSQL, the transcription charges by month 0.1-0.3 s).

Three tables, kept by triggers on the tables they add up, so that every writer is counted whatever
its path (the sync's hand-written upsert, ORM updates, deletions, erasures, a bulk load):

- UsageTotal: the recordings still at Vobiz (neither deleted nor gone) per type and format: count,
  duration, storage days, storage amount and rates.
- UsageSlot: the same recordings per quarter hour of add_time (UTC): count, duration, amount.
- TranscriptionSlot: the transcripts and their replaced versions per quarter hour of received_at
  (UTC): count and charge.

The rows of a key add up to its figures: the triggers only INSERT change rows (folded false), one
a key and statement on PostgreSQL, one a key and row on SQLite; no trigger locks a row another
writer may want, so the summaries add no lock wait nor deadlock between writers (a sync page and a
deletion used to deadlock on a shared total row). Every minute the scheduler's `fold` adds the
change rows up into the one folded row of their key (a partial unique index) and deletes them:
the only writer of folded rows but a recount. Readers add up all the rows of a key, in the one
query they ran before, so their figures are those of one snapshot.

Since 1979 every time zone's offset is a whole number of quarter hours (the last exceptions:
Monrovia, -0:44:30 through 1971, and Kiritimati's -10:40 until 1979), so a viewer's days and months
of the figures kept (all since) are whole slots; +5:30, +5:45 and +12:45 included.

PostgreSQL: statement-level triggers with transition tables (one grouped INSERT per statement and
summary, of the rows whose counted columns changed only), and on TRUNCATE a recount. SQLite: row
triggers. A migration that rebuilds a counted table on SQLite drops its triggers: after `migrate`,
`after_migrate` (post_migrate) installs them again and recounts when one is missing or not as
defined here (2-4 s at a million recordings; docs/performance.md), and does nothing otherwise.
A first import on SQLite goes without them, and recounts once at its end
(`pause_for_first_import`). `flush` may empty a summary before the table it counts: after it, a
recount (of empty tables).
tests/auditing/test_usage_summary.py compares the kept figures with a recount in Python after
syncs, deletions, erasures and every other writer, folded and not.
"""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.recorder import MigrationRecorder

MIGRATION = ("recordings", "0031_usage_summary")
Sql = Callable[[str], str]  # an SQL expression of one row, given the row's name


def present(row: str) -> str:
    return f"{row}.deleted_at IS NULL AND {row}.gone_at IS NULL"


def always(row: str) -> str:
    return "true"


def quarter_hour(column: str) -> Callable[[str, str], str]:
    """The quarter hour (UTC) a row's `column` falls in, as the vendor writes it."""

    def slot(row: str, vendor: str) -> str:
        if vendor == "postgresql":  # whatever the session's time zone
            return (
                f"date_trunc('hour', {row}.{column}, 'UTC') "
                f"+ floor(extract(minute FROM {row}.{column} AT TIME ZONE 'UTC') / 15) * interval '15 minutes'"
            )
        return (
            f"strftime('%Y-%m-%d %H:', {row}.{column}) "
            f"|| printf('%02d', CAST(strftime('%M', {row}.{column}) AS integer) / 15 * 15) || ':00'"
        )

    return slot


def plain(column: str) -> Callable[[str, str], str]:
    return lambda row, vendor: f"{row}.{column}"


def added(column: str) -> Sql:
    return lambda row: f"coalesce({row}.{column}, 0)"


def known(column: str) -> Sql:
    return lambda row: f"(CASE WHEN {row}.{column} IS NULL THEN 0 ELSE 1 END)"


def one(row: str) -> str:
    return "1"


@dataclass(frozen=True)
class Summary:
    table: str
    keys: dict[str, Callable[[str, str], str]]  # column: its value for a row, by vendor
    sums: dict[str, Sql]  # column: what one row adds to it
    counts_row: Sql  # whether a row with its key is counted (beyond the source's own condition)


@dataclass(frozen=True)
class Source:
    table: str
    counted: Sql  # whether a row counts at all
    columns: tuple[str, ...]  # the columns whose change changes a figure
    summaries: tuple[Summary, ...]


RECORDING_SUMS: dict[str, Sql] = {
    "count": one,
    "duration_ms": added("recording_duration_ms"),
    "storage_days": added("recording_storage_duration"),
    "amount": added("monthly_recording_storage_amount"),
    "rate_sum": added("recording_storage_rate"),
    "rate_count": known("recording_storage_rate"),
}
TOTALS = Summary(
    "recordings_usagetotal",
    {"recording_type": plain("recording_type"), "recording_format": plain("recording_format")},
    RECORDING_SUMS,
    always,
)
SLOTS = Summary(
    "recordings_usageslot",
    {"slot": quarter_hour("add_time")},
    {name: RECORDING_SUMS[name] for name in ("count", "duration_ms", "amount")},
    lambda row: f"{row}.add_time IS NOT NULL",
)
TRANSCRIPTION = Summary(
    "recordings_transcriptionslot",
    {"slot": quarter_hour("received_at")},
    {"count": one, "charge": added("charge")},
    always,
)
SUMMARIES = (TOTALS, SLOTS, TRANSCRIPTION)
SOURCES = (
    Source(
        "recordings_recording",
        present,
        (
            "deleted_at",
            "gone_at",
            "recording_type",
            "recording_format",
            "add_time",
            "recording_duration_ms",
            "recording_storage_duration",
            "monthly_recording_storage_amount",
            "recording_storage_rate",
        ),
        (TOTALS, SLOTS),
    ),
    Source("recordings_transcript", always, ("received_at", "charge"), (TRANSCRIPTION,)),
    Source("recordings_transcriptversion", always, ("received_at", "charge"), (TRANSCRIPTION,)),
)
EVENTS = ("insert", "update", "delete")


def grouped(summary: Summary, rows: str, vendor: str) -> str:
    """`rows` (a subquery, each row with a `sign`, as `r`) added up by the summary's key, as its
    columns; the keys whose figures they leave unchanged left out."""
    keys = ", ".join(f"{key('r', vendor)} AS {column}" for column, key in summary.keys.items())
    sums = {name: f"sum(r.sign * {value('r')})" for name, value in summary.sums.items()}
    unchanged = " AND ".join(f"{value} = 0" for value in sums.values())
    return (
        f"SELECT {keys}, {', '.join(f'{value} AS {name}' for name, value in sums.items())} FROM {rows} AS r "
        f"WHERE {summary.counts_row('r')} GROUP BY {', '.join(str(n + 1) for n in range(len(summary.keys)))} "
        f"HAVING NOT ({unchanged})"
    )


def change(summary: Summary, rows: str, vendor: str) -> str:
    """Add `rows` to `summary` as new change rows, one a key: an INSERT of new rows only, which
    locks no row another writer may want."""
    columns = ", ".join((*summary.keys, *summary.sums))
    return f"INSERT INTO {summary.table} ({columns}) {grouped(summary, rows, vendor)}"


def fold_into(summary: Summary, rows: str) -> str:
    """Add the grouped `rows` (with the summary's columns) to the folded row of each key, in key
    order. (SQLite's upsert after a SELECT wants a WHERE clause.)"""
    keys = ", ".join(summary.keys)
    add = ", ".join(f"{name} = {summary.table}.{name} + excluded.{name}" for name in summary.sums)
    return (
        f"INSERT INTO {summary.table} ({keys}, {', '.join(summary.sums)}, folded) "
        f"SELECT {keys}, {', '.join(f'sum({name})' for name in summary.sums)}, true FROM {rows} AS f WHERE true "
        f"GROUP BY {keys} ORDER BY {keys} ON CONFLICT ({keys}) WHERE folded DO UPDATE SET {add}"
    )


def name(source: Source, event: str) -> str:
    return f"usage_summary_{source.table.removeprefix('recordings_')}_{event}"


def pg_functions(source: Source) -> dict[str, tuple[str, str]]:
    """Each trigger's function body and the trigger's clauses after its name, by its name."""
    columns = ", ".join(source.columns)
    # An update's changed rows, each counted out as it was and in as it is, from one join of the
    # transition tables by id (their row counts are unknown to the planner, which estimates 1: a
    # semi-join per side made nested loops of 100 x 50 x 99 rows, 140 ms a page of 100).
    changed = (
        f"SELECT v.* FROM old_rows AS o JOIN new_rows AS n ON n.id = o.id CROSS JOIN LATERAL "
        f"(VALUES ({', '.join(f'n.{c}' for c in source.columns)}, 1), "
        f"({', '.join(f'o.{c}' for c in source.columns)}, -1)) AS v({columns}, sign) "
        f"WHERE ({', '.join(f'o.{c}' for c in source.columns)}) IS DISTINCT FROM "
        f"({', '.join(f'n.{c}' for c in source.columns)}) AND {source.counted('v')}"
    )
    rows = {
        "insert": f"SELECT {columns}, 1 AS sign FROM new_rows AS n WHERE {source.counted('n')}",
        "delete": f"SELECT {columns}, -1 AS sign FROM old_rows AS o WHERE {source.counted('o')}",
        "update": changed,
    }
    transitions = {
        "insert": "NEW TABLE AS new_rows",
        "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "delete": "OLD TABLE AS old_rows",
    }
    functions = {}
    for event in EVENTS:
        # One statement: the rows read once, then each summary's INSERT (a data-modifying WITH).
        *first, last = (change(summary, "r", "postgresql") for summary in source.summaries)
        body = f"WITH r AS MATERIALIZED ({rows[event]})" + "".join(f", s{n} AS ({u})" for n, u in enumerate(first))
        functions[name(source, event)] = (
            f"\nBEGIN\n{body}\n{last};\nRETURN NULL;\nEND ",
            f"AFTER {event.upper()} ON {source.table} REFERENCING {transitions[event]} FOR EACH STATEMENT",
        )
    recounts = ";\n".join(
        statement for summary in source.summaries for statement in recount_statements(summary, "postgresql")
    )
    functions[name(source, "truncate")] = (
        f"\nBEGIN\n{recounts};\nRETURN NULL;\nEND ",
        f"AFTER TRUNCATE ON {source.table} FOR EACH STATEMENT",
    )
    return functions


def pg_statements(source: Source) -> list[str]:
    return [
        statement
        for trigger, (body, when) in pg_functions(source).items()
        for statement in (
            f"CREATE OR REPLACE FUNCTION {trigger}() RETURNS trigger LANGUAGE plpgsql AS $${body}$$",
            f"CREATE TRIGGER {trigger} {when} EXECUTE FUNCTION {trigger}()",
        )
    ]


def sqlite_statements(source: Source) -> list[str]:
    def row(of: str, sign: int) -> str:
        columns = ", ".join(f"{of}.{column} AS {column}" for column in source.columns)
        return f"(SELECT {columns}, {sign} AS sign WHERE {source.counted(of)})"

    def trigger(event: str, steps: list[str], when: str = "") -> str:
        body = "".join(f"{step};\n" for step in steps)
        return f"CREATE TRIGGER {name(source, event)} AFTER {event.upper()} ON {source.table} {when}\nBEGIN\n{body}END"

    def changes(rows: str) -> list[str]:
        return [change(summary, rows, "sqlite") for summary in source.summaries]

    changed = " OR ".join(f"old.{column} IS NOT new.{column}" for column in source.columns)
    both = f"(SELECT * FROM {row('old', -1)} UNION ALL SELECT * FROM {row('new', 1)})"
    return [
        trigger("insert", changes(row("new", 1))),
        trigger("update", changes(both), when=f"WHEN {changed}"),
        trigger("delete", changes(row("old", -1))),
    ]


def recount_statements(summary: Summary, vendor: str) -> list[str]:
    """Empty `summary` and add up its sources again, as folded rows."""
    rows = " UNION ALL ".join(
        f"SELECT {', '.join(source.columns)}, 1 AS sign FROM {source.table} AS p WHERE {source.counted('p')}"
        for source in SOURCES
        if summary in source.summaries
    )
    columns = ", ".join((*summary.keys, *summary.sums))
    return [
        f"DELETE FROM {summary.table}",
        f"INSERT INTO {summary.table} ({columns}, folded) "
        f"SELECT {columns}, true FROM ({grouped(summary, f'({rows})', vendor)}) AS g WHERE true",
    ]


def trigger_names(connection: BaseDatabaseWrapper) -> list[tuple[str, str]]:
    """(table, trigger) of every trigger the summaries need on this database."""
    events = (*EVENTS, "truncate") if connection.vendor == "postgresql" else EVENTS
    return [(source.table, name(source, event)) for source in SOURCES for event in events]


def uninstall(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        for table, trigger in trigger_names(connection):
            if connection.vendor == "postgresql":
                cursor.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")
                cursor.execute(f"DROP FUNCTION IF EXISTS {trigger}()")
            else:
                cursor.execute(f"DROP TRIGGER IF EXISTS {trigger}")


def definitions(vendor: str) -> list[str]:
    return [
        statement
        for source in SOURCES
        for statement in (pg_statements(source) if vendor == "postgresql" else sqlite_statements(source))
    ]


def installed(connection: BaseDatabaseWrapper) -> bool:
    """Whether every trigger is there as this code defines it: on PostgreSQL each trigger and its
    function's text, on SQLite each trigger's text."""
    names = [trigger for _, trigger in trigger_names(connection)]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            expected = {trigger: body for source in SOURCES for trigger, (body, _) in pg_functions(source).items()}
            cursor.execute("SELECT proname, prosrc FROM pg_proc WHERE proname = ANY(%s)", [names])
            functions = dict(cursor.fetchall())
            cursor.execute("SELECT DISTINCT tgname FROM pg_trigger WHERE tgname = ANY(%s)", [names])
            return functions == expected and len(cursor.fetchall()) == len(names)
        expected = {statement.split()[2]: statement for statement in definitions("sqlite")}
        places = ", ".join(["%s"] * len(names))
        cursor.execute(f"SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name IN ({places})", names)
        return dict(cursor.fetchall()) == expected


def recount(connection: BaseDatabaseWrapper) -> None:
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Until this commits, no writer adds a change row nor folds: a fold committing during
            # the recount would keep its new folded rows beside the recount's, and a writer's
            # trigger waits here, so that its rows are counted either by this snapshot or by its
            # change row, once. SQLite's transactions take the database's write lock at their
            # start (transaction_mode IMMEDIATE, in the settings).
            cursor.execute(
                f"LOCK TABLE {', '.join(summary.table for summary in SUMMARIES)} IN SHARE ROW EXCLUSIVE MODE"
            )
        for summary in SUMMARIES:
            for statement in recount_statements(summary, connection.vendor):
                cursor.execute(statement)


def install(connection: BaseDatabaseWrapper) -> None:
    """(Re)create the triggers and recount the summaries, in one transaction."""
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        uninstall(connection)
        for statement in definitions(connection.vendor):
            cursor.execute(statement)
        recount(connection)


def after_migrate(using: str, **kwargs: Any) -> None:
    """post_migrate, once the summaries' migration is applied. After `migrate` (given its plan),
    the triggers are put back and the summaries recounted only if a trigger is missing or not as
    defined here (a table rebuild on SQLite drops them): a `migrate` with the triggers in place
    locks no table. After `flush` (no plan), which may empty a summary before the table it counts
    (SQLite's triggers then add the deleted rows to the emptied summary), a recount of the empty
    tables, and the triggers put back if missing (a first import killed on SQLite leaves them so)."""
    connection = connections[using]
    if (
        connection.vendor not in ("postgresql", "sqlite")
        or MIGRATION not in MigrationRecorder(connection).applied_migrations()
    ):
        return
    if not ensure_installed(connection) and kwargs.get("plan") is None:
        recount(connection)


def ensure_installed(connection: BaseDatabaseWrapper) -> bool:
    """Install the triggers and recount if one is missing or not as defined here; whether it did."""
    if installed(connection):
        return False
    install(connection)
    return True


def pause_for_first_import(connection: BaseDatabaseWrapper) -> None:
    """Drop the triggers for a first import into an empty table, on SQLite. Its row triggers
    insert two change rows a recording, into tables of their own indexes (with the call id's
    index, 0.66× the CPU of storing at a million); the recount that puts them back costs 2.6-3.5 s
    at a million (docs/performance.md). Until then the kept figures lag (the usage page says so):
    `ensure_installed` after the import, or after a run that was killed, at the start of the next.
    PostgreSQL's triggers run once a statement: kept."""
    if connection.vendor == "sqlite":
        uninstall(connection)


# Per database, how many loads of summary rows have been recounted: a load's rows each queue the
# recount at commit with the count then, and only the first to run does it.
recounted_loads: dict[str, int] = defaultdict(int)


def after_load(sender: type[models.Model], raw: bool, using: str, **kwargs: Any) -> None:
    """post_save of a summary row. A row `loaddata` restores (raw) would add its figures to those
    the triggers counted of the recordings loaded with it: once the load commits, a recount."""
    if not raw:
        return
    load = recounted_loads[using]

    def recount_once() -> None:
        if recounted_loads[using] == load:
            recounted_loads[using] += 1
            recount(connections[using])

    transaction.on_commit(recount_once, using=using)


def fold(using: str = DEFAULT_DB_ALIAS) -> None:
    """Fold the change rows the triggers added into one row a key, in one transaction: the only
    writer of folded rows (besides a recount), so no trigger waits on it. On PostgreSQL one
    statement deletes the change rows and adds up those it deleted (one snapshot: a change
    committed meanwhile is neither deleted nor added, and waits for the next fold). On SQLite, one
    writer at a time, the rows up to the highest id read are added up, then deleted."""
    connection = connections[using]
    with transaction.atomic(using=using), connection.cursor() as cursor:
        for summary in SUMMARIES:
            columns = ", ".join((*summary.keys, *summary.sums))
            if connection.vendor == "postgresql":
                cursor.execute(
                    f"WITH f AS (DELETE FROM {summary.table} WHERE NOT folded RETURNING {columns}) "
                    + fold_into(summary, "f")
                )
                continue
            cursor.execute(f"SELECT max(id) FROM {summary.table} WHERE NOT folded")
            (last,) = cursor.fetchone()
            if last is None:
                continue
            pending = f"{summary.table} WHERE NOT folded AND id <= {int(last)}"
            cursor.execute(fold_into(summary, f"(SELECT {columns} FROM {pending})"))
            cursor.execute(f"DELETE FROM {pending}")
