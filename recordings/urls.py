from django.urls import path

from . import views

app_name = "recordings"

urlpatterns = [
    path("", views.recording_list, name="list"),
    path("recordings/<str:recording_id>/", views.recording_detail, name="detail"),
    path("recordings/<str:recording_id>/audio", views.recording_audio, name="audio"),
    path("calls/<str:call_uuid>/", views.call_detail, name="call"),
    path("sync/", views.sync_runs, name="sync_runs"),
]
