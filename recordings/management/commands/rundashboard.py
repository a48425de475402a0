import os
import secrets
import signal
import subprocess
import sys
from argparse import ArgumentParser
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils import timezone

from recordings.audit_trail import Actor
from recordings.models import Recording, RetentionRule, SubjectRequest
from recordings.requests import services
from recordings.requests.numbers import stored_e164
from recordings.retention import rules as retention_rules
from vobiz.fake.callbacks import CallbackSender
from vobiz.fake.data import FakeAccount
from vobiz.fake.server import FakeVobizServer

DEMO_USER = "demo"
DEMO_PASSWORD = "demo-recordings"
DEMO_DATABASE = "demo.sqlite3"  # in the project folder, as the run command sets it


def require_demo_database() -> None:
    """CommandError unless the database is the demo's own."""
    database = connection.settings_dict
    demo = Path(settings.BASE_DIR) / DEMO_DATABASE
    if not (database["ENGINE"].endswith("sqlite3") and Path(str(database["NAME"])).resolve() == demo.resolve()):
        raise CommandError(
            f"Without VOBIZ_AUTH_ID and VOBIZ_AUTH_TOKEN the dashboard serves demo data, and only in its own "
            f"database ({DEMO_DATABASE} in the project folder), not the one DATABASE_URL names. Unset "
            f"DATABASE_URL for the demo (the run command does), or set the Vobiz credentials."
        )


