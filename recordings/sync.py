"""Keeps the local copy of the account's recordings true to Vobiz.

The list is newest first and paged by offset. Each page, or the pages that arrived together, is
stored in one transaction with bulk upserts, so a run that dies keeps every page it stored; the
walk's progress is stored with the pages, so the next run resumes instead of starting over.
Recordings that arrive at the head while a walk pages through shift later pages down: a page then
repeats rows (harmless), the walk goes on past the total it planned for, rows that pages served out
of order skipped are read again (see Coverage), and a final pass over the head picks up what
arrived meanwhile.
A sync never deletes a row: a recording missing from a completed full walk and confirmed gone by
Vobiz (404) is only marked gone.
"""

import heapq
import logging
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, models, reset_queries, transaction
from django.utils import timezone
from tqdm import tqdm

from .locks import DatabaseLock, LockHeld, LockLost, owner_is_dead
from .models import SYNCED_FIELDS, Recording, SyncLock, SyncRun, SyncState
from .normalise import UnusableRecording, content_hash, normalise
from .vobiz import MAX_PAGE_SIZE, RecordingPage, VobizError, VobizNotFound, client_from_settings

logger = logging.getLogger(__name__)

LOCK_NAME = "sync_recordings"
# Pages in flight are twice this, and those that arrive together are stored with one query on their
# ids: 64 pages of 100 stay within SQLite's 32,766 parameters. More would hardly help against one API.
MAX_WORKERS = 32
UPDATED_FIELDS = [name for name in SYNCED_FIELDS if name not in ("recording_id", "first_synced_at")]


class SyncError(Exception):
    """A sync that could not run or finish; the message is one line for the operator."""


@dataclass
class SyncOptions:
    full: bool = False
    call_uuid: str = ""
    recording_type: str = ""
    workers: int = 4

    @property
    def scoped(self):
        return bool(self.call_uuid or self.recording_type)

    @property
    def filters(self):
        return {"call_uuid": self.call_uuid or None, "recording_type": self.recording_type or None}


@dataclass
class PageOutcome:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0

    @property
    def all_known(self):
        return self.created == 0 and self.updated == 0


def lock_holder():
    """Who holds the sync lock, if a live holder does; "" when a sync may start."""
    lock = SyncLock.objects.filter(name=LOCK_NAME, expires_at__gt=timezone.now()).first()
    if lock is None or owner_is_dead(lock.owner):
        return ""
    return f"{lock.owner}, since {lock.acquired_at:%H:%M:%S %Z}"


def sync_recordings(options=None, client=None, progress=False):
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
                Sync(client, run, options, lock, bar).run()
            except BaseException as exc:  # KeyboardInterrupt too: the run must say it failed
                reason = describe_failure(exc)
                finish(run, SyncRun.Status.FAILED, reason)
                if isinstance(exc, Exception):
                    raise SyncError(reason) from None
                raise
        finish(run, SyncRun.Status.SUCCEEDED)
        return run
    finally:
        try:
            lock.release()
        except DatabaseError:
            pass  # it expires by itself


def finish(run, status, error=""):
    run.status = status
    run.error = error
    run.finished_at = timezone.now()
    try:
        run.save()
    except DatabaseError:
        logger.error("could not record the end of sync run %s", run.pk)


def describe_failure(exc):
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    if isinstance(exc, VobizError | LockLost | SyncError):
        return one_line(exc)
    if isinstance(exc, DatabaseError):
        return f"database error: {one_line(exc)}"
    return f"{type(exc).__name__}: {one_line(exc)}"


def one_line(exc):
    return " ".join(str(exc).split())[:500] or type(exc).__name__


