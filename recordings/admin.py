from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from recordings.models import (
    SYNCED_FIELDS,
    AuditEvent,
    CallDetail,
    DeletionBatch,
    DeletionOutcome,
    LegalHold,
    Recording,
    SyncRun,
)


@admin.register(Recording)
class RecordingAdmin(admin.ModelAdmin):
    list_display = (
        "recording_id",
        "add_time",
        "from_number",
        "to_number",
        "recording_type",
        "recording_format",
        "recording_duration_ms",
        "call_uuid",
        "gone_at",
    )
    list_filter = ("recording_type", "recording_format", "add_time", ("gone_at", admin.EmptyFieldListFilter))
    search_fields = ("recording_id", "call_uuid", "from_number", "to_number", "conference_name")
    date_hierarchy = "add_time"
    readonly_fields = SYNCED_FIELDS  # Vobiz owns these; the next sync would overwrite any edit
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        # Its audit events name it: a recording gone at Vobiz stays, marked by gone_at.
        return False


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    list_display = (
        "started_at",
        "mode",
        "status",
        "finished_at",
        "pages",
        "created",
        "updated",
        "unchanged",
        "skipped",
        "gone",
        "error",
    )
    list_filter = ("status", "mode")
    search_fields = ("error", "owner")
    readonly_fields = [f.name for f in SyncRun._meta.concrete_fields if f.name != "id"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(CallDetail)
class CallDetailAdmin(admin.ModelAdmin):
    list_display = ("call_uuid", "fetched_at")
    search_fields = ("call_uuid",)
    readonly_fields = ("call_uuid", "data", "fetched_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records of what happened: shown, never edited or removed here."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("at", "username", "action", "recording", "call_uuid", "ip_address")
    list_filter = ("action", "at")
    search_fields = ("username", "recording__recording_id", "call_uuid", "ip_address", "note")
    list_select_related = ("recording",)
    show_full_result_count = False


@admin.register(LegalHold)
class LegalHoldAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "reason", "placed_by", "placed_at", "lifted_by", "lifted_at")
    list_filter = ("placed_at", "lifted_at")
    search_fields = ("call_uuid", "recording__recording_id", "reason")
    list_select_related = ("recording", "placed_by", "lifted_by")


class DeletionOutcomeInline(admin.TabularInline):
    model = DeletionOutcome
    fields = ("recording", "status", "message")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(DeletionBatch)
class DeletionBatchAdmin(ReadOnlyAdmin):
    list_display = ("pk", "requested_by", "requested_at", "reason", "finished_at", "stopped_reason")
    inlines = [DeletionOutcomeInline]
