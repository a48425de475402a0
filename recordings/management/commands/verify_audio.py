from argparse import ArgumentParser, ArgumentTypeError
from collections import Counter
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from recordings.auditing.audio_hashes import Check, recordings_to_verify, verify_recording
from recordings.vobiz_account import client_from_settings
from vobiz.client import VobizError


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return value


class Command(BaseCommand):
    help = (
        "Fetch recordings' whole audio from Vobiz again and compare it with the SHA-256 and size kept "
        "when it was first served; exit non-zero if any changed or could not be checked."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--sample", type=positive, default=None, help="check this many recordings drawn at random (default: all)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        counts: Counter[Check] = Counter()
        try:
            client = client_from_settings()
        except VobizError as exc:
            raise CommandError(f"cannot reach Vobiz: {exc}") from None
        with client:
            for recording in recordings_to_verify(sample=options["sample"]).iterator():
                verified = verify_recording(recording, client=client)
                counts[verified.check] += 1
                if verified.check in (Check.CHANGED, Check.FAILED):
                    self.stdout.write(f"{verified.check} {recording.recording_id}: {verified.detail}")
        summary = ", ".join(f"{counts[check]} {check}" for check in Check)
        self.stdout.write(f"Audio checked: {summary}.")
        if counts[Check.CHANGED] or counts[Check.FAILED]:
            raise CommandError(
                f"{counts[Check.CHANGED]} recording(s) changed at Vobiz, {counts[Check.FAILED]} could not be checked"
            )
