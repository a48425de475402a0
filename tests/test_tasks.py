"""Background work on the task framework's real queues: queued by a request, run by a worker."""

import os
import re
import socket
import sqlite3
import subprocess
import sys
import time

import django_rq
import pytest
import redis
import requests
from django.conf import settings
from django_tasks_db.models import DBTaskResult

from recordings.fake_vobiz.data import FakeAccount
from recordings.models import Recording, SyncRun

from .conftest import AUTH_ID, AUTH_TOKEN

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


def test_the_run_command_starts_a_worker_so_sync_now_works_and_stops_it(tmp_path):
    port, demo_port = free_port(), free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("VOBIZ_", "REDIS_URL"))}
    env |= {
        "DJANGO_SETTINGS_MODULE": "vobiz_dashboard.settings",
        "DJANGO_DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
    }
    dashboard = subprocess.Popen(
        [sys.executable, "manage.py", "rundashboard", f"127.0.0.1:{port}", "--demo-count", "40"]
        + ["--demo-port", str(demo_port)],
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
        worker_pid = int(re.search(r"Worker started \(db_worker, pid (\d+)\)", output).group(1))
        base_url = f"http://127.0.0.1:{port}"
        wait_until_serving(base_url)
        session = signed_in(base_url, "demo", "demo-recordings")
        sync_page = session.get(f"{base_url}/sync/", timeout=10)
        session.post(
            f"{base_url}/sync/now",
            {"csrfmiddlewaretoken": csrf_token(sync_page.text)},
            headers={"Referer": f"{base_url}/sync/"},
            timeout=10,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and succeeded_syncs(tmp_path / "demo.sqlite3") < 2:
            time.sleep(0.2)
        assert succeeded_syncs(tmp_path / "demo.sqlite3") == 2  # the start's, and Sync now's run by the worker
    finally:
        dashboard.terminate()
        dashboard.wait(30)
    assert not os.path.exists(f"/proc/{worker_pid}") or "zombie" in open(f"/proc/{worker_pid}/status").read().lower()
