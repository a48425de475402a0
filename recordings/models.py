import json
from datetime import date, timedelta
from typing import ClassVar

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import Q
from django.db.models.fields.json import KeyTextTransform
from django.utils import timezone

# The fields a sync writes: the API's, as normalised, and the sync's own bookkeeping.
API_FIELDS = (
    "recording_id",
    "call_uuid",
    "recording_type",
    "recording_format",
    "recording_url",
    "add_time",
    "recording_duration_ms",
    "recording_start_ms",
    "recording_end_ms",
    "rounded_recording_duration",
    "from_number",
    "to_number",
    "conference_name",
    "recording_storage_duration",
    "recording_storage_rate",
    "monthly_recording_storage_amount",
    "resource_uri",
)
SYNCED_FIELDS = API_FIELDS + (
    "raw",
    "from_digits_reversed",
    "to_digits_reversed",
    "content_hash",
    "first_synced_at",
    "last_synced_at",
    "gone_at",
)


class ReviewState(models.TextChoices):
    REVIEWED = "reviewed", "Reviewed"
    FLAGGED = "flagged", "Flagged"


# What an erased number is replaced by in a recording's from/to: this, then a keyed hash of the number
# (recordings/requests/numbers.py).
ERASED_NUMBER_PREFIX = "dsr:"


class RecordingQuerySet(models.QuerySet["Recording"]):
    def holding_erased_number(self) -> "RecordingQuerySet":
        """Recordings whose caller or callee was erased for a data-subject request."""
        return self.filter(
            Q(from_number__startswith=ERASED_NUMBER_PREFIX) | Q(to_number__startswith=ERASED_NUMBER_PREFIX)
        )

    def present(self) -> "RecordingQuerySet":
        """Recordings that still exist at Vobiz, as far as we know."""
        return self.filter(deleted_at__isnull=True, gone_at__isnull=True)

    def removed(self) -> "RecordingQuerySet":
        return self.filter(Q(deleted_at__isnull=False) | Q(gone_at__isnull=False))


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
    monthly_recording_storage_amount = models.DecimalField(max_digits=16, decimal_places=6, null=True, blank=True)
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

    # Auditing. The row stays after a deletion at Vobiz, as a tombstone.
    review_state = models.CharField(max_length=16, choices=ReviewState.choices, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    review_note = models.TextField(blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True, help_text="When an auditor deleted it at Vobiz.")
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    deletion_reason = models.TextField(blank=True)

    objects = RecordingQuerySet.as_manager()

    class Meta:
        ordering = ["-add_time", "-id"]
        permissions = [
            ("listen", "Can browse, play and download recordings"),
            ("audit", "Can audit recordings: the log, reviews, holds, deletion and usage"),
            ("share", "Can make links to a recording for someone without an account"),
        ]
        indexes = [
            models.Index(fields=["review_state", "-add_time"], name="rec_review_time_idx"),
            models.Index(fields=["-add_time", "-id"], name="rec_add_time_idx"),
            # The table's default view: present recordings newest first. Covering (the duration and
            # the storage amount that a view's summary adds up are in it) and partial, so counting a
            # view and skipping to a deep page read the index alone, with no row to check for deletion.
            models.Index(
                fields=["-add_time", "-id", "recording_duration_ms", "monthly_recording_storage_amount"],
                condition=Q(deleted_at__isnull=True, gone_at__isnull=True),
                name="rec_present_time_idx",
            ),
            models.Index(fields=["recording_type", "-add_time"], name="rec_type_time_idx"),
            models.Index(fields=["recording_format", "-add_time"], name="rec_format_time_idx"),
            models.Index(fields=["recording_duration_ms"], name="rec_duration_idx"),
            models.Index(fields=["from_number"], name="rec_from_idx"),
            models.Index(fields=["to_number"], name="rec_to_idx"),
            models.Index(fields=["from_digits_reversed"], name="rec_from_rev_idx"),
            models.Index(fields=["to_digits_reversed"], name="rec_to_rev_idx"),
            # Spend by month reads the few recordings deleted or gone since a day: from these alone,
            # which hold what it adds up of them (4,004 at 1M on PostgreSQL: 23 ms reading the rows, 1.5 ms).
            models.Index(
                fields=["deleted_at", "add_time", "monthly_recording_storage_amount"],
                condition=Q(deleted_at__isnull=False),
                name="rec_deleted_idx",
            ),
            models.Index(
                fields=["gone_at", "deleted_at", "add_time", "monthly_recording_storage_amount"],
                condition=Q(gone_at__isnull=False),
                name="rec_gone_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.recording_id

    @property
    def storage_days_now(self) -> int | None:
        """Days stored until now. Vobiz counts them from when the recording was added, and every
        object changes once a day, so the sync does not reread them daily: between full walks they
        are derived from add_time (the stored figure is as of `last_synced_at`)."""
        if self.add_time is None:
            return self.recording_storage_duration
        return max(0, (timezone.now() - self.add_time).days)

    @property
    def raw_json(self) -> str:
        return json.dumps(self.raw, indent=2, sort_keys=True, ensure_ascii=False)


FOLDED = "Folded by the scheduler: the one row of its key. Otherwise a change a trigger added."


class UsageTotal(models.Model):
    """The recordings still at Vobiz of one type and format, added up: the rows of a key add up to
    its figures (one folded, and the changes since). Kept by database triggers and the scheduler's
    fold (recordings/usage_summary.py), never written by the app."""

    recording_type = models.CharField(max_length=32, blank=True)
    recording_format = models.CharField(max_length=16, blank=True)
    count = models.BigIntegerField(default=0)
    duration_ms = models.BigIntegerField(default=0)
    storage_days = models.BigIntegerField(default=0)
    amount = models.DecimalField(max_digits=24, decimal_places=6, default=0)
    rate_sum = models.DecimalField(max_digits=24, decimal_places=6, default=0)
    rate_count = models.BigIntegerField(default=0, help_text="Recordings with a storage rate.")
    folded = models.BooleanField(default=False, db_default=False, help_text=FOLDED)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["recording_type", "recording_format"], condition=Q(folded=True), name="usage_total_unique"
            )
        ]


class UsageSlot(models.Model):
    """The recordings still at Vobiz added in one quarter hour (UTC), added up: the rows of a slot
    add up to its figures (one folded, and the changes since). Kept by database triggers and the
    scheduler's fold (recordings/usage_summary.py), never written by the app."""

    slot = models.DateTimeField(db_index=True, help_text="The quarter hour's start.")
    count = models.BigIntegerField(default=0)
    duration_ms = models.BigIntegerField(default=0)
    amount = models.DecimalField(max_digits=24, decimal_places=6, default=0)
    folded = models.BooleanField(default=False, db_default=False, help_text=FOLDED)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["slot"], condition=Q(folded=True), name="usage_slot_unique")]


