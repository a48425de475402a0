from django.contrib import admin

from .models import SYNCED_FIELDS, CallDetail, Recording, SyncRun


@admin.register(Recording)
class RecordingAdmin(admin.ModelAdmin):
    list_display = ("recording_id", "add_time", "from_number", "to_number", "recording_type",
                    "recording_format", "recording_duration_ms", "call_uuid", "gone_at")
    list_filter = ("recording_type", "recording_format", "add_time", ("gone_at", admin.EmptyFieldListFilter))
    search_fields = ("recording_id", "call_uuid", "from_number", "to_number", "conference_name")
    date_hierarchy = "add_time"
    readonly_fields = SYNCED_FIELDS  # Vobiz owns these; the next sync would overwrite any edit
    show_full_result_count = False

    def has_add_permission(self, request):
        return False


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    list_display = ("started_at", "mode", "status", "finished_at", "pages", "created", "updated", "unchanged",
                    "skipped", "gone", "error")
    list_filter = ("status", "mode")
    search_fields = ("error", "owner")
    readonly_fields = [f.name for f in SyncRun._meta.concrete_fields if f.name != "id"]

    def has_add_permission(self, request):
        return False


@admin.register(CallDetail)
class CallDetailAdmin(admin.ModelAdmin):
    list_display = ("call_uuid", "fetched_at")
    search_fields = ("call_uuid",)
    readonly_fields = ("call_uuid", "data", "fetched_at")

    def has_add_permission(self, request):
        return False
