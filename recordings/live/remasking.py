"""Masking stored transcripts again, so that those stored before the masker learnt a form benefit.

A transcript keeps what was masked before (its placeholders stay, and masking them again changes
nothing): a run only takes out more. It reads the transcripts in batches by id, so its memory
stays bounded, and writes a transcript only if it was not replaced meanwhile. What it changed is
one audit event with the counts, and each changed transcript lists its new kinds in masked_kinds.
A transcript's earlier versions (the texts a later transcription replaced) are masked again too:
they are as searchable by an auditor, and as much a finding if they hold a card number.
"""

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from recordings.audit_trail import Action, Actor, record_for
from recordings.browsing.freshness import data_changed
from recordings.live.masking import mask
from recordings.models import Transcript, TranscriptVersion

BATCH = 100  # transcripts read at once: at most some tens of megabytes


@dataclass
class Remasked:
    transcripts: int = 0  # read
    changed: int = 0
    kinds: Counter[str] = field(default_factory=Counter)  # changed transcripts and versions, by each kind now masked
    versions: int = 0  # earlier versions read
    versions_changed: int = 0


def remask_transcripts(*, actor: Actor, progress: Callable[[int], object] = lambda read: None) -> Remasked:
    """Masks every stored transcript's text and error again; `progress` is told how many were read."""
    result = Remasked()
    after = 0
    while True:
        batch = list(
            Transcript.objects.filter(pk__gt=after)
            .order_by("pk")
            .values_list("pk", "text", "error", "masked_kinds", "updated_at")[:BATCH]
        )
        if not batch:
            break
        after = batch[-1][0]
        changed_here = 0
        for pk, text, error, kinds, updated_at in batch:
            masked_text, masked_error = mask(text), mask(error)
            if masked_text.text == text and masked_error.text == error:
                continue
            found = list(dict.fromkeys(masked_text.kinds + masked_error.kinds))  # placeholders are not found again
            with transaction.atomic():
                written = Transcript.objects.filter(pk=pk, updated_at=updated_at).update(
                    text=masked_text.text,
                    error=masked_error.text,
                    masked=True,
                    masked_kinds=kinds + [kind for kind in found if kind not in kinds],
                    updated_at=timezone.now(),
                )
            if written:  # else a callback replaced it meanwhile, masked by today's masker
                changed_here += 1
                result.kinds.update(found)
        if changed_here:
            result.changed += changed_here
            data_changed()  # what the search finds has changed
        result.transcripts += len(batch)
        progress(len(batch))
    remask_versions(result)
    record_for(actor, Action.REMASK, note=summary(result))
    return result


def remask_versions(result: Remasked) -> None:
    """Masks the transcripts' earlier versions again, counting them in `result`. A version is never
    replaced, so it is written as it is read."""
    after = 0
    while True:
        batch = list(
            TranscriptVersion.objects.filter(pk__gt=after)
            .order_by("pk")
            .values_list("pk", "text", "error", "masked_kinds")[:BATCH]
        )
        if not batch:
            break
        after = batch[-1][0]
        for pk, text, error, kinds in batch:
            masked_text, masked_error = mask(text), mask(error)
            if masked_text.text == text and masked_error.text == error:
                continue
            found = list(dict.fromkeys(masked_text.kinds + masked_error.kinds))
            TranscriptVersion.objects.filter(pk=pk).update(
                text=masked_text.text,
                error=masked_error.text,
                masked_kinds=kinds + [kind for kind in found if kind not in kinds],
            )
            result.versions_changed += 1
            result.kinds.update(found)
        result.versions += len(batch)


def summary(result: Remasked) -> str:
    """ "3 of 120 transcripts changed, 1 of 4 earlier versions: card number 2, security code 1"."""
    counts = ", ".join(f"{kind} {count}" for kind, count in sorted(result.kinds.items()))
    versions = f", {result.versions_changed} of {result.versions} earlier versions" if result.versions else ""
    return f"{result.changed} of {result.transcripts} transcripts changed{versions}" + (f": {counts}" if counts else "")