class TranscriptionSlot(models.Model):
    """The transcripts and their replaced versions received in one quarter hour (UTC), and their
    charges: the rows of a slot add up to its figures (one folded, and the changes since). Kept by
    database triggers and the scheduler's fold (recordings/usage_summary.py), never
    written by the app."""

    slot = models.DateTimeField(db_index=True, help_text="The quarter hour's start.")
    count = models.BigIntegerField(default=0)
    charge = models.DecimalField(max_digits=24, decimal_places=6, default=0)
    folded = models.BooleanField(default=False, db_default=False, help_text=FOLDED)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["slot"], condition=Q(folded=True), name="transcription_slot_unique")
        ]


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
    skipped = models.PositiveIntegerField(default=0, help_text="Objects without a usable id: not stored.")
    incomplete = models.PositiveIntegerField(
        default=0, help_text="Objects in an older shape that retrieving them could not complete: stored as they came."
    )
    unread = models.PositiveIntegerField(
        default=0, help_text="Recordings the run could not read because the list outran it; the next run reads them."
    )
    gone = models.PositiveIntegerField(default=0)
    total_upstream = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    owner = models.CharField(max_length=255, blank=True, help_text="host:pid of the process running it.")

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["status", "-started_at"], name="syncrun_status_idx")]

    def __str__(self) -> str:
        return f"{self.get_mode_display()} sync at {self.started_at:%Y-%m-%d %H:%M} ({self.status})"

    @property
    def duration(self) -> timedelta | None:
        if self.finished_at is None:
            return None
        return self.finished_at - self.started_at


class SyncState(models.Model):
    """What of the account's recording list the local copy holds, kept across runs.

    Positions in the list are counted from its oldest recording, which arrivals never move.
    `list_total` is the list's length when a run last read it (null: no walk has read the whole
    list yet), `unread` the [low, high) spans below it that no run could read yet: the next run
    reads those, and what lies past `list_total`, first.
    """

    class Order(models.TextChoices):
        UNKNOWN = "", "not yet seen"
        NEWEST_FIRST = "newest_first", "newest first"
        OLDEST_FIRST = "oldest_first", "oldest first"

    list_total = models.PositiveIntegerField(null=True, blank=True)
    unread = models.JSONField(default=list, blank=True)
    order = models.CharField(max_length=16, choices=Order.choices, default=Order.UNKNOWN, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    @property
    def unread_count(self) -> int:
        return sum(high - low for low, high in self.unread)


class Lock(models.Model):
    """One row per held lock (a sync, a deletion batch, the scheduler, a task); a database row so
    machines sharing the database see it. Taken and judged by recordings/locks.py."""

    name = models.CharField(max_length=64, primary_key=True)
    owner = models.CharField(max_length=255)
    acquired_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} held by {self.owner} until {self.expires_at}"


class DataChange(models.Model):
    """A write of recordings or transcripts (a sync's page, a callback's): the newest one's id is part
    of the data version (recordings/browsing/freshness.py), which keys the cached counts. A row per
    write, so writers never wait on one another; the scheduler forgets all but the newest daily."""

    id = models.BigAutoField(primary_key=True)


