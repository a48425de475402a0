"""Migrations that move data: checked by running them on rows made in the schema before them."""

import pytest
from django.core.management import call_command
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


def back_to_the_latest() -> None:
    """As `manage.py migrate` does, with its post_migrate (which puts back what a migration's
    reverse dropped, such as the usage summaries' triggers)."""
    call_command("migrate", verbosity=0)


@pytest.mark.django_db(transaction=True)
def test_0018_points_waiting_tasks_at_the_moved_functions_and_leaves_history_alone():
    executor = migrate(BEFORE)
    task_result = executor.loader.project_state(BEFORE).apps.get_model("django_tasks_database", "DBTaskResult")
    now = timezone.now()
    for status, path in (
        ("READY", "recordings.tasks.sync"),
        ("READY", "recordings.live.fetch_recording_task"),
        ("READY", "elsewhere.tasks.sync"),
        ("SUCCESSFUL", "recordings.tasks.process_deletion"),
    ):
        task_result.objects.create(
            status=status,
            task_path=path,
            args_kwargs={},
            backend_name="default",
            run_after=now,
            exception_class_path="",
            traceback="",
        )
    executor = migrate(AFTER)
    task_result = executor.loader.project_state(AFTER).apps.get_model("django_tasks_database", "DBTaskResult")
    rows = set(task_result.objects.values_list("status", "task_path"))
    back_to_the_latest()
    assert rows == {
        ("READY", "recordings.background.tasks.sync"),
        ("READY", "recordings.live.store.fetch_recording_task"),
        ("READY", "elsewhere.tasks.sync"),
        ("SUCCESSFUL", "recordings.tasks.process_deletion"),
    }


@pytest.mark.django_db(transaction=True)
def test_0024_keeps_every_spent_nonce_as_its_digest():
    from recordings.live.callbacks import nonce_digest

    before = [("recordings", "0023_subject_requests")]
    after = [("recordings", "0024_nonce_digests")]
    executor = migrate(before)
    nonce = executor.loader.project_state(before).apps.get_model("recordings", "CallbackNonce")
    spent = ["48213750932184715023", "10000000000000000000", "a-longer-nonce-" + "x" * 49]
    nonce.objects.bulk_create([nonce(nonce=value, seen_at=timezone.now()) for value in spent])
    executor = migrate(after)
    digest = executor.loader.project_state(after).apps.get_model("recordings", "CallbackNonce")
    digests = set(digest.objects.values_list("digest", flat=True))
    back_to_the_latest()
    assert digests == {nonce_digest(value) for value in spent}