class Sync:
    def __init__(self, client, run, options, lock, bar):
        self.client = client
        self.run_record = run
        self.options = options
        self.lock = lock
        self.bar = bar
        self.state = None if options.scoped else SyncState.objects.get_or_create(pk=1)[0]
        connection = connections[DEFAULT_DB_ALIAS]
        if connection.vendor == "postgresql":
            # A page's commit need not wait for the disk: after a crash, the last pages are lost
            # together with the progress stored with them, in order, and the next run fetches
            # them again. Waiting for each flush made PostgreSQL the sync's bottleneck.
            with connection.cursor() as cursor:
                cursor.execute("SET synchronous_commit TO OFF")
        self.writer = RecordingWriter(connection)
        self.skipped_seen = set()

    def run(self):
        if self.options.full:
            self.walk(0, track_backfill=False)
            self.walk_head()
            self.mark_gone()
            if self.state is not None:
                self.save_backfill(None, 0)
        elif self.state is None:
            self.walk_head()
        elif self.state.backfill_offset == 0:
            self.walk(0, track_backfill=True)
            self.walk_head()
        else:
            total = self.walk_head()
            if self.state.backfill_offset is not None:
                shift = max(0, (total or 0) - self.state.backfill_total)
                # Back up a page in case recordings were deleted upstream meanwhile.
                resume = max(0, self.state.backfill_offset + shift - MAX_PAGE_SIZE)
                self.walk(resume, track_backfill=True)
                self.walk_head()

    # -- walking ------------------------------------------------------------------------------

    def fetch(self, offset, limit=MAX_PAGE_SIZE):
        return self.client.list_recordings(offset=offset, limit=limit, **self.options.filters)

    def walk_head(self):
        """Pages from the head until one holds nothing new; returns the first page's total."""
        offset, total = 0, None
        while True:
            page = self.fetch(offset)
            total = page.total_count if total is None else total
            outcome = self.store([page])
            if outcome.all_known or not page.objects or not page.has_next:
                return total
            offset += len(page.objects)

    def walk(self, start, track_backfill):
        """Store every page from `start` to the end of the list, `workers` pages at a time."""
        progress = Frontier(start)
        first = self.fetch(start)
        coverage = Coverage(start, first.total_count)
        self.store_walked([first], progress, coverage, track_backfill)
        step = len(first.objects)
        if not step or not first.has_next:
            if track_backfill:
                self.save_backfill(None, 0)
            return
        self.bar.total = first.total_count
        planned_end = first.total_count if first.total_count is not None else start + step
        offsets = iter(range(start + step, planned_end, step))

        with ThreadPoolExecutor(max_workers=self.options.workers, thread_name_prefix="vobiz-page") as pool:
            in_flight = {}

            def submit(offset, limit):
                in_flight[pool.submit(self.fetch, offset, limit)] = (offset, limit)

            for offset in offsets:
                submit(offset, step)
                if len(in_flight) >= self.options.workers * 2:
                    break
            try:
                while in_flight:
                    done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                    finished = sorted(((in_flight.pop(future), future) for future in done), key=lambda item: item[0])
                    # The pages that arrived meanwhile share one transaction: a commit per page was
                    # 13 % of the sync's CPU on SQLite. A page that failed does not cost the others:
                    # they are stored before its error is raised below.
                    arrived = [future.result() for _, future in finished if future.exception() is None]
                    self.store_walked(arrived, progress, coverage, track_backfill)
                    for (offset, limit), future in finished:
                        page = future.result()
                        got = len(page.objects)
                        if 0 < got < limit and offset + got < planned_end:
                            submit(offset + got, limit - got)  # Vobiz served less than asked: fill the gap
                        next_offset = next(offsets, None)
                        if next_offset is not None:
                            submit(next_offset, step)
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise

        # Recordings that arrived at the head meanwhile pushed the tail past the planned end.
        offset = max(planned_end, progress.reached)
        while True:
            page = self.fetch(offset)
            self.store_walked([page], progress, coverage, track_backfill)
            if not page.objects or not page.has_next:
                break
            offset += len(page.objects)
        self.read_holes(coverage, step, progress, track_backfill)
        if track_backfill:
            self.save_backfill(None, 0)

    def read_holes(self, coverage, step, progress, track_backfill, rounds=3):
        """Read again the rows that pages served out of order while the list moved skipped."""
        for _ in range(rounds):
            holes = coverage.holes()
            if not holes:
                return
            for low, high in holes:
                at = low
                while at < high:
                    page = self.fetch(max(0, at + coverage.shift), min(step, high - at))
                    self.store_walked([page], progress, coverage, track_backfill)
                    if not page.objects:
                        coverage.add(at, high)  # the list is shorter now: nothing left there to read
                        break
                    at += len(page.objects)  # Vobiz may serve fewer than asked
        if coverage.holes():
            logger.warning("the list kept moving: some recordings were not read; the next full sync reads them")

    # -- storing ------------------------------------------------------------------------------

    def store_walked(self, pages, progress, coverage, track_backfill):
        """Store pages of a walk; with `track_backfill`, the walk's progress in the same transaction."""
        if not pages:
            return
        for page in pages:
            progress.add(page.offset, len(page.objects))
            coverage.add_page(page)
        self.store(pages, backfill=(progress.reached, pages[-1].total_count) if track_backfill else None)

    def store(self, pages, backfill=None):
        """Store pages in one transaction and return what they held, compared with the stored rows."""
        outcome = PageOutcome()
        rows = {}
        for page in pages:
            for obj in page.objects:
                try:
                    fields = normalise(obj)
                except UnusableRecording as exc:
                    key = content_hash(obj)
                    if key in self.skipped_seen:
                        continue  # the same bad object again (the head is read twice): count it once
                    self.skipped_seen.add(key)
                    outcome.skipped += 1
                    ident = obj.get("recording_id") if isinstance(obj, dict) else None
                    logger.warning("skipped a recording (id %r) at offset %s: %s", str(ident)[:80], page.offset, exc)
                    continue
                rows[fields["recording_id"]] = fields  # a repeated id keeps the last

        now = timezone.now()
        with transaction.atomic():
            stored = dict(
                Recording.objects.filter(recording_id__in=list(rows)).values_list("recording_id", "content_hash")
            )
            to_write, seen_unchanged = [], []
            for recording_id, fields in rows.items():
                known_hash = stored.get(recording_id)
                if known_hash is None:
                    outcome.created += 1
                elif known_hash != fields["content_hash"]:
                    outcome.updated += 1
                else:
                    outcome.unchanged += 1
                    seen_unchanged.append(recording_id)
                    continue
                to_write.append({**fields, "first_synced_at": now, "last_synced_at": now, "gone_at": None})
            self.writer.upsert(to_write)
            if self.options.full and seen_unchanged:
                # A full walk notes what it saw, for the gone check, without rewriting the rows.
                Recording.objects.filter(recording_id__in=seen_unchanged).update(last_synced_at=now, gone_at=None)
            run = self.run_record
            run.pages += len(pages)
            run.created += outcome.created
            run.updated += outcome.updated
            run.unchanged += outcome.unchanged
            run.skipped += outcome.skipped
            totals = [page.total_count for page in pages if page.total_count is not None]
            if totals:
                run.total_upstream = totals[-1]
            run.save(update_fields=["pages", "created", "updated", "unchanged", "skipped", "total_upstream"])
            if backfill:
                self.save_backfill(*backfill)
        self.lock.refresh()
        self.bar.update(sum(len(page.objects) for page in pages))
        reset_queries()  # with DEBUG on, Django would keep every statement of a long sync
        return outcome

    def save_backfill(self, offset, total):
        if self.state is None:
            return
        self.state.backfill_offset = offset
        self.state.backfill_total = total or 0
        self.state.save()

    # -- recordings gone upstream -------------------------------------------------------------

    def mark_gone(self):
        """Recordings this complete walk did not see: ask Vobiz about each; mark the 404s gone."""
        missing = Recording.objects.filter(gone_at__isnull=True, last_synced_at__lt=self.run_record.started_at)
        if self.options.call_uuid:
            missing = missing.filter(call_uuid=self.options.call_uuid)
        if self.options.recording_type:
            missing = missing.filter(recording_type=self.options.recording_type)
        ids = list(missing.values_list("recording_id", flat=True).iterator(chunk_size=2000))
        if not ids:
            return
        logger.info("%d recordings were not in the list; checking each with Vobiz", len(ids))
        with ThreadPoolExecutor(max_workers=self.options.workers, thread_name_prefix="vobiz-check") as pool:
            for recording_id, found in zip(ids, pool.map(self.still_exists, ids)):
                if found is None:
                    Recording.objects.filter(recording_id=recording_id).update(gone_at=timezone.now())
                    self.run_record.gone += 1
                else:
                    # Still there: the walk missed it (the list shifted under it); store it now.
                    self.store([RecordingPage(objects=[found], offset=None, total_count=None, has_next=False)])
        self.run_record.save(update_fields=["gone"])

    def still_exists(self, recording_id):
        try:
            return self.client.get_recording(recording_id)
        except VobizNotFound:
            return None