class CallDetail(models.Model):
    """A call's detail record (CDR) as Vobiz returned it, cached: a finished call's CDR is final."""

    call_uuid = models.CharField(max_length=128, unique=True)
    data = models.JSONField()
    fetched_at = models.DateTimeField()

    class Meta:
        verbose_name = "call detail record"

    def __str__(self) -> str:
        return self.call_uuid


class AuditEvent(models.Model):
    """The audit log: every playback, download, review, hold and deletion. Never edited."""

    class Action(models.TextChoices):
        PLAY = "play", "Played"
        DOWNLOAD = "download", "Downloaded"
        REVIEW = "review", "Marked reviewed"
        FLAG = "flag", "Flagged"
        CLEAR_REVIEW = "clear_review", "Cleared review"
        HOLD = "hold", "Put on hold"
        RELEASE = "release", "Hold lifted"
        DELETE = "delete", "Deleted at Vobiz"
        DELETE_FAILED = "delete_failed", "Deletion failed"
        SYNC = "sync", "Started a sync"
        TABLE_EXPORT = "table_export", "Exported a table as CSV"
        NOTE = "note", "Noted a moment"
        SAMPLE = "sample", "Drew a review sample"
        EXPORT = "export", "Exported review results"
        AUDIO_CHANGED = "audio_changed", "Audio changed at Vobiz"
        RULE_SET = "rule_set", "Changed a retention rule"
        RULE_APPROVE = "rule_approve", "Approved a retention rule"
        RETENTION_PAUSE = "retention_pause", "Paused or resumed retention"
        RETENTION_RUN = "retention_run", "Ran a retention rule"
        DSR_OPEN = "dsr_open", "Opened a data-subject request"
        DSR_EXPORT = "dsr_export", "Exported a data-subject request"
        DSR_APPROVE = "dsr_approve", "Approved an erasure"
        DSR_ERASE = "dsr_erase", "Erased a person's data"
        DSR_CLOSE = "dsr_close", "Closed a data-subject request"
        REDACT = "redact", "Redacted audit events"
        RETRANSCRIBED = "retranscribed", "Transcript replaced"
        CALL_RECORD = "call_record", "Asked for the call record again"
        SHARE = "share", "Made a share link"
        SHARE_REVOKE = "share_revoke", "Revoked a share link"
        SHARE_OPEN = "share_open", "Share link opened"
        SHARE_PLAY = "share_play", "Played through a share link"
        REMASK = "remask", "Masked stored transcripts again"

    LISTENING = (Action.PLAY, Action.DOWNLOAD)

    at = models.DateTimeField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    username = models.CharField(max_length=150, help_text="Kept when the user account is removed.")
    action = models.CharField(max_length=16, choices=Action.choices)
    # PROTECT: a recording with events is kept (gone_at marks it gone at Vobiz), so its log stays whole.
    recording = models.ForeignKey(Recording, null=True, blank=True, on_delete=models.PROTECT, related_name="events")
    recording_ref = models.CharField(
        max_length=128, blank=True, help_text="The recording's Vobiz id, as chained: it outlives the recording's row."
    )
    call_uuid = models.CharField(max_length=128, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    note = models.TextField(blank=True)
    # The hash chain (recordings/audit_trail.py): position, and the hash over this event's content
    # and the previous event's hash, both set when the event is sealed, seconds after it is written.
    # The personal fields enter as salted hashes, so that a redaction can replace them: it keeps
    # their hashes in `kept_hashes` and empties `salt`.
    seq = models.BigIntegerField(
        null=True, blank=True, unique=True, help_text="Position in the hash chain, from 1, without gaps."
    )
    hash = models.CharField(max_length=64, blank=True, help_text="SHA-256 over the content and the previous hash, hex.")
    salt = models.CharField(
        max_length=32, blank=True, help_text="Salts the personal fields' hashes; erased by a redaction."
    )
    kept_hashes = models.JSONField(
        default=dict, blank=True, help_text="A redacted event's personal fields' hashes, from before the redaction."
    )
    redacts = models.JSONField(default=list, blank=True, help_text="A redaction's redacted events, by seq.")
    redacted_to = models.JSONField(
        default=dict, blank=True, help_text="A redaction's redacted events' new personal fields' hash, by seq."
    )
    mac = models.CharField(
        max_length=64, blank=True, help_text="HMAC of the content, keyed from SECRET_KEY: set when written."
    )

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["-at", "-id"], name="audit_at_idx"),
            models.Index(fields=["user", "-at"], name="audit_user_idx"),
            models.Index(fields=["recording", "action", "-at"], name="audit_recording_idx"),
            models.Index(fields=["action", "-at"], name="audit_action_idx"),
            models.Index(fields=["call_uuid", "-at"], name="audit_call_idx"),
            models.Index(fields=["id"], condition=Q(seq__isnull=True), name="audit_unsealed_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.username} {self.get_action_display().lower()} {self.recording_id or self.call_uuid}"


class AudioHash(models.Model):
    """The SHA-256 and size of a recording's whole audio as Vobiz first sent it to the dashboard,
    and, once a later whole fetch brought other bytes, when that was first seen and what came last."""

    recording = models.OneToOneField(Recording, on_delete=models.CASCADE, related_name="audio_hash")
    audio_sha256 = models.CharField(max_length=64)
    audio_size = models.BigIntegerField()
    hashed_at = models.DateTimeField()
    changed_at = models.DateTimeField(null=True, blank=True, help_text="When a whole fetch first differed.")
    changed_sha256 = models.CharField(max_length=64, blank=True, help_text="The latest audio that differed.")
    changed_size = models.BigIntegerField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["recording"], condition=Q(changed_at__isnull=False), name="audio_changed_idx")]

    def __str__(self) -> str:
        return f"Audio hash of {self.recording_id}"


