"""Callback nonces are kept for good, as 8-byte digests (the nonces already spent become theirs); a
transcript keeps its earlier versions; the audit log names transcripts replaced and call records
asked for again; one refresh of a call's record waits in the queue at a time."""

import hashlib

import django.db.models.deletion
import django.db.models.fields.json
from django.apps.registry import Apps
from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

BATCH = 10_000


def nonce_digest(nonce: str) -> int:
    # As recordings.live.callbacks.nonce_digest computes it, frozen here for this migration.
    return int.from_bytes(hashlib.sha256(nonce.encode()).digest()[:8], "big", signed=True)


def digest_nonces(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    old = apps.get_model("recordings", "CallbackNonce")
    new = apps.get_model("recordings", "CallbackNonceDigest")
    using = schema_editor.connection.alias
    nonces = old.objects.using(using).values_list("nonce", flat=True).order_by().iterator(chunk_size=BATCH)
    batch: list[models.Model] = []
    for nonce in nonces:
        batch.append(new(digest=nonce_digest(nonce)))
        if len(batch) == BATCH:
            new.objects.using(using).bulk_create(batch, ignore_conflicts=True)
            batch = []
    new.objects.using(using).bulk_create(batch, ignore_conflicts=True)


def one_queued_refresh_per_call(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    """Refreshes of one call's record queued more than once: the first stays, the others are
    marked skipped, so that the constraint below can hold."""
    task_run = apps.get_model("recordings", "TaskRun")
    queued = task_run.objects.using(schema_editor.connection.alias).filter(kind="call_record", status="queued")
    seen: set[str] = set()
    for run in queued.order_by("queued_at", "id"):
        call_uuid = str(run.arguments.get("call_uuid"))
        if call_uuid in seen:
            task_run.objects.filter(pk=run.pk).update(status="skipped", error="queued twice: the first one runs")
        seen.add(call_uuid)


class Migration(migrations.Migration):
    dependencies = [
        ("recordings", "0023_subject_requests"),
    ]

    operations = [
        migrations.CreateModel(
            name="CallbackNonceDigest",
            fields=[("digest", models.BigIntegerField(primary_key=True, serialize=False))],
        ),
        # Going back forgets the nonces spent: a digest does not give its nonce.
        migrations.RunPython(digest_nonces, migrations.RunPython.noop, elidable=False),
        migrations.DeleteModel(name="CallbackNonce"),
        migrations.RenameModel(old_name="CallbackNonceDigest", new_name="CallbackNonce"),
        migrations.CreateModel(
            name="TranscriptVersion",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("number", models.PositiveIntegerField()),
                ("call_uuid", models.CharField(blank=True, max_length=128)),
                ("text", models.TextField(blank=True)),
                ("error", models.TextField(blank=True)),
                ("masked_kinds", models.JSONField(blank=True, default=list)),
                ("received_at", models.DateTimeField(help_text="When this text was received.")),
                ("replaced_at", models.DateTimeField(help_text="When a later transcription replaced it.")),
                (
                    "transcript",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="versions", to="recordings.transcript"
                    ),
                ),
            ],
            options={
                "ordering": ["transcript", "number"],
                "constraints": [
                    models.UniqueConstraint(fields=("transcript", "number"), name="transcript_version_unique")
                ],
            },
        ),
        migrations.RunPython(one_queued_refresh_per_call, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="taskrun",
            constraint=models.UniqueConstraint(
                django.db.models.fields.json.KeyTextTransform("call_uuid", "arguments"),
                condition=models.Q(("kind", "call_record"), ("status", "queued")),
                name="taskrun_one_queued_call_record",
            ),
        ),
    ]
