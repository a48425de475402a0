"""Every write a count or the filter form could see moves the data version that keys them, through
the services that make it; listening moves nothing, and reading the version is one query."""

from datetime import datetime

import pytest

from recordings.audit_trail import Actor, record_listening
from recordings.auditing.audio_hashes import Check, note_whole_audio
from recordings.auditing.deletion import process_batch, start_deletion
from recordings.auditing.holds import lift_hold, place_hold
from recordings.browsing.freshness import data_version, forget_old_changes
from recordings.live.store import fetch_recording
from recordings.models import AuditEvent, DataChange, Recording
from recordings.review.marks import set_review
from recordings.review.notes import add_note
from recordings.sync import walk
from recordings.sync.run import SyncOptions, sync_recordings
from recordings.sync.walk import SyncError
from tests.conftest import AUTH_ID, AUTH_TOKEN
from tests.factories import transcribe
from vobiz.client import VobizUnavailable
from vobiz.fake.data import FakeAccount

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake_account():
    return FakeAccount(count=30, seed=7, auth_id=AUTH_ID, auth_token=AUTH_TOKEN)


def test_every_write_path_moves_the_data_version(fake_account, fake_vobiz, vobiz_client, auditor_user):
    who = Actor(user=auditor_user, ip_address=None, user_agent="")
    sync = lambda **options: sync_recordings(SyncOptions(**options), client=vobiz_client)  # noqa: E731
    assert data_version() is None  # nothing synced yet: nothing is cached

    sync()
    recording = Recording.objects.order_by("pk").first()
    gone, deleted = Recording.objects.order_by("-pk")[:2]
    seen = [data_version()]
    assert seen[0] is not None

    def moved_by(name: str) -> None:
        seen.append(data_version())
        assert seen[-1] not in seen[:-1], name

    def newest_change() -> int | None:
        return DataChange.objects.order_by("-pk").values_list("pk", flat=True).first()

    # A sync's own run moves the version too: each of its writes must move it besides.
    before = newest_change()
    fake_account.add_recordings(1)
    sync()
    moved_by("a sync storing a new recording")
    assert newest_change() != before, "a sync storing a new recording"
    before = newest_change()
    fake_account.delete(gone.recording_id)
    sync(full=True)
    assert Recording.objects.get(pk=gone.pk).gone_at is not None
    moved_by("a full sync marking a recording gone")
    assert newest_change() != before, "a full sync marking a recording gone"

    assert fetch_recording(fake_account.add_recordings(1)[0]) == "stored"
    moved_by("a callback's recording stored")
    assert fetch_recording(recording.recording_id) == "stored"
    moved_by("a callback's recording stored again (it may have come back)")

    transcribe(recording.recording_id, "my card is 4111 1111 1111 1111")
    moved_by("a transcript stored")
    transcribe(recording.recording_id, "a refund, please")
    moved_by("a transcript replaced (no longer masked)")

    place_hold(actor=who, reason="court", recording=recording)
    moved_by("a hold placed")
    lift_hold(actor=who, hold=recording.holds.get(), reason="settled")
    moved_by("a hold lifted")

    for state in ("reviewed", "flagged", ""):
        set_review(actor=who, recording=recording, state=state, note="")
        moved_by(f"a review mark {state!r}")

    add_note(actor=who, recording=recording, at_ms=1500, text="the caller reads a card number")
    moved_by("a note")

    batch = start_deletion(actor=who, recordings=Recording.objects.filter(pk=deleted.pk), reason="retention")
    seen.append(data_version())  # asked for, not yet done
    assert process_batch(batch.pk, client=vobiz_client) is True
    assert Recording.objects.get(pk=deleted.pk).deleted_at is not None
    moved_by("a deletion (the tombstone)")

    record_listening(actor=who, recording=recording, action=AuditEvent.Action.PLAY, status=200, content_range=None)
    assert note_whole_audio(actor=who, recording=recording, sha256="a" * 64, size=10) == Check.HASHED
    assert data_version() == seen[-1]  # listening, and the first hash of its audio, change no count

    assert note_whole_audio(actor=who, recording=recording, sha256="b" * 64, size=10) == Check.CHANGED
    moved_by("audio seen to have changed at Vobiz (the Audio filter)")


def test_the_version_is_one_query_and_forgetting_old_changes_keeps_it(
    fake_vobiz, vobiz_client, django_assert_num_queries
):
    sync_recordings(SyncOptions(), client=vobiz_client)
    with django_assert_num_queries(1):
        version = data_version()
    forget_old_changes()
    assert DataChange.objects.count() == 1 and data_version() == version


def test_each_recording_marked_gone_moves_the_version_with_it(fake_vobiz, vobiz_client, monkeypatch):
    """The gone check commits each recording it marks with a change of version, so a check that
    fails half way (Vobiz down after a few answers) leaves no count kept from before them."""
    sync_recordings(SyncOptions(), client=vobiz_client)
    first, second = Recording.objects.order_by("pk")[:2]
    fake_vobiz.account.delete(first.recording_id)
    fake_vobiz.account.delete(second.recording_id)
    answers = iter([None, VobizUnavailable("Vobiz is down")])  # a 404 (gone), then Vobiz fails

    def still_exists(self: walk.Sync, recording_id: str) -> None:
        answer = next(answers)
        if answer is not None:
            raise answer

    newest_before_marking = []
    mark_gone = walk.mark_gone

    def marking(recording_id: str, *, now: datetime) -> None:
        newest_before_marking.append(DataChange.objects.order_by("-pk").values_list("pk", flat=True).first())
        mark_gone(recording_id, now=now)

    monkeypatch.setattr(walk.Sync, "still_exists", still_exists)
    monkeypatch.setattr(walk, "mark_gone", marking)
    with pytest.raises(SyncError):
        sync_recordings(SyncOptions(full=True, workers=1), client=vobiz_client)
    assert Recording.objects.exclude(gone_at=None).count() == 1 and len(newest_before_marking) == 1
    assert DataChange.objects.order_by("-pk").values_list("pk", flat=True).first() != newest_before_marking[0]
