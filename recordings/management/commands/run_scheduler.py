from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from recordings.background.scheduler import run


class Command(BaseCommand):
    help = (
        "Queue the scheduled work for the workers: an incremental sync every SYNC_EVERY_MINUTES (0: none), "
        "a full walk every week, and the queue's repairs every minute. Run one or more, beside the workers."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        every = settings.SYNC_EVERY_MINUTES
        incremental = f"an incremental sync every {every} minutes" if every else "no incremental syncs"
        self.stdout.write(f"Scheduler: {incremental}, a full sync on Sundays at 03:30 {settings.TIME_ZONE}.")
        run(sync_every_minutes=every)  # until SIGINT or SIGTERM
        self.stdout.write("Scheduler stopped.")