class RecordingWriter:
    """Inserts or updates a page of recordings with one INSERT … ON CONFLICT DO UPDATE statement.

    Measured on a page of 100: bulk_create(update_conflicts=True) spends about 30 ms building its
    SQL and preparing each of the 3,000 values through the ORM; this spends about 8 ms.
    """

    def __init__(self, connection):
        self.connection = connection
        fields = [f for f in Recording._meta.concrete_fields if not f.primary_key]
        quote = connection.ops.quote_name
        columns = ", ".join(quote(f.column) for f in fields)
        updated = [quote(f.column) for f in fields if f.name in UPDATED_FIELDS]
        updates = ", ".join(f"{column} = EXCLUDED.{column}" for column in updated)
        self.row_placeholder = "(" + ", ".join(["%s"] * len(fields)) + ")"
        self.insert = f"INSERT INTO {quote(Recording._meta.db_table)} ({columns}) VALUES "
        self.on_conflict = f" ON CONFLICT ({quote('recording_id')}) DO UPDATE SET {updates}"
        # The auditing columns are not the sync's: a new row gets their defaults, an old one keeps them.
        self.values = [self.converter(f) for f in fields]

    def converter(self, field):
        name, connection = field.name, self.connection
        if name not in SYNCED_FIELDS:
            default = field.get_db_prep_save(field.get_default(), connection)
            return lambda row: default
        if isinstance(field, models.DateTimeField):
            adapt = connection.ops.adapt_datetimefield_value
            return lambda row: adapt(row[name])
        if isinstance(field, (models.DecimalField, models.JSONField)):
            return lambda row: field.get_db_prep_save(row[name], connection)
        return lambda row: row[name]

    def upsert(self, rows):
        """A statement per page of rows: one round trip to PostgreSQL, one parse for SQLite, and
        within SQLite's limit of 32,766 parameters (3,100 a page)."""
        for start in range(0, len(rows), MAX_PAGE_SIZE):
            self.upsert_statement(rows[start : start + MAX_PAGE_SIZE])

    def upsert_statement(self, rows):
        sql = self.insert + ", ".join([self.row_placeholder] * len(rows)) + self.on_conflict
        params = [value(row) for row in rows for value in self.values]
        if self.connection.vendor == "postgresql":
            # Django's PostgreSQL cursors bind parameters in Python, slow for 3,000 of them:
            # psycopg's own cursor lets the server bind them.
            import psycopg

            self.connection.ensure_connection()
            with psycopg.Cursor(self.connection.connection) as cursor:
                cursor.execute(sql, params)
            return
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params)


