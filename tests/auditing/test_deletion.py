"""Deletion batches: the confirmation states what confirming does, exactly that is done, holds against
deletions in flight, resuming a batch."""

import threading
import time
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from recordings.audit_trail import Actor
from recordings.auditing import deletion
from recordings.auditing.deletion import (
    HELD_AT_ASKING,
    DeletionRefused,
    confirm_deletion,
    lock_name,
    prepare_deletion,
    process_batch,
    start_deletion,
)
from recordings.auditing.holds import place_hold
from recordings.formatting import money
from recordings.locks import DatabaseLock
from recordings.models import DeletionBatch, DeletionOutcome, Recording
from recordings.sync.run import sync_recordings
from recordings.sync.walk import SyncOptions
from tests.conftest import AUTH_ID, AUTH_TOKEN
from vobiz.fake.data import FakeAccount

pytestmark = pytest.mark.django_db
Status = DeletionOutcome.Status


@pytest.fixture
def fake_account():
    return FakeAccount(count=30, seed=9, auth_id=AUTH_ID, auth_token=AUTH_TOKEN)


def deletes(server):
    return [r.path for r in server.requests_log if r.method == "DELETE"]


def first_recordings(count):
    return Recording.objects.filter(pk__in=list(Recording.objects.order_by("pk").values_list("pk", flat=True)[:count]))


def requester(user):
    return Actor(user=user, ip_address="127.0.0.1", user_agent="tests")


# -- exactly what the confirmation showed ---------------------------------------------------------


def test_a_recording_arriving_after_the_confirmation_page_is_not_deleted(synced, vobiz_client, auditor_client):
    view = {"scope": "view", "filter_query": "recording_format=wav"}
    confirmation = auditor_client.post("/bulk/delete", view)
    shown = set(Recording.objects.filter(recording_format="wav").values_list("recording_id", flat=True))
    assert confirmation.context["choice"].to_delete == len(shown)

    # Meanwhile a new wav recording arrives, and one shown is deleted elsewhere: the count is the same.
    known = set(Recording.objects.values_list("pk", flat=True))
    synced.account.add_recordings(3)
    sync_recordings(SyncOptions(), client=vobiz_client)
    new_rows = Recording.objects.exclude(pk__in=known)
    new_rows.update(recording_format="wav")  # in the view, whatever the fake made them
    arrived = set(new_rows.values_list("recording_id", flat=True))
    assert len(arrived) == 3
    gone_meanwhile = sorted(shown)[0]
    Recording.objects.filter(recording_id=gone_meanwhile).update(deleted_at="2026-11-30T10:00:00Z")

    auditor_client.post("/bulk/delete", {**view, "batch": confirmation.context["batch"].pk, "reason": "purge"})
    deleted = {path.rstrip("/").rsplit("/", 1)[-1] for path in deletes(synced)}
    assert deleted == shown - {gone_meanwhile}
    assert not deleted & arrived
    for recording_id in arrived:
        assert synced.account.get(recording_id) is not None
    outcome = DeletionOutcome.objects.get(recording__recording_id=gone_meanwhile)
    assert outcome.status == Status.ALREADY_GONE


def test_more_than_a_batch_allows_is_refused_not_cut_to_the_first_ones(synced, auditor_client, monkeypatch):
    monkeypatch.setattr(deletion, "MAX_PER_BATCH", 3)
    ids = list(Recording.objects.values_list("recording_id", flat=True)[:5])
    response = auditor_client.post("/bulk/delete", {"selected": ids}, follow=True)
    assert b"At most 3 recordings can be deleted at once" in response.content
    assert not DeletionBatch.objects.exists()
    assert deletes(synced) == []


def test_an_invalid_filter_is_an_error_not_a_wider_deletion(synced, auditor_client):
    response = auditor_client.post(
        "/bulk/delete", {"scope": "view", "filter_query": "recording_format=wav&min_duration=abc"}, follow=True
    )
    assert b"The filters are not valid" in response.content
    assert not DeletionBatch.objects.exists()


