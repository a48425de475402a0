"""The task functions moved into recordings.background and recordings.live: queued work names them
by path, so the database queue's entries are pointed at the new paths (RQ's jobs in Redis are not:
let the workers empty that queue before upgrading)."""

from django.db import migrations

MOVED = {
    "recordings.tasks.": "recordings.background.tasks.",
    "recordings.live.fetch_recording_task": "recordings.live.store.fetch_recording_task",
}


def point(apps, schema_editor, moves):
    task_result = apps.get_model("django_tasks_database", "DBTaskResult")
    for old, new in moves.items():
        for row in task_result.objects.filter(task_path__startswith=old).only("task_path"):
            if old.endswith(".") or row.task_path == old:
                row.task_path = new + row.task_path[len(old) :]
                row.save(update_fields=["task_path"])


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