class Frontier:
    """How far from `start` the walk has stored without a hole, with pages done out of order."""

    def __init__(self, start):
        self.reached = start
        self.ahead = []

    def add(self, offset, count):
        heapq.heappush(self.ahead, (offset, offset + count))
        while self.ahead and self.ahead[0][0] <= self.reached:
            self.reached = max(self.reached, heapq.heappop(self.ahead)[1])


class Coverage:
    """The rows a walk has read, placed where they stood in the list when the walk began.

    A recording arriving at the head moves every row down by one. Pages fetched in parallel are
    served in any order: a page served after arrivals next to one served before them leaves a hole
    between the two that offsets alone do not show. Each page's total tells how far the list had
    moved when it was served (arrivals at the head, less deletions), so its rows map back to where
    they stood, and what no page covered is a hole to read again.
    """

    def __init__(self, start, total):
        self.start = start
        self.total = total  # None: Vobiz gave no total, so moves cannot be seen
        self.shift = 0  # how far the list had moved for the latest page stored
        self.covered = []

    def add_page(self, page):
        if self.total is None or page.offset is None:
            return
        if page.total_count is not None:  # without one, the list is taken to be where it was last seen
            self.shift = page.total_count - self.total
        self.add(page.offset - self.shift, page.offset - self.shift + len(page.objects))

    def add(self, low, high):
        self.covered.append((low, high))

    def holes(self):
        """(low, high) ranges of the list as it stood that no page covered."""
        if self.total is None:
            return []
        holes, reached = [], self.start
        for low, high in sorted(self.covered):
            if low > reached:
                holes.append((reached, min(low, self.total)))
            reached = max(reached, high)
            if reached >= self.total:
                break
        if reached < self.total:
            holes.append((reached, self.total))
        return [(low, high) for low, high in holes if low < high]