class AuditChainHead(models.Model):
    """The last event of the audit log's hash chain, one row: locked to add an event, so that events
    are chained one at a time; and, kept apart from the events, it shows whether the latest were removed."""

    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64)
    at = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return f"audit chain at {self.seq}: {self.hash}"


class AuditCheck(models.Model):
    """One walk of the audit log's hash chain (`manage.py verify_audit`, daily) and what it found."""

    checked_at = models.DateTimeField()
    ok = models.BooleanField()
    events = models.BigIntegerField(help_text="Events walked.")
    redacted = models.BigIntegerField(default=0, help_text="Events found redacted, each named by a redaction.")
    head_seq = models.BigIntegerField(null=True, help_text="The last event verified.")
    head_at = models.DateTimeField(null=True)
    head_hash = models.CharField(max_length=64, blank=True)
    broken_seq = models.BigIntegerField(null=True, help_text="Where the chain breaks, if it does.")
    problem = models.TextField(blank=True)

    class Meta:
        ordering = ["-checked_at", "-id"]
        get_latest_by = ["checked_at", "id"]

    def __str__(self) -> str:
        return f"audit log {'verified' if self.ok else 'broken'} at {self.checked_at}"


class LegalHoldQuerySet(models.QuerySet["LegalHold"]):
    def active(self) -> "LegalHoldQuerySet":
        return self.filter(lifted_at__isnull=True)

    def covering(self, recording: Recording) -> "LegalHoldQuerySet":
        return self.active().filter(Q(recording=recording) | Q(call_uuid=recording.call_uuid, recording=None))

    def covering_row(self) -> "LegalHoldQuerySet":
        """Active holds on the recording of the outer query's row, or on its whole call: for Exists()."""
        return self.active().filter(
            Q(recording=models.OuterRef("pk")) | Q(call_uuid=models.OuterRef("call_uuid"), recording=None)
        )


class LegalHold(models.Model):
    """Keeps a recording, or every recording of a call, from deletion until the hold is lifted."""

    recording = models.ForeignKey(Recording, null=True, blank=True, on_delete=models.PROTECT, related_name="holds")
    call_uuid = models.CharField(max_length=128, blank=True, help_text="Set alone for a hold on a whole call.")
    reason = models.TextField()
    placed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    placed_at = models.DateTimeField()
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    lifted_at = models.DateTimeField(null=True, blank=True)
    lift_reason = models.TextField(blank=True)

    objects = LegalHoldQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["recording"], condition=Q(lifted_at__isnull=True), name="hold_active_recording_idx"),
            models.Index(fields=["call_uuid"], condition=Q(lifted_at__isnull=True), name="hold_active_call_idx"),
        ]

    def __str__(self) -> str:
        target = f"recording {self.recording_id}" if self.recording_id else f"call {self.call_uuid}"
        return f"Hold on {target}"