def test_only_the_auditor_shown_a_batch_confirms_it_and_only_once(synced, auditor_client, django_user_model):
    other = django_user_model.objects.create_superuser("eve", password="pw")
    batch = prepare_deletion(actor=requester(other), recordings=first_recordings(2))
    response = auditor_client.post("/bulk/delete", {"batch": batch.pk, "reason": "mine now"})
    assert response.status_code == 404
    confirm_deletion(user=other, batch_id=batch.pk, reason="ok")
    with pytest.raises(DeletionRefused):
        confirm_deletion(user=other, batch_id=batch.pk, reason="again")


def test_an_unconfirmed_batch_deletes_nothing(synced, auditor_user):
    batch = prepare_deletion(actor=requester(auditor_user), recordings=first_recordings(2))
    assert process_batch(batch.pk) is True
    assert deletes(synced) == []
    assert set(batch.outcomes.values_list("status", flat=True)) == {Status.PENDING}


# -- the confirmation page states what confirming does ---------------------------------------------


def confirmation_of(client, **posted):
    return client.post("/bulk/delete", posted)


def hold(user, recording):
    place_hold(actor=requester(user), reason="dispute", recording=recording)


def test_the_confirmation_restates_the_filters_the_count_the_cost_freed_and_the_holds(
    synced, auditor_client, auditor_user
):
    wav = Recording.objects.filter(recording_format="wav").order_by("pk")
    wav.update(monthly_recording_storage_amount=Decimal("1.25"))
    held, tombstone, *to_delete = wav
    hold(auditor_user, held)
    Recording.objects.filter(pk=tombstone.pk).update(deleted_at=timezone.now())
    filter_query = "recording_format=wav&status=all&older_than=2"

    page = confirmation_of(auditor_client, scope="view", filter_query=filter_query)
    body = page.content.decode()
    assert f"Delete {len(to_delete)} recordings at Vobiz?" in body
    for label, value in [("Format", "WAV"), ("Status", "All, with deleted"), ("Older than (days)", "2")]:
        assert f"{label}: <strong>{value}</strong>" in body
    assert "nothing younger" in body  # what the bound includes, as the form says
    assert f"{money(Decimal('1.25') * len(to_delete))} / month" in body
    assert "On legal hold</dt><dd>1: kept, not deleted" in body
    assert "Deleted or gone already</dt><dd>1: left out" in body
    assert f"Delete {len(to_delete)} at Vobiz</button>" in body

    # What is stored is what was counted, and confirming deletes exactly that.
    batch = page.context["batch"]
    pending = set(batch.outcomes.filter(status=Status.PENDING).values_list("recording_id", flat=True))
    assert pending == {recording.pk for recording in to_delete}
    result = auditor_client.post("/bulk/delete", {"batch": batch.pk, "reason": "retention"}, follow=True)
    deleted = {path.rstrip("/").rsplit("/", 1)[-1] for path in deletes(synced)}
    assert sorted(deleted) == sorted(recording.recording_id for recording in to_delete)
    assert batch.outcomes.get(recording=held).message == HELD_AT_ASKING
    assert not batch.outcomes.filter(recording=tombstone).exists()
    assert "Deleted or gone already</dt><dd>1: left out" in result.content.decode()  # the batch's page says so too
    assert "Format: <strong>WAV</strong>" in result.content.decode()


def test_the_table_summary_and_the_confirmation_show_the_filters_alike(synced, auditor_client):
    filter_query = "recording_type=call&from_number=3210&added_before=2030-01-31"
    table = auditor_client.get(f"/?{filter_query}").content.decode()
    page = confirmation_of(auditor_client, scope="view", filter_query=filter_query).content.decode()
    filters = ["Type: <strong>Call</strong>", "From: <strong>3210</strong>", "Added until: <strong>31 Jan 2030"]
    for shown in filters:
        assert shown in table
        assert shown in page


