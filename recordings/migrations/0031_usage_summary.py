"""The usage page's figures kept by triggers as recordings and transcripts change
(recordings/auditing/usage_summary.py), added up here from those already stored; and the partial
indexes of deleted and gone recordings holding what spend by month adds up of them."""

from django.db import migrations, models


def install(apps, schema_editor):
    from recordings.auditing.usage_summary import install

    install(schema_editor.connection)


def uninstall(apps, schema_editor):
    from recordings.auditing.usage_summary import uninstall

    uninstall(schema_editor.connection)


class Migration(migrations.Migration):

    dependencies = [
        ('recordings', '0030_audit_actions_and_task_kinds'),
    ]

    operations = [
        migrations.CreateModel(
            name='TranscriptionSlot',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('slot', models.DateTimeField(help_text="The quarter hour's start.", unique=True)),
                ('count', models.BigIntegerField(default=0)),
                ('charge', models.DecimalField(decimal_places=6, default=0, max_digits=24)),
            ],
        ),
        migrations.CreateModel(
            name='UsageSlot',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('slot', models.DateTimeField(help_text="The quarter hour's start.", unique=True)),
                ('count', models.BigIntegerField(default=0)),
                ('duration_ms', models.BigIntegerField(default=0)),
                ('amount', models.DecimalField(decimal_places=6, default=0, max_digits=24)),
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
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('recording_type', 'recording_format'), name='usage_total_unique')],
            },
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
        migrations.RunPython(install, uninstall),
    ]
