"""The tables of the usage page's figures (recordings/usage_summary.py), and the partial
indexes of deleted and gone recordings holding what spend by month adds up of them. Their triggers
are installed, and the figures counted from what is stored, by post_migrate (usage_summary's
after_migrate), once, after this and any later migration: nothing of today's app code runs here."""

from django.db import migrations, models

TRIGGERS = [
    f"usage_summary_{table}_{event}"
    for table in ("recording", "transcript", "transcriptversion")
    for event in ("insert", "update", "delete", "truncate")
]


def drop_triggers(apps, schema_editor):
    """Backwards: the triggers go before the tables they write to."""
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        for trigger in TRIGGERS:
            if connection.vendor == "postgresql":
                table = "recordings_" + trigger.removeprefix("usage_summary_").rsplit("_", 1)[0]
                cursor.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")
                cursor.execute(f"DROP FUNCTION IF EXISTS {trigger}()")
            else:
                cursor.execute(f"DROP TRIGGER IF EXISTS {trigger}")


class Migration(migrations.Migration):

    dependencies = [
        ('recordings', '0030_audit_actions_and_task_kinds'),
    ]

    operations = [
        migrations.CreateModel(
            name='TranscriptionSlot',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('slot', models.DateTimeField(db_index=True, help_text="The quarter hour's start.")),
                ('count', models.BigIntegerField(default=0)),
                ('charge', models.DecimalField(decimal_places=6, default=0, max_digits=24)),
                ('folded', models.BooleanField(db_default=False, default=False, help_text='Folded by the scheduler: the one row of its key. Otherwise a change a trigger added.')),
            ],
        ),
        migrations.CreateModel(
            name='UsageSlot',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('slot', models.DateTimeField(db_index=True, help_text="The quarter hour's start.")),
                ('count', models.BigIntegerField(default=0)),
                ('duration_ms', models.BigIntegerField(default=0)),
                ('amount', models.DecimalField(decimal_places=6, default=0, max_digits=24)),
                ('folded', models.BooleanField(db_default=False, default=False, help_text='Folded by the scheduler: the one row of its key. Otherwise a change a trigger added.')),
            ],
        ),
        migrations.CreateModel(
            name='UsageTotal',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('recording_type', models.CharField(blank=True, max_length=32)),
                ('recording_format', models.CharField(blank=True, max_length=16)),
                ('count', models.BigIntegerField(default=0)),
                ('duration_ms', models.BigIntegerField(default=0)),
                ('storage_days', models.BigIntegerField(default=0)),
                ('amount', models.DecimalField(decimal_places=6, default=0, max_digits=24)),
                ('rate_sum', models.DecimalField(decimal_places=6, default=0, max_digits=24)),
                ('rate_count', models.BigIntegerField(default=0, help_text='Recordings with a storage rate.')),
                ('folded', models.BooleanField(db_default=False, default=False, help_text='Folded by the scheduler: the one row of its key. Otherwise a change a trigger added.')),
            ],
        ),
        migrations.RemoveIndex(
            model_name='recording',
            name='rec_deleted_idx',
        ),
        migrations.RemoveIndex(
            model_name='recording',
            name='rec_gone_idx',
        ),
        migrations.AddIndex(
            model_name='recording',
            index=models.Index(condition=models.Q(('deleted_at__isnull', False)), fields=['deleted_at', 'add_time', 'monthly_recording_storage_amount'], name='rec_deleted_idx'),
        ),
        migrations.AddIndex(
            model_name='recording',
            index=models.Index(condition=models.Q(('gone_at__isnull', False)), fields=['gone_at', 'deleted_at', 'add_time', 'monthly_recording_storage_amount'], name='rec_gone_idx'),
        ),
        migrations.AddConstraint(
            model_name='transcriptionslot',
            constraint=models.UniqueConstraint(condition=models.Q(('folded', True)), fields=('slot',), name='transcription_slot_unique'),
        ),
        migrations.AddConstraint(
            model_name='usageslot',
            constraint=models.UniqueConstraint(condition=models.Q(('folded', True)), fields=('slot',), name='usage_slot_unique'),
        ),
        migrations.AddConstraint(
            model_name='usagetotal',
            constraint=models.UniqueConstraint(condition=models.Q(('folded', True)), fields=('recording_type', 'recording_format'), name='usage_total_unique'),
        ),
        migrations.RunPython(migrations.RunPython.noop, drop_triggers),
    ]
