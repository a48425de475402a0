from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from recordings.views.health import healthz

urlpatterns = [
    # Sign in and out, and change one's password; not the anonymous password reset (which mails).
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password_change/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password_change/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("", include("recordings.urls")),
]
