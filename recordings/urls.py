from django.urls import path

from .views import browse

app_name = "recordings"

urlpatterns = [
    path("", browse.recording_list, name="list"),
    path("recordings/<str:recording_id>/", browse.recording_detail, name="detail"),
    path("recordings/<str:recording_id>/audio", browse.recording_audio, name="audio"),
    path("calls/<str:call_uuid>/", browse.call_detail, name="call"),
    path("sync/", browse.sync_runs, name="sync_runs"),
]
