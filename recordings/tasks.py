"""Work that outlives a request, as tasks of Django's task framework (the django-tasks backport).

A view records what was asked (a deletion batch, an audit entry) and queues a task; a worker runs
it: `manage.py db_worker` with the default database queue, or RQ's worker with REDIS_URL set. A
task is given ids, never objects, since it may run on another machine, and reads the rest from the
database, where its progress is kept too (a SyncRun, a DeletionBatch's outcomes).
"""

from django_tasks import task

from . import deletion
from .models import DeletionBatch
from .sync import SyncOptions, sync_recordings


@task()
def sync(*, full: bool = False) -> int:
    """One sync; its SyncRun records how it went. Returns the run's id."""
    return sync_recordings(SyncOptions(full=full)).pk


@task()
def process_deletion(batch_id: int) -> None:
    deletion.process_batch(batch_id)


def queue_sync(*, full: bool = False) -> None:
    sync.enqueue(full=full)


def queue_deletion(batch: DeletionBatch) -> None:
    process_deletion.enqueue(batch.pk)
