"""Callback nonces are kept for good, as 8-byte digests: the nonces already spent become theirs."""

import hashlib

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


class Migration(migrations.Migration):
    dependencies = [
        ("recordings", "0020_data_change"),
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
    ]