class DeletionBatch(models.Model):
    """One request to delete recordings at Vobiz, with each recording's outcome."""

    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    requested_at = models.DateTimeField()
    reason = models.TextField(blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    confirmed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the requester confirmed exactly these recordings; none is deleted before.",
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    stopped_reason = models.TextField(blank=True, help_text="Why the batch stopped before trying every recording.")
    # What the confirmation page restated, besides the outcomes: how the recordings were chosen.
    scope = models.CharField(max_length=8, choices=[("rows", "Ticked rows"), ("view", "A filtered view")], blank=True)
    filter_query = models.TextField(blank=True, help_text="The table's query string the recordings were chosen from.")
    left_out = models.PositiveIntegerField(
        default=0, help_text="Chosen recordings deleted or gone at Vobiz already, so left out of the batch."
    )

    class Meta:
        ordering = ["-requested_at"]
        verbose_name_plural = "deletion batches"

    def __str__(self) -> str:
        return f"Deletion batch {self.pk} by {self.requested_by}"


class DeletionOutcome(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Not attempted yet"
        # Sent to Vobiz, answer not yet stored: a worker that resumes the batch asks Vobiz whether
        # it still exists rather than send the deletion again.
        ATTEMPTING = "attempting", "Being deleted"
        DELETED = "deleted", "Deleted"
        ALREADY_GONE = "already_gone", "Already gone at Vobiz"
        HELD = "held", "On hold: kept"
        FAILED = "failed", "Failed: kept"

    batch = models.ForeignKey(DeletionBatch, on_delete=models.CASCADE, related_name="outcomes")
    recording = models.ForeignKey(Recording, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]


# What masking takes out of a transcript (recordings/live/masking.py), each by the name the
# recordings table's `masked` filter gives it: the labels are what `masked_kinds` stores and the
# placeholders in the text say ("[card number]").
MASKED_KINDS = {
    "card": "card number",
    "security_code": "security code",
    "expiry": "expiry date",
    "aadhaar": "Aadhaar number",
    "pan": "PAN",
    "otp": "OTP",
    "upi_pin": "UPI PIN",
    "card_pin": "card PIN",
    "bank_account": "bank account number",
}


class Transcript(models.Model):
    """Vobiz's transcription of one recording, with payment and identity numbers masked.

    Joined to its recording by the recording's id, with no constraint in the database: a
    transcription may arrive before its recording, and it attaches when the recording is stored.
    The text is stored only after masking (see recordings/live/masking.py); `masked_kinds` says what was
    taken out. Searched by full-text indexes built in raw SQL by migration 0010_transcripts.
    """

    recording = models.OneToOneField(
        Recording,
        to_field="recording_id",
        db_column="recording_id",
        db_constraint=False,
        on_delete=models.DO_NOTHING,
        related_name="transcript",
    )
    call_uuid = models.CharField(max_length=128, blank=True)
    text = models.TextField(blank=True)
    duration_seconds = models.DecimalField(max_digits=12, decimal_places=3, null=True, blank=True)
    charge = models.DecimalField(max_digits=16, decimal_places=6, null=True, blank=True)
    rate = models.DecimalField(max_digits=16, decimal_places=6, null=True, blank=True)
    error = models.TextField(blank=True, help_text="Why Vobiz could not transcribe the recording.")
    masked = models.BooleanField(default=False, help_text="Payment or identity data was masked in the text.")
    masked_kinds = models.JSONField(default=list, blank=True)
    received_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["recording"], condition=Q(masked=True), name="transcript_masked_idx"),
        ]

    def __str__(self) -> str:
        return f"Transcript of {self.recording_id}"


