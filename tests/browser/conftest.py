"""Every page of the dashboard, with the data each needs: what the accessibility and phone-width
tests visit. `test_every_page_of_the_urls_is_visited` keeps the list whole as pages are added."""

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest
from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from recordings.audit_trail import Actor
from recordings.models import AuditEvent, DeletionBatch, DeletionOutcome, Recording, TaskRun
from recordings.requests.services import open_request
from recordings.retention.rules import create_rule
from recordings.review.notes import add_note
from recordings.review.samples import create_sample
from recordings.roles import AUDITORS
from recordings.sharing.links import make_link
from recordings.views import (
    auditing,
    browse,
    bulk_download,
    callbacks,
    live,
    notes,
    preferences,
    requests,
    retention,
    review,
    saved_views,
    sharing,
)
from tests.conftest import user_in_role

if TYPE_CHECKING:
    from playwright.sync_api import Page

# The views of recordings/urls.py that answer no page of their own: actions a form posts (each
# leads back to a page), data for a page's script, audio, files and Vobiz's callbacks.
NOT_PAGES = {
    browse.recording_count,
    browse.recording_audio,
    live.new_recordings,
    bulk_download.download_zip,
    preferences.report_time_zone,
    auditing.sync_now,
    auditing.retry_task,
    auditing.review,
    auditing.hold_recording,
    auditing.hold_call,
    auditing.lift_hold,
    auditing.retry_deletion,
    notes.add_note,
    review.start,
    review.export,
    callbacks.recording_callback,
    callbacks.transcription_callback,
    requests.export_request,
    requests.approve_erasure,
    requests.erase,
    requests.close,
    requests.retry_deletion,
    retention.rule_spared,
    retention.approve_rule,
    retention.retire_rule,
    retention.pause,
    saved_views.save,
    saved_views.open_view,  # a redirect to the table
    saved_views.rename,
    saved_views.remove,
    sharing.make_link,
    sharing.link_made,  # shown once, after making a link: the sharing browser test opens it
    sharing.revoke_link,
    sharing.shared_audio,
}
BULK_DELETE = "/bulk/delete"  # a page, but the answer to a posted form: reached by `open_bulk_delete`


@pytest.fixture
def pages(synced: object, django_user_model: type[AbstractBaseUser]) -> list[str]:
    """Every page of the dashboard an auditor sees, with the data each needs, but /bulk/delete."""
    auditor = user_in_role(django_user_model, "auditor", AUDITORS)
    recording = Recording.objects.order_by("-add_time")[2]
    AuditEvent.objects.create(at=timezone.now(), user=auditor, username="auditor", action="play", recording=recording)
    batch = DeletionBatch.objects.create(requested_by=auditor, requested_at=timezone.now(), reason="retention")
    DeletionOutcome.objects.create(batch=batch, recording=recording, status=DeletionOutcome.Status.FAILED)
    # The sync page's queue, with a failed run to retry.
    TaskRun.objects.create(
        kind=TaskRun.Kind.SYNC, status=TaskRun.Status.FAILED, queued_at=timezone.now(), error="Vobiz timed out"
    )
    actor = Actor(user=auditor, ip_address=None, user_agent="")
    add_note(actor=actor, recording=recording, at_ms=5000, text="Greeting")
    sample = create_sample(
        actor=actor,
        name="Quality sample",
        criteria={},
        recordings=Recording.objects.all(),
        percent=Decimal(5),
        per_caller=0,
        seed=1,
    )
    subject_request = open_request(
        actor=actor,
        number=recording.to_number,
        kind="both",
        reference="T-1",
        due_on=timezone.localdate(),
        time_zone="Asia/Kolkata",
    )
    rule = create_rule(
        actor=actor, name="Old trunk calls", action="delete", filter_query="recording_type=trunk", age_days=90
    )
    shared = make_link(actor=actor, recording=recording, note="Priya", hours=24, start_ms=None, show_numbers=False)
    return [
        "/",
        "/?q=no-such-call",  # an empty view
        "/?added_after=not-a-date",  # a form error
        "/?page=2",  # both pagination links enabled
        f"/recordings/{recording.recording_id}/",
        f"/recordings/{recording.recording_id}/delete",
        f"/calls/{recording.call_uuid}/",
        "/sync/",
        "/audit/",
        "/usage/",
        "/preferences/",
        f"/deletions/{batch.pk}/",
        "/review/",
        f"/review/{sample.pk}/",
        f"/review/{sample.pk}/1/",
        "/notes/",
        "/notes/?q=nothing-like-it",
        "/requests/",
        f"/requests/{subject_request.pk}/",
        "/retention/",
        f"/retention/{rule.pk}/",
        "/views/",
        f"/s/{shared.token}",
    ]


@pytest.fixture
def open_bulk_delete() -> Callable[["Page"], None]:
    """The confirmation of a bulk deletion, reached from the table's "Delete…" for the whole view."""

    def open_it(page: "Page") -> None:
        page.goto("/?recording_type=conference")
        page.locator("button[name=scope][formaction$='/bulk/delete']").click()
        page.wait_for_url(f"**{BULK_DELETE}")

    return open_it


def use_players(page: "Page") -> None:
    """Press the page's first player's play button, so the player is measured as it is used."""
    play = page.locator("main [data-player-play]")
    if play.count():
        play.first.click()
        page.locator("main [data-player] audio").first.wait_for(state="attached")
