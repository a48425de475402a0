"""The audit log becomes a hash chain. The events already logged are left unsealed: the first seal
(the scheduler's, or verify_audit's) chains them in the order they were written, a batch at a time."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("recordings", "0025_share_links_saved_views")]

    operations = [
        migrations.CreateModel(
            name="AuditChainHead",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("seq", models.BigIntegerField(default=0)),
                ("hash", models.CharField(max_length=64)),
                ("at", models.DateTimeField(null=True)),
            ],
        ),
        migrations.CreateModel(
            name="AuditCheck",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("checked_at", models.DateTimeField()),
                ("ok", models.BooleanField()),
                ("events", models.BigIntegerField(help_text="Events walked.")),
                (
                    "redacted",
                    models.BigIntegerField(default=0, help_text="Events found redacted, each named by a redaction."),
                ),
                ("head_seq", models.BigIntegerField(help_text="The last event verified.", null=True)),
                ("head_at", models.DateTimeField(null=True)),
                ("head_hash", models.CharField(blank=True, max_length=64)),
                ("broken_seq", models.BigIntegerField(help_text="Where the chain breaks, if it does.", null=True)),
                ("problem", models.TextField(blank=True)),
            ],
            options={"ordering": ["-checked_at", "-id"], "get_latest_by": ["checked_at", "id"]},
        ),
        migrations.AddField(
            model_name="auditevent",
            name="seq",
            field=models.BigIntegerField(
                blank=True, help_text="Position in the hash chain, from 1, without gaps.", null=True, unique=True
            ),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="hash",
            field=models.CharField(
                blank=True, default="", help_text="SHA-256 over the content and the previous hash, hex.", max_length=64
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="auditevent",
            name="salt",
            field=models.CharField(
                blank=True,
                default="",
                help_text="Salts the personal fields' hashes; erased by a redaction.",
                max_length=32,
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="auditevent",
            name="kept_hashes",
            field=models.JSONField(
                blank=True,
                default=dict,
                help_text="A redacted event's personal fields' hashes, from before the redaction.",
            ),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="redacts",
            field=models.JSONField(blank=True, default=list, help_text="A redaction's redacted events, by seq."),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(condition=models.Q(("seq__isnull", True)), fields=["id"], name="audit_unsealed_idx"),
        ),
    ]
