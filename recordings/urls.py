from django.urls import path

from .views import audit_log, auditing, browse, bulk_download, usage

app_name = "recordings"

urlpatterns = [
    path("", browse.recording_list, name="list"),
    path("recordings/download.zip", bulk_download.download_zip, name="download_zip"),
    path("recordings/<str:recording_id>/", browse.recording_detail, name="detail"),
    path("recordings/<str:recording_id>/audio", browse.recording_audio, name="audio"),
    path("calls/<str:call_uuid>/", browse.call_detail, name="call"),
    path("sync/", browse.sync_runs, name="sync_runs"),
    path("audit/", audit_log.audit_log, name="audit_log"),
    path("usage/", usage.usage, name="usage"),
    path("sync/now", auditing.sync_now, name="sync_now"),
    path("recordings/<str:recording_id>/review", auditing.review, name="review"),
    path("recordings/<str:recording_id>/hold", auditing.hold_recording, name="hold_recording"),
    path("recordings/<str:recording_id>/delete", auditing.delete_recording, name="delete"),
    path("calls/<str:call_uuid>/hold", auditing.hold_call, name="hold_call"),
    path("holds/<int:hold_id>/lift", auditing.lift_hold, name="lift_hold"),
    path("bulk/delete", auditing.bulk_delete, name="bulk_delete"),
    path("deletions/<int:batch_id>/", auditing.deletion_batch, name="deletion"),
    path("deletions/<int:batch_id>/retry", auditing.retry_deletion, name="retry_deletion"),
]
