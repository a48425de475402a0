"""Background work on the task framework's real queues: queued by a request, run by a worker."""

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta

import django_rq
import pytest
import redis
import requests
from django.conf import settings
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from recordings.audit_trail import Actor
from recordings.auditing.deletion import start_deletion
from recordings.background.tasks import STALLED_AFTER, queue_deletion, recover
from recordings.models import DeletionBatch, DeletionOutcome, Recording, SyncRun, TaskRun
from recordings.sync.run import sync_recordings
from recordings.sync.walk import SyncOptions
from tests.conftest import AUTH_ID, AUTH_TOKEN
from vobiz.fake.data import FakeAccount

DATABASE_QUEUE = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
REDIS_QUEUE = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
# Redis runs beside the tests (CI's machine has it); a developer points them at a database of their own.
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def fake_account():
    return FakeAccount(count=30, seed=9, auth_id=AUTH_ID, auth_token=AUTH_TOKEN)


@pytest.fixture
def database_queue(settings):
    settings.TASKS = DATABASE_QUEUE


@pytest.fixture
def redis_queue(settings):
    """RQ on an emptied Redis database, as with REDIS_URL set."""
    redis.Redis.from_url(TEST_REDIS_URL).flushdb()
    settings.TASKS = REDIS_QUEUE
    settings.RQ_QUEUES = {"default": {"URL": TEST_REDIS_URL}}
    yield
    redis.Redis.from_url(TEST_REDIS_URL).flushdb()


def production_settings(env):
    """The environment of a worker on the production settings (the test settings run tasks at once)."""
    return {**env, "DJANGO_SETTINGS_MODULE": "vobiz_dashboard.settings"}


def rq_worker(env, *args):
    return subprocess.run(
        [sys.executable, "manage.py", "rqworker", "--job-class", "django_tasks_rq.Job", *args, "default"],
        cwd=settings.BASE_DIR,
        env=production_settings(env) | {"REDIS_URL": TEST_REDIS_URL},
        capture_output=True,
        text=True,
        timeout=120,
    )


