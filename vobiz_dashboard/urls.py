from django.contrib import admin
from django.urls import include, path

from recordings.views.health import healthz

urlpatterns = [
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("", include("recordings.urls")),
]
