"""What the run command and the routes expose: DEBUG only for the demo, the demo user only in the
demo database, no anonymous password reset, audio never kept by a cache."""

import subprocess

import pytest
from django.conf import settings
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import connection

from recordings.management.commands import rundashboard
from recordings.models import Recording

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path", ["/accounts/password_reset/", "/accounts/password_reset/done/", "/accounts/reset/MQ/set-password/"]
)
def test_the_anonymous_password_reset_views_are_not_routed(client, path):
    assert client.get(path).status_code == 404
    client.post(path, {"email": "someone@example.com"})
    assert mail.outbox == []


def test_sign_in_sign_out_and_password_change_are_routed(support_client):
    assert support_client.get("/accounts/password_change/").status_code == 200
    assert support_client.get("/accounts/password_change/done/").status_code == 200
    assert support_client.post("/accounts/logout/").status_code == 302
    assert support_client.get("/accounts/login/").status_code == 200


def test_audio_is_never_kept_by_a_cache(synced, support_client):
    recording = Recording.objects.first()
    response = support_client.get(f"/recordings/{recording.recording_id}/audio")
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"


def run_script_settings(tmp_path, **env):
    """DJANGO_DEBUG and DATABASE_URL as scripts/run leaves them, for the environment `env`."""
    script = (settings.BASE_DIR / "scripts" / "run").read_text()
    # Everything the script decides before it installs and serves; bootstrap is skipped.
    decisions = script.split("source ", 1)[1].split("\n", 1)[1].split("exec ", 1)[0]
    shell = f'cd {tmp_path}\n{decisions}\necho "DEBUG=${{DJANGO_DEBUG:-}} DB=${{DATABASE_URL:-}}"'
    result = subprocess.run(["bash", "-c", shell], env={"PATH": "/usr/bin:/bin", **env}, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_the_run_command_turns_debug_on_for_the_demo_only(tmp_path):
    assert run_script_settings(tmp_path).startswith("DEBUG=1 ")
    real = run_script_settings(tmp_path, VOBIZ_AUTH_ID="MA_X", VOBIZ_AUTH_TOKEN="t")
    assert real.startswith("DEBUG= ")
    (tmp_path / ".env").write_text("VOBIZ_AUTH_ID=MA_X\nVOBIZ_AUTH_TOKEN=t\n")
    assert run_script_settings(tmp_path).startswith("DEBUG= ")


def test_the_demo_uses_its_own_database_whatever_is_exported(tmp_path):
    line = run_script_settings(tmp_path, DATABASE_URL="postgres://prod@db/recordings")
    assert line == f"DEBUG=1 DB=sqlite:///{tmp_path}/demo.sqlite3"


def test_the_demo_user_is_made_only_in_the_demo_database(django_user_model):
    django_user_model.objects.create_user("demo", password="the-real-one")
    with pytest.raises(CommandError, match="demo.sqlite3"):
        rundashboard.Command().ensure_demo_user()
    assert django_user_model.objects.get(username="demo").check_password("the-real-one")
    assert not django_user_model.objects.get(username="demo").is_superuser


def test_the_demo_command_refuses_another_database_before_touching_it(monkeypatch):
    calls = []
    monkeypatch.setattr(rundashboard, "call_command", lambda *args, **kwargs: calls.append(args))
    with pytest.raises(CommandError, match="demo.sqlite3"):
        call_command("rundashboard")
    assert calls == []


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner")
@pytest.mark.django_db
def test_postgresql_starts_parallel_workers_only_for_big_reads():
    with connection.cursor() as cursor:
        cursor.execute("SHOW parallel_setup_cost")
        assert cursor.fetchone()[0] == "10000"
