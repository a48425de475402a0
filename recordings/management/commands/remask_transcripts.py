import sys
from typing import Any

from django.core.management.base import BaseCommand
from tqdm import tqdm

from recordings.audit_trail import Actor
from recordings.live.remasking import remask_transcripts, summary
from recordings.models import Transcript


class Command(BaseCommand):
    help = (
        "Mask stored transcripts again with today's masker, so that payment and identity data it has "
        "learnt to find since they were stored is taken out too. Logged as one audit event."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        actor = Actor(user=None, ip_address=None, user_agent="manage.py remask_transcripts")
        with tqdm(
            total=Transcript.objects.count(), unit=" transcripts", disable=not sys.stderr.isatty(), dynamic_ncols=True
        ) as bar:
            result = remask_transcripts(actor=actor, progress=bar.update)
        self.stdout.write(f"Masked again: {summary(result)}.")
        for kind, count in sorted(result.kinds.items()):
            self.stdout.write(f"  {kind}: {count}")
