"""One sync's walk through the list of recordings.

One loop walks the list (see `Sync.walk`): it reads the spans of the list it is given, places each
page served by the list's total at that moment (see spans.py), and reads again what no page
covered, with pages fetched in parallel, until nothing is left or the list outruns it. Pages that
arrive together are stored in one transaction with bulk upserts, together with what of the list is
still unread, so a run that dies keeps every page it stored and the next run reads what is left.
Objects in an older shape are completed by retrieving each.

News is judged by recording ids and the list's total, never by content: billing fields change
every day. An incremental run reads what is unread, plus the recordings past the total the last
run saw, at the newest end (whichever end that is: the order is observed, not assumed), and stops
once a page shows a recording already stored. A full run reads everything, then asks Vobiz about
each recording it did not see.
"""

import logging
import threading
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from django.db import reset_queries, transaction
from django.utils import timezone
from tqdm import tqdm

from recordings.formatting import one_line
from recordings.locks import DatabaseLock
from recordings.models import Recording, SyncRun, SyncState
from recordings.sync.normalise import (
    UnusableRecording,
    content_hash,
    is_incomplete,
    is_path_safe,
    listed_add_time,
    needs_completion,
    normalise,
)
from recordings.sync.spans import (
    NEWEST_FIRST,
    OLDEST_FIRST,
    Span,
    Spans,
    chunks,
    observed_order,
    offset_for,
    placed,
    row_indexes,
)
from recordings.sync.store import mark_gone, mark_seen, store_recordings, stored_hashes
from vobiz.client import MAX_PAGE_SIZE, RecordingPage, VobizAuthError, VobizClient, VobizError, VobizNotFound

logger = logging.getLogger(__name__)

# Objects in an older shape are completed by retrieving each; past this many in one run, the rest
# are stored with what the list gave (and counted), so a list served wholly in that shape cannot
# turn one run into a million requests. The next run completes the next ones it reads.
MAX_COMPLETIONS_PER_RUN = 2000


# Rounds of reading holes again that leave as much unread as before, before the run gives up.
ROUNDS_WITHOUT_PROGRESS = 3


@dataclass
class SyncOptions:
    full: bool = False
    call_uuid: str = ""
    recording_type: str = ""
    workers: int = 4

    @property
    def scoped(self) -> bool:
        return bool(self.call_uuid or self.recording_type)

    @property
    def filters(self) -> dict[str, str | None]:
        return {"call_uuid": self.call_uuid or None, "recording_type": self.recording_type or None}


@dataclass
class WalkedPage(RecordingPage):
    """A page of the list with each of its objects normalised (or why it cannot be), by the thread
    that fetched it: the storing thread's time then goes to the database, whose work releases the
    GIL (SQLite's step, psycopg's wait), while the fetching threads normalise the pages after it."""

    normalised: list[dict[str, Any] | UnusableRecording]

    @classmethod
    def of(cls, page: RecordingPage) -> "WalkedPage":
        return cls(
            page.objects, page.offset, page.total_count, page.has_next, [normalised(obj) for obj in page.objects]
        )


def normalised(obj: Any) -> dict[str, Any] | UnusableRecording:
    try:
        return normalise(obj)
    except UnusableRecording as exc:
        return exc


@dataclass
class PageOutcome:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    incomplete: int = 0