@pytest.mark.parametrize(
    "filter_query, shown",
    [
        ("q=3210", "Search: <strong>3210</strong>"),
        ("transcript=refund", "Words said: <strong>refund</strong>"),
        ("masked=masked", "Transcript: <strong>Payment or ID data masked</strong>"),
        ("hold=free&review=none", "Review: <strong>Not reviewed</strong>"),
        ("status=removed", "Status: <strong>Deleted or gone</strong>"),
        ("min_duration=2.5&max_duration=60", "Min seconds: <strong>2.5</strong>"),
    ],
)
def test_every_filter_of_the_table_is_restated(synced, auditor_client, filter_query, shown):
    page = confirmation_of(auditor_client, scope="view", filter_query=filter_query)
    assert page.status_code == 200
    assert shown in page.content.decode()


def test_a_hold_placed_after_the_confirmation_page_is_reported_not_deleted(synced, auditor_client, auditor_user):
    chosen = list(Recording.objects.order_by("pk")[:3])
    page = confirmation_of(auditor_client, selected=[r.recording_id for r in chosen])
    assert page.context["choice"].to_delete == 3
    hold(auditor_user, chosen[1])
    result = auditor_client.post("/bulk/delete", {"batch": page.context["batch"].pk, "reason": "x"}, follow=True)
    outcome = DeletionOutcome.objects.get(recording=chosen[1])
    assert (outcome.status, outcome.message) == (Status.HELD, "put on legal hold after the deletion was asked: kept")
    assert synced.account.get(chosen[1].recording_id) is not None
    assert len(deletes(synced)) == 2
    assert "put on legal hold after the deletion was asked" in result.content.decode()


def all_held(user):
    recording = Recording.objects.order_by("pk").first()
    place_hold(actor=requester(user), reason="dispute", call_uuid=recording.call_uuid)
    return {"scope": "view", "filter_query": f"call_uuid={recording.call_uuid}"}


def all_deleted(user):
    chosen = list(Recording.objects.order_by("pk")[:2])
    Recording.objects.filter(pk__in=[r.pk for r in chosen]).update(deleted_at=timezone.now())
    return {"selected": [r.recording_id for r in chosen]}


@pytest.mark.parametrize(
    "chosen, why",
    [
        (all_held, "every chosen recording still at Vobiz is on legal hold"),
        (all_deleted, "the chosen recordings are deleted or gone at Vobiz already"),
        (lambda user: {"scope": "view", "filter_query": "call_uuid=no-such-call"}, "no recording matches"),
        (lambda user: {}, "no row is ticked"),
        (lambda user: {"selected": ["no-such-recording", "<script>"]}, "no row is ticked"),
    ],
)
def test_nothing_deletable_offers_no_delete_and_says_why(synced, auditor_client, auditor_user, chosen, why):
    page = confirmation_of(auditor_client, **chosen(auditor_user))
    assert page.status_code == 200
    body = page.content.decode()
    assert "Nothing is deleted</h1>" in body and why in body
    assert 'name="batch"' not in body and "btn-danger" not in body
    assert not DeletionBatch.objects.exists()
    assert deletes(synced) == []


def test_more_than_a_batch_allows_says_so_and_offers_no_delete(synced, auditor_client, monkeypatch):
    monkeypatch.setattr(deletion, "MAX_PER_BATCH", 3)
    body = confirmation_of(auditor_client, scope="view", filter_query="").content.decode()
    assert "To delete</dt><dd>More than 3</dd>" in body
    assert "At most 3 recordings can be deleted at once. Narrow the filters." in body
    assert 'name="batch"' not in body


def test_an_empty_view_offers_no_bulk_actions_and_refuses_crafted_ones(synced, auditor_client):
    """A crafted export of an empty view still gets its CSV header (tests/browsing/test_recording_list.py):
    a read, changing nothing, where a script may want an empty file."""
    actions = ["Download ZIP", "Delete…", "Export CSV"]
    full = auditor_client.get("/").content.decode()
    assert all(action in full for action in actions)
    empty = auditor_client.get("/", {"call_uuid": "no-such-call"}).content.decode()
    assert not any(action in empty for action in actions)

    nothing = {"scope": "view", "filter_query": "call_uuid=no-such-call"}
    zip_download = auditor_client.post("/recordings/download.zip", nothing, follow=True)
    assert "there is nothing to download" in zip_download.content.decode()


