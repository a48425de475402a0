from django.urls import path, register_converter

from recordings.sync.normalise import is_path_safe
from recordings.views import (
    audit_log,
    auditing,
    browse,
    bulk_download,
    callbacks,
    live,
    notes,
    preferences,
    requests,
    retention,
    review,
    saved_views,
    sharing,
    usage,
)

app_name = "recordings"


class VobizIdConverter:
    """An id as Vobiz writes it, checked where it enters (recordings.sync.normalise.is_path_safe):
    no slash or backslash, no control character (PostgreSQL refuses NUL), no leading dot, so that
    `.`, `..` and `%2E%2E` are answered 404 and never reach a query or a request to Vobiz."""

    regex = r"[^/]{1,128}"

    def to_python(self, value: str) -> str:
        if not is_path_safe(value):
            raise ValueError("not an id")  # the URL does not match: 404
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(VobizIdConverter, "vobiz_id")

urlpatterns = [
    path("", browse.recording_list, name="list"),
    path("count", browse.recording_count, name="count"),
    path("new", live.new_recordings, name="new"),
    path("recordings/download.zip", bulk_download.download_zip, name="download_zip"),
    path("recordings/<vobiz_id:recording_id>/", browse.recording_detail, name="detail"),
    path("recordings/<vobiz_id:recording_id>/audio", browse.recording_audio, name="audio"),
    path("calls/<vobiz_id:call_uuid>/", browse.call_detail, name="call"),
    path("sync/", browse.sync_runs, name="sync_runs"),
    path("audit/", audit_log.audit_log, name="audit_log"),
    path("usage/", usage.usage, name="usage"),
    path("preferences/", preferences.preferences, name="preferences"),
    path("preferences/time-zone", preferences.report_time_zone, name="report_time_zone"),
    path("sync/now", auditing.sync_now, name="sync_now"),
    path("sync/tasks/<int:task_run_id>/retry", auditing.retry_task, name="retry_task"),
    path("recordings/<vobiz_id:recording_id>/review", auditing.review, name="review"),
    path("recordings/<vobiz_id:recording_id>/hold", auditing.hold_recording, name="hold_recording"),
    path("recordings/<vobiz_id:recording_id>/delete", auditing.delete_recording, name="delete"),
    path("calls/<vobiz_id:call_uuid>/hold", auditing.hold_call, name="hold_call"),
    path("holds/<int:hold_id>/lift", auditing.lift_hold, name="lift_hold"),
    path("bulk/delete", auditing.bulk_delete, name="bulk_delete"),
    path("deletions/<int:batch_id>/", auditing.deletion_batch, name="deletion"),
    path("recordings/<vobiz_id:recording_id>/notes", notes.add_note, name="add_note"),
    path("notes/", notes.note_search, name="notes"),
    path("review/", review.samples, name="review"),
    path("review/<int:sample_id>/", review.sample, name="review_sample"),
    path("review/<int:sample_id>/next", review.start, name="review_next"),
    path("review/<int:sample_id>/<int:position>/", review.item, name="review_item"),
    path("review/<int:sample_id>/export.csv", review.export, name="review_export"),
    path("deletions/<int:batch_id>/retry", auditing.retry_deletion, name="retry_deletion"),
    path("retention/", retention.rule_list, name="retention"),
    path("retention/pause", retention.pause, name="retention_pause"),
    path("retention/<int:rule_id>/", retention.rule_detail, name="retention_rule"),
    path("retention/<int:rule_id>/spared", retention.rule_spared, name="retention_spared"),
    path("retention/<int:rule_id>/approve", retention.approve_rule, name="retention_approve"),
    path("retention/<int:rule_id>/retire", retention.retire_rule, name="retention_retire"),
    path("requests/", requests.request_list, name="subject_requests"),
    path("requests/<int:request_id>/", requests.subject_request, name="subject_request"),
    path("requests/<int:request_id>/copy.zip", requests.export_request, name="subject_request_export"),
    path("requests/<int:request_id>/approve", requests.approve_erasure, name="subject_request_approve"),
    path("requests/<int:request_id>/retry", requests.retry_deletion, name="subject_request_retry"),
    path("requests/<int:request_id>/erase", requests.erase, name="subject_request_erase"),
    path("requests/<int:request_id>/close", requests.close, name="subject_request_close"),
    path("views/", saved_views.manage, name="saved_views"),
    path("views/save", saved_views.save, name="save_view"),
    path("views/<int:view_id>/", saved_views.open_view, name="open_view"),
    path("views/<int:view_id>/rename", saved_views.rename, name="rename_view"),
    path("views/<int:view_id>/remove", saved_views.remove, name="remove_view"),
    path("recordings/<vobiz_id:recording_id>/share", sharing.make_link, name="share"),
    path("shares/<int:link_id>/revoke", sharing.revoke_link, name="revoke_share"),
    path("shares/<int:link_id>/made", sharing.link_made, name="share_made"),
    # A link for someone without an account: any text is taken, so every link that does not work
    # gets the same answer, whatever it looks like.
    path("s/<str:token>", sharing.shared_page, name="shared"),
    path("s/<str:token>/audio", sharing.shared_audio, name="shared_audio"),
    path("vobiz/recording-callback", callbacks.recording_callback, name="recording_callback"),
    path("vobiz/transcription-callback", callbacks.transcription_callback, name="transcription_callback"),
]
