import json

from django.db import models


class Recording(models.Model):
    """A local copy of one Vobiz recording; field names follow the Vobiz API."""

    recording_id = models.CharField(max_length=128, unique=True)
    call_uuid = models.CharField(max_length=128, blank=True, db_index=True)
    recording_type = models.CharField(max_length=32, blank=True)
    recording_format = models.CharField(max_length=16, blank=True)
    recording_url = models.CharField(max_length=2048, blank=True)
    add_time = models.DateTimeField(null=True, blank=True)
    recording_duration_ms = models.BigIntegerField(null=True, blank=True)
    recording_start_ms = models.BigIntegerField(null=True, blank=True)
    recording_end_ms = models.BigIntegerField(null=True, blank=True)
    rounded_recording_duration = models.IntegerField(null=True, blank=True)
    from_number = models.CharField(max_length=64, blank=True)
    to_number = models.CharField(max_length=64, blank=True)
    conference_name = models.CharField(max_length=255, blank=True)
    recording_storage_duration = models.IntegerField(null=True, blank=True)
    recording_storage_rate = models.DecimalField(max_digits=16, decimal_places=6, null=True, blank=True)
    monthly_recording_storage_amount = models.DecimalField(
        max_digits=16, decimal_places=6, null=True, blank=True
    )
    resource_uri = models.CharField(max_length=512, blank=True)
    raw = models.JSONField(default=dict, help_text="The object exactly as Vobiz sent it.")

    # Bookkeeping.
    # Digits of the numbers, reversed, so "ends with the digits a customer reads out"
    # becomes a prefix match that a B-tree index answers.
    from_digits_reversed = models.CharField(max_length=64, blank=True)
    to_digits_reversed = models.CharField(max_length=64, blank=True)
    content_hash = models.CharField(max_length=32, help_text="Hash of the raw object, to tell unchanged rows.")
    first_synced_at = models.DateTimeField()
    last_synced_at = models.DateTimeField(help_text="When a sync last saw this recording upstream.")
    gone_at = models.DateTimeField(
        null=True, blank=True, help_text="When Vobiz confirmed the recording no longer exists."
    )

    class Meta:
        ordering = ["-add_time", "-id"]
        indexes = [
            models.Index(fields=["-add_time", "-id"], name="rec_add_time_idx"),
            models.Index(fields=["recording_type", "-add_time"], name="rec_type_time_idx"),
            models.Index(fields=["recording_format", "-add_time"], name="rec_format_time_idx"),
            models.Index(fields=["recording_duration_ms"], name="rec_duration_idx"),
            models.Index(fields=["from_number"], name="rec_from_idx"),
            models.Index(fields=["to_number"], name="rec_to_idx"),
            models.Index(fields=["from_digits_reversed"], name="rec_from_rev_idx"),
            models.Index(fields=["to_digits_reversed"], name="rec_to_rev_idx"),
            models.Index(fields=["conference_name"], name="rec_conference_idx"),
        ]

    def __str__(self):
        return self.recording_id

    @property
    def raw_json(self):
        return json.dumps(self.raw, indent=2, sort_keys=True, ensure_ascii=False)


class SyncRun(models.Model):
    class Mode(models.TextChoices):
        INCREMENTAL = "incremental"
        FULL = "full"

    class Status(models.TextChoices):
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    mode = models.CharField(max_length=16, choices=Mode.choices)
    scope = models.JSONField(default=dict, blank=True, help_text="call_uuid / recording_type limits.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    pages = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    gone = models.PositiveIntegerField(default=0)
    total_upstream = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    owner = models.CharField(max_length=255, blank=True, help_text="host:pid of the process running it.")

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["status", "-started_at"], name="syncrun_status_idx")]

    def __str__(self):
        return f"{self.get_mode_display()} sync at {self.started_at:%Y-%m-%d %H:%M} ({self.status})"

    @property
    def duration(self):
        if self.finished_at is None:
            return None
        return self.finished_at - self.started_at


class SyncState(models.Model):
    """Progress of the walk through the whole recording list, kept across runs.

    `backfill_offset` is not null while no walk has yet reached the end of the list: the next
    run resumes there (shifted by what was added at the head since) instead of starting over.
    """

    backfill_offset = models.PositiveIntegerField(null=True, blank=True, default=0)
    backfill_total = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)


class SyncLock(models.Model):
    """One row per held lock; a database row so machines sharing the database see it."""

    name = models.CharField(max_length=64, primary_key=True)
    owner = models.CharField(max_length=255)
    acquired_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    def __str__(self):
        return f"{self.name} held by {self.owner} until {self.expires_at}"


class CallDetail(models.Model):
    """A call's detail record (CDR) as Vobiz returned it, cached: a finished call's CDR is final."""

    call_uuid = models.CharField(max_length=128, unique=True)
    data = models.JSONField()
    fetched_at = models.DateTimeField()

    class Meta:
        verbose_name = "call detail record"

    def __str__(self):
        return self.call_uuid
