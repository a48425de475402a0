"""The task functions moved into recordings.background and recordings.live: queued work names them
by path, so the database queue's waiting entries are pointed at the new paths (finished ones are
history and keep theirs; RQ's jobs in Redis are not repointed: let the workers empty that queue
before upgrading)."""

from django.db import migrations
from django.db.models import Value
from django.db.models.functions import Concat, Substr

# Old path prefix -> new one: the whole module of tasks, and the one task the callbacks queue.
MOVED = {
    "recordings.tasks.": "recordings.background.tasks.",
    "recordings.live.fetch_recording_task": "recordings.live.store.fetch_recording_task",
}
WAITING = "READY"  # django_tasks' status of an entry no worker has taken yet


def point(apps, schema_editor, moves):
    task_result = apps.get_model("django_tasks_database", "DBTaskResult")
    waiting = task_result.objects.using(schema_editor.connection.alias).filter(status=WAITING)
    for old, new in moves.items():
        # One UPDATE per path, however long the queue.
        waiting.filter(task_path__startswith=old).update(
            task_path=Concat(Value(new), Substr("task_path", len(old) + 1))
        )


def forwards(apps, schema_editor):
    point(apps, schema_editor, MOVED)


def backwards(apps, schema_editor):
    point(apps, schema_editor, {new: old for old, new in MOVED.items()})


class Migration(migrations.Migration):
    dependencies = [
        ("recordings", "0017_transcript_vector"),
        ("django_tasks_database", "0021_conditional_partial_index_ordering"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
