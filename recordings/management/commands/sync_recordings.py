import sys
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from recordings.sync.run import sync_recordings
from recordings.sync.walk import SyncError, SyncOptions


class Command(BaseCommand):
    help = "Bring the local copy of the account's recordings up to date with Vobiz."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--full", action="store_true", help="walk every page and refresh every row")
        parser.add_argument("--call-uuid", default="", help="only the recordings of this call")
        parser.add_argument(
            "--recording-type", default="", help="only recordings of this type (call, conference, trunk)"
        )
        parser.add_argument("--workers", type=int, default=4, help="pages fetched at once (default 4, at most 32)")

    def handle(self, *args: Any, **options: Any) -> None:
        sync_options = SyncOptions(
            full=options["full"],
            call_uuid=options["call_uuid"].strip(),
            recording_type=options["recording_type"].strip(),
            workers=options["workers"],
        )
        try:
            run = sync_recordings(sync_options, progress=sys.stderr.isatty())
        except SyncError as exc:
            raise CommandError(f"sync failed: {exc}") from None
        except KeyboardInterrupt:
            raise CommandError("sync interrupted; the next run picks up where it stopped", returncode=130) from None
        assert run.finished_at is not None, "sync_recordings returns a finished run"
        seconds = (run.finished_at - run.started_at).total_seconds()
        self.stdout.write(
            f"Sync done in {seconds:.1f}s: {run.created} new, {run.updated} updated, {run.unchanged} unchanged, "
            f"{run.skipped} skipped, {run.incomplete} incomplete, {run.gone} gone ({run.pages} pages)."
        )
