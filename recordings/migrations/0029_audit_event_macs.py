"""Each audit event gets an HMAC keyed from SECRET_KEY, and the chain covers the recording's Vobiz id
rather than the dashboard's row id.

The events already logged are vouched for as they are at the upgrade: each gets its Vobiz id, a
salt if it had none, and its HMAC; a redaction event gets the hashes of what it left; the sealed
ones are re-chained in their order (their places, which redactions name, stay), and the earlier
checks, of the former encoding, are dropped. The events not yet sealed are left to the next seal.
"""

from django.db import migrations, models

BATCH = 1000


def vouch_and_rechain(apps, schema_editor):  # type: ignore[no-untyped-def]
    from recordings import audit_trail

    event_model = apps.get_model("recordings", "AuditEvent")
    head_model = apps.get_model("recordings", "AuditChainHead")
    apps.get_model("recordings", "AuditCheck").objects.all().delete()
    by_seq = {}
    for redaction in event_model.objects.filter(action="redact").exclude(redacts=[]):
        named = event_model.objects.filter(seq__in=redaction.redacts)
        by_seq[redaction.pk] = {str(event.seq): audit_trail.values_digest(event) for event in named}
    previous, seq, at, after = audit_trail.GENESIS, 0, None, 0
    while True:
        # Sealed events in chain order, then pending ones in the order they were written.
        events = list(
            event_model.objects.select_related("recording").filter(pk__gt=after).order_by("pk")[:BATCH]
        )
        if not events:
            break
        after = events[-1].pk
        for event in events:
            event.recording_ref = event.recording.recording_id if event.recording else ""
            if not event.salt and not event.kept_hashes:
                event.salt = audit_trail.secrets.token_hex(16)
            event.redacted_to = by_seq.get(event.pk, {})
            event.mac = audit_trail.event_mac(audit_trail.content_of(event))
        event_model.objects.bulk_update(events, ["recording_ref", "salt", "redacted_to", "mac"])
    for event in event_model.objects.filter(seq__isnull=False).order_by("seq").iterator():
        seq, at = event.seq, event.at
        previous = audit_trail.event_hash(previous, seq=seq, content=audit_trail.content_of(event), mac=event.mac)
        event_model.objects.filter(pk=event.pk).update(hash=previous)
    head_model.objects.update_or_create(pk=audit_trail.HEAD, defaults={"seq": seq, "hash": previous, "at": at})


class Migration(migrations.Migration):
    dependencies = [("recordings", "0028_transcript_version_charge")]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="mac",
            field=models.CharField(
                blank=True, help_text="HMAC of the content, keyed from SECRET_KEY: set when written.", max_length=64
            ),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="recording_ref",
            field=models.CharField(
                blank=True,
                help_text="The recording's Vobiz id, as chained: it outlives the recording's row.",
                max_length=128,
            ),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="redacted_to",
            field=models.JSONField(
                blank=True, default=dict, help_text="A redaction's redacted events' new personal fields' hash, by seq."
            ),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="recording",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=models.deletion.PROTECT,
                related_name="events",
                to="recordings.recording",
            ),
        ),
        migrations.RunPython(vouch_and_rechain, migrations.RunPython.noop),
    ]