class Command(BaseCommand):
    help = (
        "Sync and serve the dashboard on one address, with a worker for its background work beside it. "
        "Without VOBIZ_AUTH_ID/VOBIZ_AUTH_TOKEN it starts the built-in fake Vobiz API and syncs demo "
        "data from it through the real sync."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument("--demo-count", type=int, default=2500, help="recordings in the demo account")
        parser.add_argument("--demo-port", type=int, default=8765, help="port of the fake Vobiz API")
        parser.add_argument(
            "--demo-call-every",
            type=float,
            default=20.0,
            help="seconds between the demo's new calls, each sending its callbacks (0: none)",
        )
        parser.add_argument(
            "--demo-api-lag",
            type=float,
            default=0.0,
            help="seconds after a demo call's callback that the fake API still answers 'not found' for its recording",
        )

    def handle(
        self,
        *args: Any,
        addrport: str,
        demo_count: int,
        demo_port: int,
        demo_call_every: float,
        demo_api_lag: float,
        **options: Any,
    ) -> None:
        real_account = bool(settings.VOBIZ_AUTH_ID and settings.VOBIZ_AUTH_TOKEN)
        if not real_account:
            require_demo_database()
        call_command("migrate", interactive=False, verbosity=0)
        if not settings.DEBUG:
            call_command("collectstatic", interactive=False, verbosity=0)  # WhiteNoise serves them
        host = addrport if ":" in addrport else f"127.0.0.1:{addrport}"
        if real_account:
            self.stdout.write(f"Syncing from the Vobiz account {settings.VOBIZ_AUTH_ID}…")
            login = self.ensure_admin()
        else:
            account = self.start_fake_vobiz(demo_count, demo_port, demo_api_lag)
            login = self.ensure_demo_user()
            if demo_call_every > 0:
                self.start_live_demo(account, host, demo_call_every)
        call_command("sync_recordings")
        if not real_account:
            call_command("remask_transcripts")  # the demo's transcripts of earlier runs, masked as today's masker does
            self.ensure_demo_retention_rule()
            self.ensure_demo_request()
        background = self.start_background_work()
        self.stdout.write(self.style.SUCCESS(f"\nDashboard: http://{host}/   sign in as {login}\n"))
        # Ctrl-C reaches the children as well (the terminal signals them all); a plain kill of this
        # process stops them through the `finally` too.
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
        try:
            call_command("runserver", addrport, use_reloader=False)
        finally:
            for process in background:
                stop(process)

    def start_background_work(self) -> list[subprocess.Popen[bytes]]:
        """A worker for Sync now and deletions, and the scheduler, each in a process of its own as in
        production."""
        if settings.REDIS_URL:
            worker = ["rqworker", "--with-scheduler", "--job-class", "django_tasks_rq.Job", "default"]
        else:
            worker = ["db_worker", "--no-reload", "--no-startup-delay"]
        # The children read their settings from the environment: give them the Vobiz API this one uses.
        env = {
            **os.environ,
            "VOBIZ_AUTH_ID": settings.VOBIZ_AUTH_ID,
            "VOBIZ_AUTH_TOKEN": settings.VOBIZ_AUTH_TOKEN,
            "VOBIZ_API_URL": settings.VOBIZ_API_URL,
        }
        processes = []
        for command in (worker, ["run_scheduler"]):
            process = subprocess.Popen([sys.executable, "manage.py", *command], cwd=settings.BASE_DIR, env=env)
            self.stdout.write(f"Started {command[0]} (pid {process.pid}); Ctrl-C stops it with the dashboard.")
            processes.append(process)
        return processes

    def start_fake_vobiz(self, count: int, port: int, api_lag: float = 0.0) -> FakeAccount:
        # Recordings up to today, the same all day, so that a restart syncs nothing new.
        today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
        account = FakeAccount(count=count, now=today)
        try:
            server = FakeVobizServer(account=account, port=port, api_lag=api_lag).start()
        except OSError as exc:
            raise CommandError(f"cannot start the fake Vobiz API on port {port}: {exc.strerror}") from None
        settings.VOBIZ_AUTH_ID = account.auth_id
        settings.VOBIZ_AUTH_TOKEN = account.auth_token
        settings.VOBIZ_API_URL = server.base_url
        self.stdout.write(f"No Vobiz credentials set: serving demo data from the fake Vobiz API at {server.base_url}")
        return account

    def start_live_demo(self, account: FakeAccount, host: str, every: float) -> None:
        """A new call every `every` seconds: the fake Vobiz posts its signed callbacks to this dashboard."""
        settings.DASHBOARD_PUBLIC_URL = settings.DASHBOARD_PUBLIC_URL or f"http://{host}"
        CallbackSender(
            account, f"http://{host}", settings.DASHBOARD_PUBLIC_URL, interval=every, transcript_delay=every / 3
        ).start()
        self.stdout.write(f"Live demo: a new call every {every:g} s, its recording and transcript sent as callbacks.")

    def ensure_demo_user(self) -> str:
        require_demo_database()  # a superuser with a published password: never anywhere else
        User = get_user_model()
        user, _ = User.objects.get_or_create(username=DEMO_USER, defaults={"is_staff": True, "is_superuser": True})
        user.set_password(DEMO_PASSWORD)
        user.save()
        return f"{DEMO_USER} / {DEMO_PASSWORD}"

    def ensure_demo_retention_rule(self) -> None:
        """A retention rule to look at, with every rule paused: the demo shows its dry run, deletes nothing."""
        if RetentionRule.objects.exists():
            return
        demo = Actor(user=User.objects.get(username=DEMO_USER), ip_address=None, user_agent="demo")
        retention_rules.set_paused(actor=demo, paused=True)
        retention_rules.create_rule(
            actor=demo, name="Trunk calls: 90 days", action="delete", filter_query="recording_type=trunk", age_days=90
        )

    def ensure_demo_request(self) -> None:
        """One data-subject request in progress, for a caller of the demo's newest recording."""
        if SubjectRequest.objects.exists():
            return
        # The newest call with a phone number: a caller may be "anonymous", a SIP name or a conference.
        newest_calls = Recording.objects.present().filter(recording_type="call").only("from_number", "to_number")
        numbers = (stored_e164(n) for r in newest_calls[:100] for n in (r.from_number, r.to_number))
        number = next((n for n in numbers if n), None)
        if number is None:
            return
        demo = User.objects.get(username=DEMO_USER)
        opened = services.open_request(
            actor=Actor(user=demo, ip_address=None, user_agent="demo"),
            number=number,
            kind=SubjectRequest.Kind.BOTH,
            reference="DEMO-1",
            due_on=timezone.localdate() + timedelta(days=settings.DSR_DUE_DAYS),
            time_zone=settings.TIME_ZONE,
        )
        self.stdout.write(f"Demo: data-subject request #{opened.pk} is open on /requests/.")

    def ensure_admin(self) -> str:
        User = get_user_model()
        if User.objects.exists():
            return "your existing account (manage.py createsuperuser adds one)"
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser("admin", password=password)
        return f"admin / {password}  (shown once; change it in the admin)"


def stop(process: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """Ask a child to finish its current task and exit; kill it if it does not in time."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
