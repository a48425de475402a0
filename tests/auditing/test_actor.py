"""Who acts: an Actor made once per request, and every audit event written by the service that acts,
with the actor's user, address and browser."""

import importlib
import inspect
import pkgutil
from datetime import UTC
from decimal import Decimal

import pytest
from django.test import RequestFactory

import recordings.views
from recordings.audit_trail import Actor, record_listening
from recordings.auditing import audio_hashes, bulk_download, deletion, holds
from recordings.background import tasks
from recordings.browsing import exports
from recordings.models import AuditEvent, Recording, ReviewState
from recordings.review import marks, notes, samples
from recordings.views.common import actor_of
from tests.conftest import AUTH_ID, AUTH_TOKEN
from vobiz.fake.data import FakeAccount

pytestmark = pytest.mark.django_db
Action = AuditEvent.Action


@pytest.fixture
def fake_account() -> FakeAccount:
    return FakeAccount(count=4, seed=3, auth_id=AUTH_ID, auth_token=AUTH_TOKEN, max_audio_seconds=2)


@pytest.fixture
def actor(auditor_user) -> Actor:
    return Actor(user=auditor_user, ip_address="203.0.113.9", user_agent="Firefox/140")


def test_the_actor_is_the_requests_user_address_and_browser(auditor_user, settings) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.9", HTTP_USER_AGENT="Firefox/140"
    )
    request.user = auditor_user
    assert actor_of(request) == Actor(user=auditor_user, ip_address="203.0.113.9", user_agent="Firefox/140")


def new_sample(actor: Actor) -> samples.ReviewSample:
    return samples.create_sample(
        actor=actor,
        name="Quality",
        criteria={},
        recordings=Recording.objects.all(),
        percent=Decimal(100),
        per_caller=0,
        seed=1,
    )


def lifted(actor: Actor, recording: Recording) -> None:
    placed = holds.place_hold(actor=actor, reason="court", recording=recording)
    holds.lift_hold(actor=actor, hold=placed.hold, reason="settled")


def reviewed_in_a_sample(actor: Actor) -> None:
    item = new_sample(actor).items.order_by("position").first()
    samples.review_item(actor=actor, item=item, outcome=ReviewState.REVIEWED, note="fine")


def deleted_by_the_worker(actor: Actor, recording: Recording) -> None:
    batch = deletion.start_deletion(actor=actor, recordings=Recording.objects.filter(pk=recording.pk), reason="old")
    deletion.process_batch(batch.pk)


ACTS = {
    Action.FLAG: lambda actor, recording: marks.set_review(
        actor=actor, recording=recording, state=ReviewState.FLAGGED, note="rude"
    ),
    Action.CLEAR_REVIEW: lambda actor, recording: marks.set_review(actor=actor, recording=recording, state="", note=""),
    Action.HOLD: lambda actor, recording: holds.place_hold(actor=actor, reason="court", recording=recording),
    Action.RELEASE: lifted,
    Action.NOTE: lambda actor, recording: notes.add_note(actor=actor, recording=recording, at_ms=1000, text="hello"),
    Action.SAMPLE: lambda actor, recording: new_sample(actor),
    Action.REVIEW: lambda actor, recording: reviewed_in_a_sample(actor),
    Action.EXPORT: lambda actor, recording: samples.export_sample(
        actor=actor, sample=samples.samples_with_progress().get(pk=new_sample(actor).pk)
    ),
    Action.TABLE_EXPORT: lambda actor, recording: exports.export_table(
        actor=actor,
        queryset=Recording.objects.all(),
        columns=exports.RECORDING_COLUMNS,
        filename="recordings",
        noun="recording",
        filter_query="",
    ),
    Action.PLAY: lambda actor, recording: record_listening(
        actor=actor, recording=recording, action=Action.PLAY, status=200, content_range=None
    ),
    Action.DOWNLOAD: lambda actor, recording: list(
        bulk_download.zip_chunks(Recording.objects.filter(pk=recording.pk), actor=actor, zone=UTC)
    ),
    Action.SYNC: lambda actor, recording: tasks.request_sync(actor=actor),
    Action.AUDIO_CHANGED: lambda actor, recording: [
        audio_hashes.note_whole_audio(actor=actor, recording=recording, sha256=sha256, size=1) for sha256 in "ab"
    ],
    Action.DELETE: deleted_by_the_worker,
}


@pytest.mark.parametrize("action", ACTS)
def test_each_service_logs_what_it_does_as_done_by_its_actor(synced, actor, action) -> None:
    recording = Recording.objects.order_by("pk").first()
    ACTS[action](actor, recording)
    assert AuditEvent.objects.filter(action=action).exists()
    who = AuditEvent.objects.order_by().values_list("user", "username", "ip_address", "user_agent").distinct()
    assert list(who) == [(actor.user.pk, actor.user.get_username(), actor.ip_address, actor.user_agent)]


def test_a_deletion_that_fails_at_vobiz_is_logged_as_done_by_its_requester(synced, actor) -> None:
    """The worker logs each outcome of a batch as the auditor who asked for it, failures too."""
    recording = Recording.objects.order_by("pk").first()
    synced.inject("500", times=10, path_contains=recording.recording_id)
    deleted_by_the_worker(actor, recording)
    event = AuditEvent.objects.get(action=Action.DELETE_FAILED)
    assert (event.user_id, event.username, event.ip_address, event.user_agent) == (
        actor.user.pk,
        actor.user.get_username(),
        actor.ip_address,
        actor.user_agent,
    )


def test_no_view_writes_an_audit_event_itself() -> None:
    for found in pkgutil.iter_modules(recordings.views.__path__):
        module = importlib.import_module(f"recordings.views.{found.name}")
        source = inspect.getsource(module)
        assert "record_for" not in source and "AuditEvent.objects.create" not in source, module.__name__
