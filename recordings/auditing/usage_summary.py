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

Every time zone's offset is a whole number of quarter hours, so a viewer's days and months are
whole slots.

PostgreSQL: statement-level triggers with transition tables (one aggregated upsert per statement
and summary, of the rows whose counted columns changed only), and on TRUNCATE a recount. SQLite:
row triggers. A migration that rebuilds a counted table on SQLite drops its triggers, and `flush`
may empty a summary before the table it counts: after either, `after_migrate` (post_migrate)
installs the triggers again and recounts (2-4 s at a million recordings; docs/performance.md).
tests/auditing/test_usage_summary.py compares the kept figures with a recount in Python after
syncs, deletions, erasures and every other writer.

Two writers of one summary row wait for each other until the first commits; the rows are upserted
in key order, so two statements never lock the same two rows in opposite orders.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connections, transaction
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


def upsert(summary: Summary, rows: str, vendor: str) -> str:
    """Add `rows` (a subquery, each row with a `sign`, as `r`) to `summary`. In key order, so that
    two statements lock the rows they share in the same order. (SQLite's upsert after a SELECT
    wants a WHERE clause; its triggers take no table alias.)"""
    keys = ", ".join(key("r", vendor) for key in summary.keys.values())
    sums = {name: f"sum(r.sign * {value('r')})" for name, value in summary.sums.items()}
    unchanged = " AND ".join(f"{value} = 0" for value in sums.values())
    add = ", ".join(f"{name} = {summary.table}.{name} + excluded.{name}" for name in sums)
    return (
        f"INSERT INTO {summary.table} ({', '.join(summary.keys)}, {', '.join(sums)}) "
        f"SELECT {keys}, {', '.join(sums.values())} FROM {rows} AS r WHERE {summary.counts_row('r')} "
        f"GROUP BY {keys} HAVING NOT ({unchanged}) ORDER BY {keys} "
        f"ON CONFLICT ({', '.join(summary.keys)}) DO UPDATE SET {add}"
    )


def name(source: Source, event: str) -> str:
    return f"usage_summary_{source.table.removeprefix('recordings_')}_{event}"


def pg_statements(source: Source) -> list[str]:
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
    statements = []
    for event in EVENTS:
        # One statement: the rows read once, then each summary's upsert (a data-modifying WITH).
        *first, last = (upsert(summary, "r", "postgresql") for summary in source.summaries)
        body = f"WITH r AS MATERIALIZED ({rows[event]})" + "".join(f", s{n} AS ({u})" for n, u in enumerate(first))
        body += f"\n{last}"
        statements += [
            f"CREATE OR REPLACE FUNCTION {name(source, event)}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
            f"BEGIN\n{body};\nRETURN NULL;\nEND $$",
            f"CREATE TRIGGER {name(source, event)} AFTER {event.upper()} ON {source.table} "
            f"REFERENCING {transitions[event]} FOR EACH STATEMENT EXECUTE FUNCTION {name(source, event)}()",
        ]
    recounts = ";\n".join(
        statement for summary in source.summaries for statement in recount_statements(summary, "postgresql")
    )
    statements += [
        f"CREATE OR REPLACE FUNCTION {name(source, 'truncate')}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        f"BEGIN\n{recounts};\nRETURN NULL;\nEND $$",
        f"CREATE TRIGGER {name(source, 'truncate')} AFTER TRUNCATE ON {source.table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {name(source, 'truncate')}()",
    ]
    return statements


def sqlite_statements(source: Source) -> list[str]:
    def row(of: str, sign: int) -> str:
        columns = ", ".join(f"{of}.{column} AS {column}" for column in source.columns)
        return f"(SELECT {columns}, {sign} AS sign WHERE {source.counted(of)})"

    def trigger(event: str, steps: list[str], when: str = "") -> str:
        body = "".join(f"{step};\n" for step in steps)
        return f"CREATE TRIGGER {name(source, event)} AFTER {event.upper()} ON {source.table} {when}\nBEGIN\n{body}END"

    def upserts(rows: str) -> list[str]:
        return [upsert(summary, rows, "sqlite") for summary in source.summaries]

    changed = " OR ".join(f"old.{column} IS NOT new.{column}" for column in source.columns)
    return [
        trigger("insert", upserts(row("new", 1))),
        trigger("update", upserts(row("old", -1)) + upserts(row("new", 1)), when=f"WHEN {changed}"),
        trigger("delete", upserts(row("old", -1))),
    ]


def recount_statements(summary: Summary, vendor: str) -> list[str]:
    """Empty `summary` and add up its sources again."""
    statements = [f"DELETE FROM {summary.table}"]
    for source in SOURCES:
        if summary in source.summaries:
            rows = f"(SELECT *, 1 AS sign FROM {source.table} AS p WHERE {source.counted('p')})"
            statements.append(upsert(summary, rows, vendor))
    return statements


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


def install(connection: BaseDatabaseWrapper) -> None:
    """(Re)create the triggers and recount the summaries, in one transaction."""
    vendor = connection.vendor
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        uninstall(connection)
        for source in SOURCES:
            for statement in pg_statements(source) if vendor == "postgresql" else sqlite_statements(source):
                cursor.execute(statement)
        for summary in (TOTALS, SLOTS, TRANSCRIPTION):
            for statement in recount_statements(summary, vendor):
                cursor.execute(statement)


def after_migrate(using: str, **kwargs: Any) -> None:
    """post_migrate (after `migrate`, and after `flush`, which may empty the tables in any order):
    once the summaries' migration is applied, put their triggers back and recount them."""
    connection = connections[using]
    if (
        connection.vendor in ("postgresql", "sqlite")
        and MIGRATION in MigrationRecorder(connection).applied_migrations()
    ):
        install(connection)
