"""Migrations that move data: checked by running them on rows made in the schema before them."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

QUEUE = ("django_tasks_database", "0021_conditional_partial_index_ordering")
BEFORE = [("recordings", "0017_transcript_vector"), QUEUE]
AFTER = [("recordings", "0018_task_paths_moved")]


def migrate(targets: list[tuple[str, str]]) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()  # what the last migration run left
    executor.migrate(targets)
    return MigrationExecutor(connection)


@pytest.mark.django_db(transaction=True)
def test_0018_points_queued_tasks_at_the_moved_functions():
    executor = migrate(BEFORE)
    task_result = executor.loader.project_state(BEFORE).apps.get_model("django_tasks_database", "DBTaskResult")
    now = timezone.now()
    for path in ("recordings.tasks.sync", "recordings.live.fetch_recording_task", "elsewhere.tasks.sync"):
        task_result.objects.create(
            task_path=path, args_kwargs={}, backend_name="default", run_after=now, exception_class_path="", traceback=""
        )
    executor = migrate(AFTER)
    task_result = executor.loader.project_state(AFTER).apps.get_model("django_tasks_database", "DBTaskResult")
    paths = set(task_result.objects.values_list("task_path", flat=True))
    migrate(executor.loader.graph.leaf_nodes())
    assert paths == {
        "recordings.background.tasks.sync",
        "recordings.live.store.fetch_recording_task",
        "elsewhere.tasks.sync",
    }
