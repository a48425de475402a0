"""What the pages show of the sync: its runs, whether one is running, what is left to read."""

from django.db.models import QuerySet

from recordings.locks import live_holder
from recordings.models import SyncRun, SyncState
from recordings.sync.indexes import SEARCHED_BY, missing_indexes
from recordings.sync.run import LOCK_NAME


def runs() -> QuerySet[SyncRun]:
    """Every run, newest first (the model's order): the runs page's table."""
    return SyncRun.objects.all()


def sync_status() -> dict[str, SyncRun | None]:
    """The last run of any kind and the last successful one (the same run, most of the time)."""
    last_run = SyncRun.objects.order_by("-started_at").first()
    if last_run is None or last_run.status == SyncRun.Status.SUCCEEDED:
        return {"last_run": last_run, "last_success": last_run}
    last_success = SyncRun.objects.filter(status=SyncRun.Status.SUCCEEDED).order_by("-started_at").first()
    return {"last_run": last_run, "last_success": last_success}


def lock_holder() -> str:
    """Who holds the sync lock, if a live holder does; "" when a sync may start."""
    lock = live_holder(LOCK_NAME)
    if lock is None:
        return ""
    return f"{lock.owner}, since {lock.acquired_at:%H:%M:%S %Z}"


def unread_count() -> int:
    """Recordings of the list that no run could read yet (the next run reads them first)."""
    state = SyncState.objects.filter(pk=1).first()
    return state.unread_count if state is not None else 0


def slow_searches() -> list[str]:
    """What the searches that scan the table search by, their indexes being missing (a first
    import was killed before it built them, or building them failed): one query of the catalogue."""
    missing = {SEARCHED_BY[index.name] for index in missing_indexes()}
    return [searched_by for searched_by in dict.fromkeys(SEARCHED_BY.values()) if searched_by in missing]