class TranscriptVersion(models.Model):
    """A transcript's earlier text, kept when a later transcription of its recording brought other
    text: a stored transcript is never silently replaced (recordings/live/transcripts.py). The
    transcript itself is the current version; its earlier ones are numbered from 1. Never edited, but
    masked again with the transcripts (recordings/live/remasking.py)."""

    transcript = models.ForeignKey(Transcript, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    call_uuid = models.CharField(max_length=128, blank=True)
    text = models.TextField(blank=True)
    error = models.TextField(blank=True)
    masked_kinds = models.JSONField(default=list, blank=True)
    # What Vobiz charged for this transcription: spent, though a later one replaced it.
    charge = models.DecimalField(max_digits=16, decimal_places=6, null=True, blank=True)
    received_at = models.DateTimeField(help_text="When this text was received.")
    replaced_at = models.DateTimeField(help_text="When a later transcription replaced it.")

    class Meta:
        ordering = ["transcript", "number"]
        constraints = [models.UniqueConstraint(fields=["transcript", "number"], name="transcript_version_unique")]

    def __str__(self) -> str:
        return f"Version {self.number} of {self.transcript}"


class TranscriptIndex(models.Model):
    """SQLite's FTS5 index of transcripts (made by migration 0010_transcripts), for the search to
    join: the database keeps it, never the ORM. On PostgreSQL there is no such table."""

    transcript = models.OneToOneField(
        Transcript,
        primary_key=True,
        db_column="rowid",
        db_constraint=False,
        on_delete=models.DO_NOTHING,
        related_name="index_entry",
    )
    # FTS5 reads "table = 'words'" as "table MATCH 'words'": the column named after the table.
    query = models.TextField(db_column="recordings_transcript_fts")
    rank = models.FloatField()  # bm25: lower is a better match

    class Meta:
        managed = False
        db_table = "recordings_transcript_fts"


class TranscriptVector(models.Model):
    """PostgreSQL's full-text vector of a transcript: the generated column `search` of the
    transcripts' own table (made by migration 0010_transcripts), as a model so that queries can
    name it under any alias; the database keeps it, never the ORM. SQLite has no such column
    (TranscriptIndex instead)."""

    transcript = models.OneToOneField(
        Transcript,
        primary_key=True,
        db_column="id",
        db_constraint=False,
        on_delete=models.DO_NOTHING,
        related_name="vector",
    )
    recording_id = models.CharField(max_length=128)
    search = SearchVectorField()

    class Meta:
        managed = False
        db_table = "recordings_transcript"


class CallbackNonce(models.Model):
    """A nonce of a signed callback already received: a callback bringing it again is a replay.

    In the database so that every web server refuses what any of them received, and kept for good:
    a signature covers no time, so a nonce forgotten could come back with any body. Only a digest
    is kept (the first 8 bytes of the nonce's SHA-256, see recordings/live/callbacks.py), a fixed
    8 bytes whatever the nonce, and no time, so that keeping every one stays small."""

    digest = models.BigIntegerField(primary_key=True)

    def __str__(self) -> str:
        return f"{self.digest:x}"


class PendingFetch(models.Model):
    """A callback's recording being fetched: its chain of tries is queued or running.

    One row per recording, taken in the transaction that queues the first try and removed when the
    chain ends, so that each of a recording's callbacks (Vobiz redelivers them, and a transcription
    brings its own) joins the chain already running rather than start another."""

    recording_id = models.CharField(max_length=128, primary_key=True)
    started_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Fetch of {self.recording_id} since {self.started_at:%Y-%m-%d %H:%M:%S}"


class MomentNote(models.Model):
    """A note pinned to a moment of a recording; a marker on its player's timeline. Never edited."""

    recording = models.ForeignKey(Recording, on_delete=models.PROTECT, related_name="moment_notes")
    at_ms = models.PositiveIntegerField(help_text="Where in the recording, from its start.")
    text = models.TextField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    username = models.CharField(max_length=150, help_text="Kept when the user account is removed.")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["at_ms", "id"]
        indexes = [
            models.Index(fields=["recording", "at_ms"], name="note_recording_idx"),
            models.Index(fields=["-created_at", "-id"], name="note_created_idx"),
        ]

    def __str__(self) -> str:
        return f"Note at {self.at_ms} ms on {self.recording_id}"

    @property
    def at_seconds(self) -> float:
        return self.at_ms / 1000


class ReviewSample(models.Model):
    """A random but reproducible sample of recordings for quality review.

    Drawn once, when made: its recordings are kept as ReviewItems, so later syncs do not change
    it. The same criteria and seed over the same recordings draw the same sample.
    """

    name = models.CharField(max_length=200)
    criteria = models.JSONField(help_text="The recordings table's filters the sample was drawn from.")
    percent = models.DecimalField(max_digits=5, decimal_places=2, help_text="Share of the matching recordings.")
    per_caller = models.PositiveSmallIntegerField(default=0, help_text="At least this many of each caller number.")
    seed = models.PositiveIntegerField()
    population = models.PositiveIntegerField(help_text="How many recordings matched the criteria.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    username = models.CharField(max_length=150, help_text="Kept when the user account is removed.")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name

    @property
    def added_days(self) -> tuple[date | None, date | None]:
        """The first and last day (inclusive) of the recordings sampled, which the criteria keep
        as the filter form's ISO text."""
        return iso_day(self.criteria.get("added_after")), iso_day(self.criteria.get("added_before"))


def iso_day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except (TypeError, ValueError):
        return None


class ReviewItem(models.Model):
    """One recording of a sample, in the sample's (random) order, and what its reviewer found."""

    sample = models.ForeignKey(ReviewSample, on_delete=models.CASCADE, related_name="items")
    recording = models.ForeignKey(Recording, on_delete=models.PROTECT, related_name="+")
    position = models.PositiveIntegerField(help_text="1 for the first to review.")
    outcome = models.CharField(max_length=16, choices=ReviewState.choices, blank=True)
    note = models.TextField(blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["sample", "position"]
        constraints = [
            models.UniqueConstraint(fields=["sample", "position"], name="review_item_position_unique"),
            models.UniqueConstraint(fields=["sample", "recording"], name="review_item_recording_unique"),
        ]
        indexes = [models.Index(fields=["sample", "outcome", "position"], name="review_item_outcome_idx")]

    def __str__(self) -> str:
        return f"{self.sample} #{self.position}"


class ViewerPreference(models.Model):
    """How one user sees the pages: times in their zone, the browser's unless they chose one."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="viewer_preference")
    time_zone = models.CharField(max_length=64, blank=True, help_text="IANA name; blank: the dashboard's TIME_ZONE.")
    follow_browser = models.BooleanField(
        default=True, help_text="The zone the browser reports replaces time_zone whenever it differs."
    )

    def __str__(self) -> str:
        return f"{self.user} sees times in {self.time_zone or 'the default zone'}"


class TaskRun(models.Model):
    """One piece of background work: asked for, queued, run by a worker, and how it ended.

    Kept in the database whichever queue carries the work (the database's or Redis), so the sync
    page shows the queue alike for both, and work the queue could not take (Redis down) is not lost:
    it stays here, not queued, until it is queued again.
    """

    class Kind(models.TextChoices):
        SYNC = "sync", "Sync"
        FULL_SYNC = "full_sync", "Full sync"
        DELETION = "deletion", "Deletion"
        CALL_RECORD = "call_record", "Call record refresh"
        RECORDING_FETCH = "recording_fetch", "Recording fetch"
        RETENTION = "retention", "Retention run"
        AUDIO_CHECK = "audio_check", "Audio check"
        AUDIT_CHECK = "audit_check", "Audit log check"

    class Status(models.TextChoices):
        UNQUEUED = "unqueued", "Not queued"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Finished"
        SKIPPED = "skipped", "Skipped"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=32, choices=Kind.choices)
    arguments = models.JSONField(default=dict, blank=True, help_text="What the task is given, besides this run's id.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Empty for scheduled work.",
    )
    queued_at = models.DateTimeField()
    task_id = models.CharField(max_length=64, blank=True, help_text="The queue's id for it.")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=255, blank=True, help_text="host:pid of the process running it.")
    error = models.TextField(blank=True, help_text="Why it failed, was skipped or could not be queued.")
    retry_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="retries")

    class Meta:
        ordering = ["-queued_at", "-id"]
        indexes = [
            models.Index(fields=["-queued_at", "-id"], name="taskrun_queued_idx"),
            models.Index(fields=["status", "kind"], name="taskrun_status_idx"),
        ]
        constraints = [
            # However many times Sync now is pressed, one sync of each kind waits in the queue (and one
            # retention run, however many schedulers queue it).
            models.UniqueConstraint(
                fields=["kind"],
                condition=Q(status="queued", kind__in=["sync", "full_sync", "retention"]),
                name="taskrun_one_queued_sync",
            ),
            # However many times a call's record is asked for again, one refresh of it waits.
            models.UniqueConstraint(
                KeyTextTransform("call_uuid", "arguments"),
                condition=Q(status="queued", kind="call_record"),
                name="taskrun_one_queued_call_record",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.pk} ({self.status})"

    @property
    def duration(self) -> timedelta | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.started_at


class RetentionRule(models.Model):
    """A standing deletion (or keep) policy: the recordings a view of the table shows, once older
    than an age. Its current definition is what auditors last wrote; the one that applies (`effective`)
    is the last one approved by a second auditor or left unopposed for the grace period, so that a
    change that could delete more waits for that (recordings/retention/rules.py)."""

    class Action(models.TextChoices):
        DELETE = "delete", "Delete"
        KEEP = "keep", "Keep"
        RETIRED = "retired", "Retired"

    name = models.CharField(max_length=120)
    action = models.CharField(max_length=8, choices=Action.choices)
    filter_query = models.TextField(blank=True, help_text="The recordings table's query string the rule applies to.")
    age_days = models.PositiveIntegerField(help_text="Delete: older than this many days. Keep: for this many days.")
    effective = models.JSONField(
        null=True, blank=True, help_text="The definition that applies (action, filter_query, age_days); none yet."
    )
    awaits_since = models.DateTimeField(
        null=True, blank=True, help_text="Since when the current definition waits for approval or the grace period."
    )
    version = models.PositiveIntegerField(default=1, help_text="Each change adds one: an approval names its version.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    changed_at = models.DateTimeField()
    defined_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Who wrote the current definition (a rename is no definition): never its approver.",
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.name


class RetentionSwitch(models.Model):
    """The one row (pk 1) saying whether retention rules run at all."""

    paused = models.BooleanField(default=False)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    changed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return "Retention paused" if self.paused else "Retention running"


class RetentionRun(models.Model):
    """One day's run of one delete rule: what it matched and the deletion batches it wrote."""

    rule = models.ForeignKey(RetentionRule, on_delete=models.PROTECT, related_name="runs")
    day = models.DateField(help_text="The day it ran for: one run per rule and day, so a resumed run never repeats.")
    started_at = models.DateTimeField()
    definition = models.JSONField(help_text="The rule's effective definition the run applied.")
    matched = models.PositiveIntegerField(
        default=0, help_text="Recordings old enough, at Vobiz, on no hold, kept by no rule."
    )
    held = models.PositiveIntegerField(default=0)
    kept = models.PositiveIntegerField(default=0)
    chosen = models.PositiveIntegerField(default=0, help_text="Those put into batches: the cap's share of `matched`.")
    batches = models.ManyToManyField(DeletionBatch, related_name="retention_runs", blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["rule", "day"], name="retention_run_one_a_day")]

    def __str__(self) -> str:
        return f"{self.rule} on {self.day}"


ERASURE_COUNTS = {
    "found": "Recordings found",
    "deleted_at_vobiz": "Deleted at Vobiz",
    "redacted": "Number replaced here",
    "kept": "Kept at Vobiz",
    "transcripts_deleted": "Transcripts deleted",
    "notes_deleted": "Notes deleted",
    "events_redacted": "Audit events redacted",
    "held_calls": "Calls on hold kept as they are",
}


class SubjectRequestQuerySet(models.QuerySet["SubjectRequest"]):
    @staticmethod
    def pending_q() -> Q:
        """Requests that still owe the person an answer (SubjectRequest.OWING), as a filter."""
        owing = Q(pk__in=[])
        for status, kinds in SubjectRequest.OWING.items():
            owing |= Q(status=status, kind__in=kinds)
        return owing

    @staticmethod
    def overdue_q() -> Q:
        return SubjectRequestQuerySet.pending_q() & Q(due_on__lt=timezone.localdate())

    def pending(self) -> "SubjectRequestQuerySet":
        return self.filter(self.pending_q())

    def overdue(self) -> "SubjectRequestQuerySet":
        return self.filter(self.overdue_q())


class SubjectRequest(models.Model):
    """A person's request about their own calls (access to a copy, erasure, or both), and its proof.

    The number is kept, in E.164, only until the request is erased or closed; `number_hash` (a keyed
    hash, see recordings/requests/numbers.py) stays, so that a later request for the same number finds
    this one, and it is what erased recordings hold in place of the number. Every other field is
    free of personal data, so the record can be kept as proof of what was done.
    """

    class Kind(models.TextChoices):
        ACCESS = "access", "Access: a copy"
        ERASURE = "erasure", "Erasure"
        BOTH = "both", "Access, then erasure"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        EXPORTED = "exported", "Exported"
        ERASURE_APPROVED = "approved", "Erasure approved"
        ERASED = "erased", "Erased"
        CLOSED = "closed", "Closed"

    # The one definition of a pending request, one that still owes the person an answer: for each
    # status, the kinds it owes one for (a copy not yet made, an erasure not yet done).
    OWING: ClassVar[dict[str, tuple[str, ...]]] = {
        Status.OPEN: tuple(Kind),
        Status.EXPORTED: (Kind.ERASURE, Kind.BOTH),
        Status.ERASURE_APPROVED: tuple(Kind),
    }

    kind = models.CharField(max_length=8, choices=Kind.choices)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    reference = models.CharField(max_length=200, help_text="The organisation's reference, such as a ticket number.")
    number = models.CharField(max_length=32, blank=True, help_text="E.164; blank once erased or closed.")
    number_hash = models.CharField(max_length=64, db_index=True)
    time_zone = models.CharField(max_length=64, help_text="The zone the export's times are written in.")
    due_on = models.DateField()

    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    opened_by_name = models.CharField(max_length=150)
    opened_at = models.DateTimeField()
    exported_by_name = models.CharField(max_length=150, blank=True)
    exported_at = models.DateTimeField(null=True, blank=True)
    export_sha256 = models.CharField(max_length=64, blank=True)
    export_files = models.PositiveIntegerField(default=0)
    export_bytes = models.PositiveBigIntegerField(default=0)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_by_name = models.CharField(max_length=150, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    deletion_batch = models.ForeignKey(
        DeletionBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    erased_by_name = models.CharField(max_length=150, blank=True)
    erased_at = models.DateTimeField(null=True, blank=True)
    closed_by_name = models.CharField(max_length=150, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # What the erasure did, counted: recordings found, deleted at Vobiz, redacted here, transcripts and
    # notes deleted, audit events redacted; and each recording kept at Vobiz with why (`kept`).
    counts = models.JSONField(default=dict, blank=True)
    kept = models.JSONField(default=list, blank=True)

    objects = SubjectRequestQuerySet.as_manager()

    class Meta:
        ordering = ["-opened_at", "-id"]
        indexes = [models.Index(fields=["status", "due_on"], name="subject_request_due_idx")]

    def __str__(self) -> str:
        return f"Data-subject request #{self.pk}"

    @property
    def is_pending(self) -> bool:
        return self.kind in self.OWING.get(self.status, ())

    @property
    def is_overdue(self) -> bool:
        return self.is_pending and self.due_on < timezone.localdate()

    @property
    def erasure_counts(self) -> list[tuple[str, int]]:
        """What the erasure did, in words, in the order it did it."""
        return [(label, self.counts[key]) for key, label in ERASURE_COUNTS.items() if key in self.counts]

    @property
    def wants_access(self) -> bool:
        return self.kind in (self.Kind.ACCESS, self.Kind.BOTH)

    @property
    def wants_erasure(self) -> bool:
        return self.kind in (self.Kind.ERASURE, self.Kind.BOTH)


class ShareLink(models.Model):
    """A link to one recording for someone without an account. Only the SHA-256 of its random
    token is kept: the token itself is shown once, when the link is made."""

    recording = models.ForeignKey(Recording, on_delete=models.PROTECT, related_name="share_links")
    token_hash = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the token, in hex.")
    note = models.CharField(max_length=200, help_text="For whom the link is.")
    start_ms = models.PositiveIntegerField(null=True, blank=True, help_text="Where the player starts.")
    show_numbers = models.BooleanField(default=False, help_text="The page shows the caller's and callee's numbers.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    username = models.CharField(max_length=150, help_text="Kept when the user account is removed.")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    opens = models.PositiveIntegerField(default=0)
    last_opened_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["recording", "-created_at"], name="share_recording_idx")]

    def __str__(self) -> str:
        return f"Share link {self.pk} to {self.recording_id} for {self.note}"

    @property
    def working(self) -> bool:
        """Neither revoked nor expired (whether its recording is still at Vobiz aside)."""
        return self.revoked_at is None and self.expires_at > timezone.now()


class SavedView(models.Model):
    """A named view of the recordings table (its query string): its owner's, or everyone's."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views")
    name = models.CharField(max_length=80)
    query = models.TextField(blank=True, help_text="The table's query string.")
    shared = models.BooleanField(default=False, help_text="Everyone sees it (an auditor's only).")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="saved_view_owner_name_unique")]
        indexes = [models.Index(fields=["shared"], condition=Q(shared=True), name="saved_view_shared_idx")]

    def __str__(self) -> str:
        return self.name
