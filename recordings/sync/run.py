"""Keeps the local copy of the account's recordings true to Vobiz: one run of the sync.

A run takes the sync's lock, records itself as a SyncRun, has `walk.Sync` walk the list, and
records how it ended (a failure with its one-line reason); a run that wrote a good share of the
table refreshes the planner's statistics. A first import builds some indexes after its rows
(indexes.py) and, on SQLite, counts the usage figures once at its end (usage_summary.py). A sync
never deletes a row: a recording missing from a completed full walk and confirmed gone by Vobiz
(404) is only marked gone.
"""

import logging

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.utils import timezone
from tqdm import tqdm

from recordings.formatting import one_line
from recordings.locks import DatabaseLock, LockHeld, LockLost
from recordings.models import Recording, SyncRun
from recordings.sync.indexes import build_missing, defer_for_first_import
from recordings.sync.store import tuned_for_the_sync
from recordings.sync.walk import Sync, SyncError, SyncOptions
from recordings.usage_summary import ensure_installed, pause_for_first_import
from recordings.vobiz_account import client_from_settings
from vobiz.client import VobizClient, VobizError

logger = logging.getLogger(__name__)

LOCK_NAME = "sync_recordings"
# Pages in flight are twice this, and those that arrive together are stored with one query on their
# ids: 64 pages of 100 stay within SQLite's 32,766 parameters. More would hardly help against one API.
MAX_WORKERS = 32
# A run that stored more than this share of the table refreshes the planner's statistics: right
# after a first sync, PostgreSQL planned page 50 of 200,000 rows at 175 ms instead of 32 ms.
ANALYZE_SHARE = 0.1


def sync_recordings(
    options: SyncOptions | None = None, client: VobizClient | None = None, progress: bool = False
) -> SyncRun:
    """Run one sync and return its SyncRun; raise SyncError with a one-line reason on failure."""
    options = options or SyncOptions()
    if not 1 <= options.workers <= MAX_WORKERS:
        raise SyncError(f"--workers must be between 1 and {MAX_WORKERS}")
    try:
        client = client or client_from_settings()
    except VobizError as exc:
        raise SyncError(f"{exc} Set them in the environment or in .env.") from None
    lock = DatabaseLock(LOCK_NAME)
    try:
        lock.acquire()
    except LockHeld as exc:
        raise SyncError(str(exc)) from None
    except DatabaseError as exc:
        raise SyncError(f"the database is unavailable: {one_line(exc)}") from None
    try:
        SyncRun.objects.filter(status=SyncRun.Status.RUNNING).update(
            status=SyncRun.Status.FAILED,
            finished_at=timezone.now(),
            error="interrupted: the process stopped before finishing",
        )
        run = SyncRun.objects.create(
            mode=SyncRun.Mode.FULL if options.full else SyncRun.Mode.INCREMENTAL,
            scope={k: v for k, v in options.filters.items() if v},
            started_at=timezone.now(),
            owner=lock.owner,
        )
        with tqdm(unit=" rec", disable=not progress, dynamic_ncols=True) as bar:
            try:
                finish_first_import()  # what a run killed during a first import left undone
                if not options.scoped and defer_for_first_import():
                    pause_for_first_import(connections[DEFAULT_DB_ALIAS])
                with tuned_for_the_sync():
                    Sync(client, run, options, lock, bar).run()
            except BaseException as exc:  # KeyboardInterrupt too: the run must say it failed
                reason = describe_failure(exc)
                unbuilt = finish_first_import()  # told after the run's own reason, never instead
                fail(run, f"{reason}; {unbuilt}" if unbuilt else reason)
                if isinstance(exc, Exception):
                    raise SyncError(run.error) from None
                raise
            finish_first_import()  # a failure is logged; the sync and usage pages say what is missing
        finish(run, SyncRun.Status.SUCCEEDED)
        refresh_statistics_after(run)
        return run
    finally:
        try:
            lock.release()
        except DatabaseError:
            pass  # it expires by itself


def finish_first_import() -> str:
    """Build the indexes a first import deferred and put back the usage figures' triggers it
    dropped, where missing; "" or why either failed, logged. A failure never fails or stops a sync,
    whose rows are stored all the same: the next one tries again (a sync that could not run until
    the disk had room for an index would leave the table out of date as well)."""
    failures = []
    for what, finish in (
        ("its indexes", build_missing),
        ("the usage figures' triggers", lambda: ensure_installed(connections[DEFAULT_DB_ALIAS])),
    ):
        try:
            finish()
        except DatabaseError as exc:
            failures.append(f"{what}: {one_line(exc)}")
    if not failures:
        return ""
    reason = f"what a first import deferred was not built ({'; '.join(failures)})"
    logger.error("%s; the next sync builds it", reason)
    return reason


def fail(run: SyncRun, reason: str) -> None:
    finish(run, SyncRun.Status.FAILED, reason)
    refresh_statistics_after(run)


def finish(run: SyncRun, status: str, error: str = "") -> None:
    run.status = status
    run.error = error
    run.finished_at = timezone.now()
    try:
        run.save()
    except DatabaseError:
        logger.error("could not record the end of sync run %s", run.pk)


def refresh_statistics_after(run: SyncRun) -> None:
    """ANALYZE the recordings table when this run wrote a good share of it, so the pages that
    follow are planned on statistics that know the rows (autovacuum may take many minutes)."""
    written = run.created + run.updated
    if not written:
        return
    try:
        if written <= ANALYZE_SHARE * Recording.objects.count():
            return
        connection = connections[DEFAULT_DB_ALIAS]
        table = connection.ops.quote_name(Recording._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {table}")
    except DatabaseError as exc:
        logger.warning("could not refresh the planner's statistics: %s", one_line(exc))


def describe_failure(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    if isinstance(exc, VobizError | LockLost | SyncError):
        return one_line(exc)
    if isinstance(exc, DatabaseError):
        return f"database error: {one_line(exc)}"
    return f"{type(exc).__name__}: {one_line(exc)}"