@pytest.mark.parametrize("batch", ["", "abc", "-1", "99999", "1e3"])
def test_a_crafted_confirmation_of_no_batch_is_refused_not_an_error(synced, auditor_client, batch):
    response = auditor_client.post("/bulk/delete", {"batch": batch, "reason": "x"})
    assert response.status_code == 404
    assert deletes(synced) == []


def test_a_confirmation_without_a_reason_shows_the_same_page_again(synced, auditor_client, auditor_user):
    hold(auditor_user, Recording.objects.filter(recording_format="wav").first())
    page = confirmation_of(auditor_client, scope="view", filter_query="recording_format=wav")
    again = auditor_client.post("/bulk/delete", {"batch": page.context["batch"].pk, "reason": ""})
    assert again.context["choice"] == page.context["choice"]
    body = again.content.decode()
    assert "Say why: the reason is kept in the audit log." in body
    assert "Format: <strong>WAV</strong>" in body and "On legal hold</dt><dd>1: kept" in body
    assert deletes(synced) == []


# -- legal holds against deletions in flight ------------------------------------------------------


class HoldDuringDelete:
    """A Vobiz client whose deletion of a recording is under way when an auditor places a hold on it."""

    def __init__(self, client, user):
        self.client = client
        self.user = user
        self.placed = []

    def get_recording(self, recording_id):
        return self.client.get_recording(recording_id)

    def delete_recording(self, recording_id):
        recording = Recording.objects.get(recording_id=recording_id)
        self.placed.append(place_hold(actor=requester(self.user), reason="dispute", recording=recording))
        return self.client.delete_recording(recording_id)


def test_a_hold_placed_while_vobiz_deletes_the_recording_is_reported_both_ways(synced, vobiz_client, auditor_user):
    recording = Recording.objects.first()
    batch = start_deletion(
        actor=requester(auditor_user), recordings=Recording.objects.filter(pk=recording.pk), reason="cleanup"
    )
    client = HoldDuringDelete(vobiz_client, auditor_user)
    process_batch(batch.pk, client=client)
    assert client.placed[0].deletions_in_flight == [batch.pk]  # the auditor placing it is told
    outcome = batch.outcomes.get()
    assert outcome.status == Status.DELETED
    assert "a legal hold was placed while Vobiz was deleting it" in outcome.message


def test_a_hold_placed_before_the_deletion_reaches_a_recording_keeps_it(synced, vobiz_client, auditor_user):
    first, second = Recording.objects.order_by("pk")[:2]
    batch = start_deletion(
        actor=requester(auditor_user), recordings=Recording.objects.filter(pk__in=[first.pk, second.pk]), reason="x"
    )
    client = HoldDuringDelete(vobiz_client, auditor_user)
    client.delete_recording = lambda recording_id: (  # deleting the first, a hold lands on the second
        place_hold(actor=requester(auditor_user), reason="dispute", recording=second),
        vobiz_client.delete_recording(recording_id),
    )
    process_batch(batch.pk, client=client)
    statuses = dict(batch.outcomes.values_list("recording_id", "status"))
    assert statuses == {first.pk: Status.DELETED, second.pk: Status.HELD}
    assert synced.account.get(second.recording_id) is not None


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="row locks: SQLite locks the whole database")
@pytest.mark.django_db(transaction=True)
def test_placing_a_hold_waits_for_the_row_lock_a_deletion_holds(synced, auditor_user):
    recording = Recording.objects.first()
    locked, release = threading.Event(), threading.Event()

    def deletion_checking_the_row():
        with transaction.atomic():
            Recording.objects.select_for_update().get(pk=recording.pk)
            locked.set()
            release.wait(5)
        connection.close()

    thread = threading.Thread(target=deletion_checking_the_row)
    thread.start()
    locked.wait(5)
    started = time.monotonic()
    threading.Timer(0.5, release.set).start()
    place_hold(actor=requester(auditor_user), reason="dispute", recording=recording)
    thread.join()
    assert time.monotonic() - started >= 0.4


