"""Whether a SQLite full-text index is there to search: its FTS5 table and the triggers keeping it.

The migrations make these tables and triggers only where SQLite has what they need, and a later
migration that rebuilds a table on SQLite drops its triggers; a search without them would miss
rows, so each search asks first (one look at sqlite_master, microseconds) and says once in the
log when its index is missing.
"""

import logging
from dataclasses import dataclass

from django.db import connection

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SqliteIndex:
    """An FTS5 table kept up to date by three triggers named after it (_ai, _au, _ad)."""

    table: str
    name: str  # as the log names it: "conference name index"
    when_missing: str  # what a search does without it: "searching by scan"
    migration: str  # where it is made: "recordings/migrations/0007_conference_name_search.py"

    @property
    def objects(self) -> tuple[str, ...]:
        """The table and its triggers, as sqlite_master names them."""
        return (self.table, f"{self.table}_ai", f"{self.table}_au", f"{self.table}_ad")


# The indexes found missing and logged so far: each is logged once per process.
_logged_missing: set[SqliteIndex] = set()


def sqlite_index_present(index: SqliteIndex) -> bool:
    """Whether the index's table and all its triggers exist; the first time one is found missing, a warning."""
    present = sqlite_objects_exist(index.objects)
    if not present and index not in _logged_missing:
        _logged_missing.add(index)
        logger.warning(
            "The %s (%s and its triggers) is missing or incomplete: %s. See %s.",
            index.name,
            index.table,
            index.when_missing,
            index.migration,
        )
    return present


def sqlite_objects_exist(names: tuple[str, ...]) -> bool:
    """Whether every one of these SQLite tables and triggers exists: one look at sqlite_master."""
    with connection.cursor() as cursor:
        placeholders = ", ".join(["%s"] * len(names))
        cursor.execute(f"SELECT count(*) FROM sqlite_master WHERE name IN ({placeholders})", names)
        return cursor.fetchone()[0] == len(names)