class Sync:
    def __init__(self, client: VobizClient, run: SyncRun, options: SyncOptions, lock: DatabaseLock, bar: tqdm) -> None:
        self.client = client
        self.run_record = run
        self.options = options
        self.lock = lock
        self.bar = bar
        self.state = None if options.scoped else SyncState.objects.get_or_create(pk=1)[0]
        self.skipped_seen: set[str] = set()
        self.incomplete_seen: set[str] = set()
        self.completions_left = MAX_COMPLETIONS_PER_RUN
        self.completions_lock = threading.Lock()
        # Set by `run` from the first page.
        self.order = NEWEST_FIRST
        self.placeable = True  # pages carry a total, so they can be placed
        self.layout = NEWEST_FIRST  # how offsets map to indexes: the order, or offsets as they are
        self.step = MAX_PAGE_SIZE
        self.first_total = 0
        self.total = 0  # the list's length when the latest page was served
        self.round_total: int | None = None
        self.pages_placed = 0
        self.ended_at: int | None = None  # without totals: where an empty or last page ended the list
        self.covered = Spans()
        self.wanted = Spans()  # what this run must read; of it, `persisted` is kept across runs
        self.persisted_low: int | None = None  # the run reads [persisted_low, total) plus `carried`
        self.carried = Spans()  # the holes earlier runs left
        # Incremental runs: the run ends once the newest end's read span shows a stored recording.
        self.needs_known_row = False
        self.known_rows: list[int] = []  # index of the lowest stored-before row of each page
        self.created_ids: set[str] = set()

    # -- what to read -------------------------------------------------------------------------

    def run(self) -> None:
        first = self.fetch(0, MAX_PAGE_SIZE)
        order = observed_order([listed_add_time(obj) for obj in first.objects])
        state = self.state
        if order:
            self.order = order
        elif state is not None and state.order:
            self.order = state.order
        self.placeable = first.total_count is not None
        self.layout = self.order if self.placeable else OLDEST_FIRST
        if state is not None and order:
            state.order = order
        self.step = max(1, min(len(first.objects), MAX_PAGE_SIZE)) if first.objects else MAX_PAGE_SIZE
        self.first_total = self.total = first.total_count or 0

        full = self.options.full
        if not self.placeable:
            logger.warning("Vobiz gave no total for the list: reading every page until the end")
            full = True
        elif not order and len(first.objects) > 1:
            logger.warning(
                "could not tell the list's order from the add_time values of its first page; reading every page"
            )
            full = True
        if state is not None and state.list_total is None:
            full = True  # no walk has read the whole list yet

        if full:
            self.persisted_low = 0
        elif state is not None:
            self.persisted_low = state.list_total
            self.carried = Spans(tuple(span) for span in state.unread)
            self.needs_known_row = True
        else:  # a scoped incremental run: its list's newest recordings until one already stored
            self.persisted_low = max(0, self.total - 1)
            self.needs_known_row = True
        self.store_walked([first])
        self.walk()
        if self.options.full and self.placeable:
            self.mark_gone()

    def wanted_now(self) -> Spans:
        """What the run must have read, given the list's latest total."""
        wanted = Spans(self.carried)
        if self.placeable:
            wanted.add(self.persisted_low or 0, self.total)
        elif self.ended_at is None:  # without totals: the next pages past what is read
            top = self.covered.highs[-1] if self.covered else 0
            wanted.add(0, top + self.step * max(1, self.options.workers))
        else:
            wanted.add(0, self.ended_at)
        for span in self.wanted:
            wanted.add(*span)
        if self.placeable:  # holes an earlier, longer list left past today's end are gone with it
            wanted = wanted.minus(Spans([(-(2**62), 0), (self.total, 2**62)]))
        return wanted

    def unread(self) -> Spans:
        return self.wanted_now().minus(self.covered)

    def newest_end_is_joined(self) -> bool:
        """Whether the span read at the list's newest end reaches a recording stored before the
        run (or the list's oldest end): then everything newer than that is read."""
        if not self.needs_known_row or not self.placeable or self.total == 0:
            return True
        span = self.covered.span_containing(self.total - 1)
        if span is None:
            self.wanted.add(self.total - 1, self.total)
            return False
        low, high = span
        if low <= 0 or any(low <= index < high for index in self.known_rows):
            return True
        self.wanted.add(max(0, low - self.step), low)  # read on, towards the older end
        return False

    # -- the walk -----------------------------------------------------------------------------

    def walk(self) -> None:
        """Read what is unread, in parallel, until nothing is or the list outruns the reading."""
        best = None
        stalled = 0
        with ThreadPoolExecutor(max_workers=self.options.workers, thread_name_prefix="vobiz-page") as pool:
            in_flight: dict[Future[WalkedPage], Span] = {}
            try:
                while True:
                    holes = self.unread()
                    if not holes:
                        if self.newest_end_is_joined():
                            break
                        best, stalled = None, 0  # reading on is not a stall
                        continue
                    left = holes.size()
                    if best is not None and left >= best:
                        stalled += 1
                        if stalled >= ROUNDS_WITHOUT_PROGRESS:
                            break
                    else:
                        best, stalled = left, 0
                    # A round that made no progress is read again with fewer pages at once, so
                    # each page's place is foreseen better.
                    width = max(1, (self.options.workers * 2) >> stalled)
                    self.read(pool, in_flight, chunks(holes, self.step, self.layout), width)
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise
        self.save_progress()
        unread = self.unread() if self.placeable else Spans()
        if unread:
            self.run_record.unread = unread.size()
            self.run_record.save(update_fields=["unread"])
            raise SyncError(
                f"{unread.size()} recordings could not be read: they arrived faster than the list could be read; "
                "the next run reads them first"
            )

    def read(
        self,
        pool: ThreadPoolExecutor,
        in_flight: dict[Future[WalkedPage], Span],
        spans: Iterable[Span],
        width: int,
    ) -> None:
        """Fetch a page for each span, `width` at a time, storing those that arrive together."""
        pending = iter(spans)
        self.round_total = None

        def submit() -> bool:
            span = next(pending, None)
            if span is None:
                return False
            offset = offset_for(self.layout, self.foreseen_span(span), self.foreseen_total(len(in_flight)))
            in_flight[pool.submit(self.fetch, offset, self.step)] = span
            return True

        while len(in_flight) < width and submit():
            pass
        while in_flight:
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            finished = [(in_flight.pop(future), future) for future in done]
            arrived = [future.result() for _, future in finished if future.exception() is None]
            spans = self.place_walked(arrived)  # the list's length they saw places the next pages
            # The next pages are asked for before these are stored, so that the network's wait
            # and the database's work overlap; none after a failed page, which ends the walk below.
            # (A store that fails ends it too, the pages asked for meanwhile unused.)
            while len(arrived) == len(finished) and len(in_flight) < width and submit():
                pass
            # The pages that arrived meanwhile share one transaction: a commit per page was 13 % of
            # the sync's CPU on SQLite. A page that failed does not cost the others: they are
            # stored before its error is raised below.
            self.store_placed(arrived, spans)
            for _, future in finished:
                future.result()

    def foreseen_total(self, ahead: int) -> int:
        """The list's length when a page sent now will be served: arrivals so far per page served,
        times the pages still ahead of it."""
        if self.layout != NEWEST_FIRST or self.pages_placed < 2:
            return self.total
        per_page = max(0, self.total - self.first_total) / (self.pages_placed - 1)
        return self.total + round(per_page * (ahead + 1))

    def foreseen_span(self, span: Span) -> Span:
        """A span shorter than a page is read with rows on both sides, in case the page is served
        after more arrivals than foreseen."""
        low, high = span
        spare = self.step - (high - low)
        if spare <= 0:
            return span
        if self.layout == NEWEST_FIRST:
            return low, high + spare // 2
        return low - spare // 2, high  # oldest first, arrivals land past `high`: the page reaches them

    def fetch(self, offset: int, limit: int) -> WalkedPage:
        page = self.client.list_recordings(offset=offset, limit=limit, **self.options.filters)
        page.objects = [self.complete(obj) for obj in page.objects]
        return WalkedPage.of(page)

    def complete(self, obj: Any) -> Any:
        """An object in an older shape, retrieved by its id (bounded, with the client's retries);
        what the list gave when that fails."""
        if not needs_completion(obj):
            return obj
        with self.completions_lock:
            if self.completions_left <= 0:
                return obj
            self.completions_left -= 1
        try:
            full = self.client.get_recording(str(obj["recording_id"]))
        except VobizAuthError:
            raise
        except VobizError as exc:
            logger.info("could not complete recording %r: %s", str(obj["recording_id"])[:80], one_line(exc))
            return obj
        if isinstance(full, dict) and str(full.get("recording_id")) == str(obj["recording_id"]):
            return full
        return obj

    # -- storing ------------------------------------------------------------------------------

    def store_walked(self, pages: list[WalkedPage]) -> None:
        """Store pages of the walk, placed in the list, with what is left unread in the same transaction."""
        self.store_placed(pages, self.place_walked(pages))

    def place_walked(self, pages: list[WalkedPage]) -> list[Span]:
        """Where in the list each page lies; the list's length and page size they show."""
        spans = []
        for page in pages:
            if page.total_count is not None:
                # Pages of a round arrive in any order: the longest list one of them saw is the
                # latest. A new round starts afresh, so deletions upstream lower it again.
                self.round_total = max(self.round_total or 0, page.total_count)
                self.total = self.round_total
            if page.has_next and 0 < len(page.objects) < self.step:
                self.step = len(page.objects)  # Vobiz serves fewer than asked: plan pages of that size
            span = self.place(page)
            spans.append(span)
            self.covered.add(*span)
        return spans

    def store_placed(self, pages: list[WalkedPage], spans: list[Span]) -> None:
        if not pages:
            return
        known = self.store(pages, save_progress=True)
        if self.needs_known_row:
            for page, span, flags in zip(pages, spans, known):
                stored_before = [index for index, was in zip(row_indexes(self.layout, span, len(flags)), flags) if was]
                if stored_before:
                    self.known_rows.append(min(stored_before))

    def place(self, page: RecordingPage) -> Span:
        count = len(page.objects)
        if not self.placeable:
            if not count or not page.has_next:
                end = page.offset + count
                self.ended_at = end if self.ended_at is None else min(self.ended_at, end)
            return page.offset, page.offset + count
        self.pages_placed += 1
        total = page.total_count if page.total_count is not None else self.total
        return placed(self.layout, page.offset, count, total)

    def store(self, pages: list[WalkedPage], save_progress: bool = False) -> list[list[bool]]:
        """Store pages in one transaction; for each page, whether each object was stored before the run."""
        outcome = PageOutcome()
        rows = {}
        listed_ids: list[list[str | None]] = []
        for page in pages:
            ids: list[str | None] = []
            listed_ids.append(ids)
            for obj, fields in zip(page.objects, page.normalised, strict=True):
                if isinstance(fields, UnusableRecording):
                    ids.append(None)
                    key = content_hash(obj)
                    if key in self.skipped_seen:
                        continue  # the same bad object again (a page read twice): count it once
                    self.skipped_seen.add(key)
                    outcome.skipped += 1
                    ident = obj.get("recording_id") if isinstance(obj, dict) else None
                    logger.warning("skipped a recording (id %r) at offset %s: %s", str(ident)[:80], page.offset, fields)
                    continue
                recording_id = fields["recording_id"]
                ids.append(recording_id)
                if is_incomplete(fields) and recording_id not in self.incomplete_seen:
                    self.incomplete_seen.add(recording_id)
                    outcome.incomplete += 1
                    logger.warning("stored recording %r with only what the list gave", recording_id[:80])
                rows[recording_id] = fields  # a repeated id keeps the last

        now = timezone.now()
        with transaction.atomic():
            stored = stored_hashes(list(rows))
            to_write, seen_unchanged = [], []
            for recording_id, fields in rows.items():
                known_hash = stored.get(recording_id)
                if known_hash is None:
                    outcome.created += 1
                    if self.needs_known_row:
                        self.created_ids.add(recording_id)
                elif known_hash != fields["content_hash"]:
                    outcome.updated += 1
                else:
                    outcome.unchanged += 1
                    seen_unchanged.append(recording_id)
                    continue
                to_write.append(fields)
            store_recordings(to_write, now=now)
            if self.options.full:
                mark_seen(seen_unchanged, now=now)  # what the gone check asks about, rows not rewritten
            run = self.run_record
            run.pages += len(pages)
            run.created += outcome.created
            run.updated += outcome.updated
            run.unchanged += outcome.unchanged
            run.skipped += outcome.skipped
            run.incomplete += outcome.incomplete
            totals = [page.total_count for page in pages if page.total_count is not None]
            if totals:
                run.total_upstream = totals[-1]
            run.save(
                update_fields=["pages", "created", "updated", "unchanged", "skipped", "incomplete", "total_upstream"]
            )
            if save_progress:
                self.save_progress()
        self.lock.refresh()
        self.bar.update(sum(len(page.objects) for page in pages))
        reset_queries()  # with DEBUG on, Django would keep every statement of a long sync
        return [
            [recording_id in stored and recording_id not in self.created_ids for recording_id in ids]
            for ids in listed_ids
        ]

    def save_progress(self) -> None:
        """What of the list is still unread, for the next run: it reads that first."""
        state = self.state
        if state is None:
            return
        if not self.placeable:
            state.list_total = None if self.ended_at is None else self.ended_at
            state.unread = []
        else:
            persisted = Spans(self.carried)
            persisted.add(self.persisted_low or 0, self.total)
            state.unread = persisted.minus(self.covered).as_list()
            state.list_total = self.total
        state.save()

    # -- recordings gone upstream -------------------------------------------------------------

    def mark_gone(self) -> None:
        """Recordings this complete walk did not see: ask Vobiz about each; mark the 404s gone."""
        missing = Recording.objects.filter(gone_at__isnull=True, last_synced_at__lt=self.run_record.started_at)
        if self.options.call_uuid:
            missing = missing.filter(call_uuid=self.options.call_uuid)
        if self.options.recording_type:
            missing = missing.filter(recording_type=self.options.recording_type)
        ids = list(missing.values_list("recording_id", flat=True).iterator(chunk_size=2000))
        # An id stored before ids were checked as they are now cannot be asked about: left as it is.
        ids = [recording_id for recording_id in ids if is_path_safe(recording_id)]
        if not ids:
            return
        logger.info("%d recordings were not in the list; checking each with Vobiz", len(ids))
        with ThreadPoolExecutor(max_workers=self.options.workers, thread_name_prefix="vobiz-check") as pool:
            for recording_id, found in zip(ids, pool.map(self.still_exists, ids)):
                if found is None:
                    mark_gone(recording_id, now=timezone.now())
                    self.run_record.gone += 1
                else:
                    # Still there: the walk missed it (a deletion moved the list under it); store it now.
                    self.store(
                        [WalkedPage.of(RecordingPage(objects=[found], offset=0, total_count=None, has_next=False))]
                    )
        self.run_record.save(update_fields=["gone"])

    def still_exists(self, recording_id: str) -> Any:
        try:
            return self.client.get_recording(recording_id)
        except VobizNotFound:
            return None


class SyncError(Exception):
    """A sync that could not run or finish; the message is one line for the operator."""