def db_worker(env, *args):
    env = {key: value for key, value in env.items() if key != "REDIS_URL"}
    return subprocess.run(
        [sys.executable, "manage.py", "db_worker", "--no-startup-delay", *args],
        cwd=settings.BASE_DIR,
        env=production_settings(env),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.django_db(transaction=True)
def test_sync_now_waits_in_the_database_queue_until_db_worker_runs_it(
    fake_vobiz, database_queue, auditor_client, subprocess_env
):
    auditor_client.post("/sync/now")
    assert not SyncRun.objects.exists()
    assert DBTaskResult.objects.ready().count() == 1

    result = db_worker(subprocess_env, "--batch")
    assert result.returncode == 0, result.stderr
    run = SyncRun.objects.get()
    assert (run.status, run.created) == ("succeeded", 30)
    assert Recording.objects.count() == 30
    assert DBTaskResult.objects.successful().count() == 1


@pytest.mark.django_db(transaction=True)
def test_sync_now_waits_in_redis_until_an_rq_worker_runs_it(fake_vobiz, redis_queue, auditor_client, subprocess_env):
    auditor_client.post("/sync/now")
    assert not SyncRun.objects.exists()
    assert django_rq.get_queue("default").count == 1

    result = rq_worker(subprocess_env, "--burst")
    assert result.returncode == 0, result.stderr
    run = SyncRun.objects.get()
    assert (run.status, run.created) == ("succeeded", 30)
    assert django_rq.get_queue("default").count == 0


def succeeded_syncs(path):
    with sqlite3.connect(path) as db:
        return db.execute("SELECT count(*) FROM recordings_syncrun WHERE status = 'succeeded'").fetchone()[0]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_serving(base_url, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return requests.get(f"{base_url}/healthz", timeout=5)
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def signed_in(base_url, username, password):
    session = requests.Session()
    page = session.get(f"{base_url}/accounts/login/", timeout=10)
    session.post(
        f"{base_url}/accounts/login/",
        {"username": username, "password": password, "csrfmiddlewaretoken": csrf_token(page.text)},
        headers={"Referer": f"{base_url}/accounts/login/"},
        timeout=10,
    )
    return session


def csrf_token(html):
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def test_the_run_command_starts_a_worker_and_the_scheduler_so_sync_now_works_and_stops_them(fake_vobiz, tmp_path):
    # The account mode (the demo mode is the same but for the fake API it starts, and its database).
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("VOBIZ_", "REDIS_URL"))}
    env |= {
        "DJANGO_SETTINGS_MODULE": "vobiz_dashboard.settings",
        "DJANGO_DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'dashboard.sqlite3'}",
        "VOBIZ_AUTH_ID": AUTH_ID,
        "VOBIZ_AUTH_TOKEN": AUTH_TOKEN,
        "VOBIZ_API_URL": fake_vobiz.base_url,
        "SYNC_EVERY_MINUTES": "0",  # so that the one sync after the start's is Sync now's
    }
    dashboard = subprocess.Popen(
        [sys.executable, "manage.py", "rundashboard", f"127.0.0.1:{port}"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output = ""
        for line in dashboard.stdout:
            output += line
            if "Dashboard:" in line:
                break
        password = re.search(r"sign in as admin / (\S+)", output).group(1)
        children = [int(pid) for pid in re.findall(r"Started (?:db_worker|run_scheduler) \(pid (\d+)\)", output)]
        assert len(children) == 2
        base_url = f"http://127.0.0.1:{port}"
        wait_until_serving(base_url)
        session = signed_in(base_url, "admin", password)
        sync_page = session.get(f"{base_url}/sync/", timeout=10)
        session.post(
            f"{base_url}/sync/now",
            {"csrfmiddlewaretoken": csrf_token(sync_page.text)},
            headers={"Referer": f"{base_url}/sync/"},
            timeout=10,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and succeeded_syncs(tmp_path / "dashboard.sqlite3") < 2:
            time.sleep(0.2)
        assert succeeded_syncs(tmp_path / "dashboard.sqlite3") == 2  # the start's, and Sync now's run by the worker
    finally:
        dashboard.terminate()
        dashboard.wait(30)
    for pid in children:  # the worker and the scheduler stopped with it
        assert not os.path.exists(f"/proc/{pid}") or "zombie" in open(f"/proc/{pid}/status").read().lower()


# -- the queue on /sync/ --------------------------------------------------------------------------


@pytest.mark.django_db
def test_with_no_worker_the_page_says_the_sync_waits_for_one_and_for_how_long(
    fake_vobiz, database_queue, auditor_client
):
    auditor_client.post("/sync/now")
    TaskRun.objects.update(queued_at=timezone.now() - timedelta(minutes=5))
    page = auditor_client.get("/sync/").content.decode()
    assert "waiting for a worker for 5\xa0minutes" in page
    assert "No worker has taken it yet" in page
    assert '<meta name="refresh-after"' in page


@pytest.mark.django_db
def test_twenty_clicks_queue_one_sync(fake_vobiz, database_queue, auditor_client):
    for _ in range(20):
        response = auditor_client.post("/sync/now", follow=True)
        assert response.status_code == 200
    assert TaskRun.objects.filter(kind=TaskRun.Kind.SYNC, status=TaskRun.Status.QUEUED).count() == 1
    assert DBTaskResult.objects.ready().count() == 1
    assert b"Sync already queued" in response.content


@pytest.mark.django_db
def test_a_failed_task_says_why_and_can_be_retried(fake_vobiz, auditor_client, settings):
    settings.VOBIZ_AUTH_TOKEN = ""
    auditor_client.post("/sync/now")
    failed = TaskRun.objects.get()
    assert failed.status == TaskRun.Status.FAILED
    assert "VOBIZ_AUTH_TOKEN" in failed.error or "credentials" in failed.error.lower()
    page = auditor_client.get("/sync/").content.decode()
    assert failed.error in page and f"/sync/tasks/{failed.pk}/retry" in page

    settings.VOBIZ_AUTH_TOKEN = AUTH_TOKEN
    auditor_client.post(f"/sync/tasks/{failed.pk}/retry")
    again = TaskRun.objects.exclude(pk=failed.pk).get()
    assert (again.status, again.retry_of) == (TaskRun.Status.SUCCEEDED, failed)
    assert SyncRun.objects.filter(status="succeeded").count() == 1


@pytest.mark.django_db
def test_with_redis_down_sync_now_says_so_loses_nothing_and_is_queued_when_it_answers(
    fake_vobiz, redis_queue, auditor_client, settings
):
    settings.RQ_QUEUES = {"default": {"URL": f"redis://127.0.0.1:{free_port()}/0"}}  # nothing listens there
    response = auditor_client.post("/sync/now", follow=True)
    assert response.status_code == 200
    assert b"recorded but not queued" in response.content
    run = TaskRun.objects.get()
    assert run.status == TaskRun.Status.UNQUEUED and "Connection" in run.error
    assert f"/sync/tasks/{run.pk}/retry".encode() in auditor_client.get("/sync/").content

    settings.RQ_QUEUES = {"default": {"URL": TEST_REDIS_URL}}
    recover()
    run.refresh_from_db()
    assert run.status == TaskRun.Status.QUEUED and run.task_id
    assert django_rq.get_queue("default").count == 1


@pytest.mark.django_db(transaction=True)
def test_a_deletion_batch_whose_worker_is_killed_half_way_is_finished_by_another(
    fake_vobiz, database_queue, auditor_user, subprocess_env, vobiz_client
):
    sync_recordings(SyncOptions(), client=vobiz_client)
    fake_vobiz.latency = 0.05
    batch = start_deletion(
        actor=Actor(user=auditor_user, ip_address=None, user_agent=""),
        recordings=Recording.objects.all(),
        reason="retention",
    )
    queue_deletion(batch)
    env = production_settings({key: value for key, value in subprocess_env.items() if key != "REDIS_URL"})
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "db_worker", "--no-reload", "--no-startup-delay", "--interval", "0.1"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while len(deleted_paths(fake_vobiz)) < 10 and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()
    assert 10 <= len(deleted_paths(fake_vobiz)) < 30
    assert DeletionBatch.objects.get(pk=batch.pk).finished_at is None

    TaskRun.objects.update(started_at=timezone.now() - STALLED_AFTER)
    recover()  # what the scheduler does every minute
    assert TaskRun.objects.filter(status=TaskRun.Status.FAILED).count() == 1
    result = db_worker(subprocess_env, "--batch")
    assert result.returncode == 0, result.stderr

    batch.refresh_from_db()
    assert batch.finished_at is not None
    assert set(batch.outcomes.values_list("status", flat=True)) == {DeletionOutcome.Status.DELETED}
    paths = deleted_paths(fake_vobiz)
    assert len(paths) == len(set(paths)) == 30  # each deleted at Vobiz once, none twice
    assert all(fake_vobiz.account.get(r) is None for r in Recording.objects.values_list("recording_id", flat=True))


def deleted_paths(server):
    return [r.path for r in list(server.requests_log) if r.method == "DELETE"]


# -- the call record's refresh ----------------------------------------------------------------------


def cdr_requests(server):
    return [r for r in server.requests_log if "/cdr/" in r.path]


@pytest.mark.django_db
def test_a_call_record_refresh_is_queued_and_the_page_says_it_waits(synced, database_queue, support_client):
    call_uuid = Recording.objects.first().call_uuid
    support_client.get(f"/calls/{call_uuid}/")
    support_client.post(f"/calls/{call_uuid}/")
    assert len(cdr_requests(synced)) == 1  # the page's own fetch: the refresh waits for a worker
    page = support_client.get(f"/calls/{call_uuid}/").content.decode()
    assert "Fetching it again from Vobiz: queued" in page and '<meta name="refresh-after"' in page
    assert TaskRun.objects.get(kind=TaskRun.Kind.CALL_RECORD).arguments == {"call_uuid": call_uuid}


@pytest.mark.django_db
def test_a_call_record_refresh_that_fails_says_why(synced, support_client, settings):
    call_uuid = Recording.objects.first().call_uuid
    support_client.get(f"/calls/{call_uuid}/")
    settings.VOBIZ_AUTH_TOKEN = ""
    page = support_client.post(f"/calls/{call_uuid}/", follow=True).content.decode()
    assert "The last refresh did not fetch it: Vobiz credentials are not configured" in page
    assert TaskRun.objects.get().status == TaskRun.Status.FAILED