# -- resuming a batch a worker left ---------------------------------------------------------------


def test_a_resumed_batch_asks_vobiz_about_a_deletion_left_in_flight_instead_of_sending_it_again(
    synced, vobiz_client, auditor_user
):
    sent, unsent = Recording.objects.order_by("pk")[:2]
    batch = start_deletion(
        actor=requester(auditor_user), recordings=Recording.objects.filter(pk__in=[sent.pk, unsent.pk]), reason="x"
    )
    # The worker that died had sent the first deletion (Vobiz carried it out) and marked the second.
    synced.account.delete(sent.recording_id)
    batch.outcomes.update(status=Status.ATTEMPTING)
    synced.reset_log()

    process_batch(batch.pk, client=vobiz_client)
    assert deletes(synced) == [f"/api/v1/Account/{AUTH_ID}/Recording/{unsent.recording_id}/"]
    statuses = dict(batch.outcomes.values_list("recording_id", "status"))
    assert statuses == {sent.pk: Status.DELETED, unsent.pk: Status.DELETED}
    assert Recording.objects.filter(pk__in=[sent.pk, unsent.pk], deleted_at__isnull=False).count() == 2


def test_a_batch_another_live_worker_holds_is_left_to_it(synced, vobiz_client, auditor_user):
    batch = start_deletion(actor=requester(auditor_user), recordings=first_recordings(2), reason="x")
    with DatabaseLock(lock_name(batch.pk)):
        assert process_batch(batch.pk, client=vobiz_client) is False
    assert deletes(synced) == []
    assert process_batch(batch.pk, client=vobiz_client) is True
    assert len(deletes(synced)) == 2


def delete_buttons(content):
    """The table's Delete… buttons: for the ticked rows and for the whole view."""
    return content.count('formaction="/bulk/delete">Delete…</button>')


def queries_for(client, query):
    with CaptureQueriesContext(connection) as queries:
        content = client.get(f"/?{query}").content.decode()
    return content, len(queries)


def test_a_view_entirely_on_hold_offers_no_delete_at_the_same_query_count(synced, auditor_client, auditor_user):
    call_uuid = Recording.objects.order_by("pk").first().call_uuid
    place_hold(actor=requester(auditor_user), reason="dispute", call_uuid=call_uuid)
    one_call, other_call = f"q={call_uuid}", f"q={Recording.objects.exclude(call_uuid=call_uuid).first().call_uuid}"
    queries_for(auditor_client, one_call), queries_for(auditor_client, other_call)  # counts cached alike

    held, held_queries = queries_for(auditor_client, one_call)
    free, free_queries = queries_for(auditor_client, other_call)
    assert delete_buttons(free) == 2 and "nothing to delete" not in free
    assert delete_buttons(held) == 0 and "All on legal hold: nothing to delete" in held
    assert "Download ZIP" in held  # what is held can still be fetched
    assert held_queries == free_queries

    # Filtered to held recordings, however many: known from the filter alone.
    assert "All on legal hold: nothing to delete" in queries_for(auditor_client, "hold=held")[0]
    # A larger view, partly held, keeps its Delete: its confirmation says how many are held.
    assert delete_buttons(queries_for(auditor_client, "per_page=25")[0]) == 2


def test_an_invalid_table_option_is_named_in_the_refusal(synced, auditor_client):
    response = auditor_client.post(
        "/bulk/delete", {"scope": "view", "filter_query": "recording_format=wav&per_page=7"}, follow=True
    )
    assert b"The filters are not valid, so nothing was chosen: Select a valid choice." in response.content
    assert not DeletionBatch.objects.exists()
