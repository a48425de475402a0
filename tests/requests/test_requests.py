"""Opening a data-subject request, its page, and each step of its lifecycle over HTTP: four eyes, and
no step replayed, forged or taken out of turn."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from recordings.auditing.holds import place_hold
from recordings.management.commands import rundashboard
from recordings.models import AuditEvent, DeletionBatch, Recording, SubjectRequest
from recordings.requests import export, selectors, services
from recordings.requests.numbers import keyed_hash
from recordings.requests.selectors import recordings_of
from tests.requests.conftest import PERSON, PERSON_AS

pytestmark = pytest.mark.django_db
Action = AuditEvent.Action


def opened(actor, kind="erasure", **extra):
    fields = {"number": "098450 12345", "reference": "T-77", "due_on": timezone.localdate(), "time_zone": "UTC"}
    return services.open_request(actor=actor, kind=kind, **{**fields, **extra})


def test_opening_a_request_reads_the_number_in_any_form_and_sets_the_due_date(synced, auditor_client, settings):
    settings.DSR_DUE_DAYS = 30
    response = auditor_client.post(
        "/requests/", {"number": "98450 12345", "kind": "both", "reference": "T-1", "time_zone": "Asia/Kolkata"}
    )
    made = SubjectRequest.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/requests/{made.pk}/"
    assert made.number == PERSON and made.number_hash == keyed_hash(PERSON)
    assert made.due_on == timezone.localdate() + timedelta(days=30)
    assert made.status == SubjectRequest.Status.OPEN and made.opened_by_name == "ada"
    event = AuditEvent.objects.get(action=Action.DSR_OPEN)
    assert event.username == "ada" and event.note.startswith(f"data-subject request #{made.pk}")
    assert "2345" not in event.note  # the log names the request, never the number


@pytest.mark.parametrize(
    "number, due, error",
    [
        ("anonymous", "", "is not a phone number"),
        ("12", "", "is not a possible phone number"),
        ("98450 12345", "2001-01-01", "The due date is in the past"),
    ],
)
def test_a_bad_request_is_refused_with_its_reason(auditor_client, number, due, error):
    data = {"number": number, "kind": "access", "reference": "T-1", "time_zone": "UTC", "due_on": due}
    response = auditor_client.post("/requests/", data)
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not SubjectRequest.objects.exists()


def test_the_page_lists_every_recording_of_the_number_with_what_is_kept_about_it(synced, auditor_client, actor):
    made = opened(actor)
    recordings = list(recordings_of(made))
    assert len(recordings) == len(PERSON_AS)
    page = auditor_client.get(f"/requests/{made.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f"{len(PERSON_AS)} recordings" in html
    for recording in recordings:
        assert recording.recording_id in html


def test_support_staff_cannot_see_or_act_on_requests(synced, support_client, actor):
    made = opened(actor)
    assert support_client.get("/requests/").status_code == 403
    assert support_client.post(f"/requests/{made.pk}/approve").status_code == 403


def fingerprint_shown(client, made) -> str:
    page = client.get(f"/requests/{made.pk}/approve")
    assert page.status_code == 200
    return re.search(r'name="fingerprint" value="([^"]+)"', page.content.decode())[1]


def test_four_eyes_the_opener_cannot_approve_and_a_second_auditor_can_once(synced, client, actor, approver):
    made = opened(actor)
    client.force_login(actor.user)
    response = client.post(f"/requests/{made.pk}/approve")
    assert response.status_code == 403
    assert "A second auditor approves" in response.content.decode()
    assert not DeletionBatch.objects.exists()
    assert SubjectRequest.objects.get().status == SubjectRequest.Status.OPEN

    client.force_login(approver.user)
    shown = fingerprint_shown(client, made)
    assert client.post(f"/requests/{made.pk}/approve", {"fingerprint": shown}).status_code == 302
    made.refresh_from_db()
    assert made.status == SubjectRequest.Status.ERASURE_APPROVED and made.approved_by_name == "bea"
    # Replayed: refused, and no second batch.
    assert client.post(f"/requests/{made.pk}/approve", {"fingerprint": shown}).status_code == 409
    assert DeletionBatch.objects.count() == 1
    assert AuditEvent.objects.filter(action=Action.DSR_APPROVE).count() == 1


@pytest.mark.parametrize(
    "step, kind, status",
    [
        ("approve", "access", 409),  # nothing to erase
        ("approve", "both", 409),  # the copy first
        ("erase", "erasure", 409),  # not approved
        ("copy.zip", "erasure", 409),  # nothing to copy
        ("nonsense", "erasure", 404),
    ],
)
def test_a_step_out_of_turn_is_refused_and_changes_nothing(synced, client, actor, approver, step, kind, status):
    made = opened(actor, kind=kind)
    client.force_login(approver.user)
    assert client.post(f"/requests/{made.pk}/{step}").status_code == status
    made.refresh_from_db()
    assert made.status == SubjectRequest.Status.OPEN
    assert not DeletionBatch.objects.exists()
    assert not Recording.objects.filter(deleted_at__isnull=False).exists()


def test_crafted_posts_get_4xx_never_a_500(synced, client, actor, approver):
    made = opened(actor)
    client.force_login(approver.user)
    assert client.post("/requests/999999/approve").status_code == 404
    assert client.post("/requests/abc/approve").status_code == 404
    assert client.put(f"/requests/{made.pk}/approve").status_code == 405
    assert client.post(f"/requests/{made.pk}/approve", {"fingerprint": "3-forged"}).status_code == 409
    assert client.post(f"/requests/{made.pk}/close").status_code == 302
    for step in ("approve", "erase", "close"):
        assert client.post(f"/requests/{made.pk}/{step}").status_code == 409
    assert not DeletionBatch.objects.exists()


def test_overdue_requests_are_red_on_the_list_and_in_auditors_top_strip(synced, client, support_user, actor):
    late = opened(actor)
    SubjectRequest.objects.filter(pk=late.pk).update(due_on=timezone.localdate() - timedelta(days=1))
    opened(actor, reference="T-78")  # due today: not overdue
    client.force_login(actor.user)
    html = client.get("/requests/").content.decode()
    assert html.count('class="is-overdue"') == 1
    assert "1 data-subject request overdue" in html
    client.force_login(support_user)
    assert "overdue" not in client.get("/").content.decode()


def test_the_demo_has_one_request_in_progress(synced, django_user_model):
    django_user_model.objects.create_user("demo")
    command = rundashboard.Command()
    command.ensure_demo_request()
    command.ensure_demo_request()  # a restart opens no second one
    made = SubjectRequest.objects.get()
    assert made.status == SubjectRequest.Status.OPEN and made.kind == SubjectRequest.Kind.BOTH
    assert recordings_of(made).exists()


def test_the_approval_shows_the_bulk_deletions_figures_and_deletes_only_what_it_showed(
    synced, client, actor, approver, fake_vobiz
):
    made = opened(actor)
    # Another person: the same ten digits, with the United States' code. The table's search finds them.
    other = Recording.objects.exclude(pk__in=recordings_of(made).values("pk")).order_by("pk").first()
    Recording.objects.filter(pk=other.pk).update(from_number="+1 984 501 2345", from_digits_reversed="54321054891")
    assert other.pk not in set(recordings_of(made).values_list("pk", flat=True))
    client.force_login(approver.user)
    page = client.get(f"/requests/{made.pk}/approve").content.decode()
    for words in ("To delete", "Storage freed", "Oldest", "Newest", "On legal hold", "Deleted or gone already"):
        assert words in page
    assert f"Delete {len(PERSON_AS)} recordings at Vobiz" in page
    assert "Near matches: not deleted" in page and other.recording_id in page
    shown = re.search(r'name="fingerprint" value="([^"]+)"', page)[1]
    assert shown.startswith(f"{len(PERSON_AS)}-")

    # A recording put on hold since the page: what was approved is not what would be deleted.
    place_hold(actor=actor, reason="court case 7", recording=recordings_of(made).first())
    refused = client.post(f"/requests/{made.pk}/approve", {"fingerprint": shown})
    assert refused.status_code == 409 and "changed since the page you approved" in refused.content.decode()
    assert SubjectRequest.objects.get().status == SubjectRequest.Status.OPEN and not DeletionBatch.objects.exists()

    assert "Near matches: not this person's" in client.get(f"/requests/{made.pk}/").content.decode()
    shown = fingerprint_shown(client, made)
    assert client.post(f"/requests/{made.pk}/approve", {"fingerprint": shown}).status_code == 302
    assert client.post(f"/requests/{made.pk}/erase").status_code == 302
    assert fake_vobiz.account.get(other.recording_id) is not None  # never deleted
    assert Recording.objects.get(pk=other.pk).from_number == "+1 984 501 2345"  # nor erased


def test_the_list_pages_with_overdue_requests_first(synced, client, actor, monkeypatch):
    monkeypatch.setattr(selectors, "REQUESTS_PER_PAGE", 2)
    late = opened(actor, reference="T-late")
    SubjectRequest.objects.filter(pk=late.pk).update(due_on=timezone.localdate() - timedelta(days=1))
    for reference in ("T-a", "T-b"):
        opened(actor, reference=reference)
    client.force_login(actor.user)
    html = client.get("/requests/").content.decode()
    assert "3 requests, 1 overdue: listed first." in html and "Page 1 of 2" in html
    assert html.index("T-late") < html.index("T-b") and "T-a" not in html
    assert "T-a" in client.get("/requests/", {"page": 2}).content.decode()


def test_pending_is_defined_once_for_a_row_and_for_a_query(synced, actor):
    made = opened(actor)
    for status in SubjectRequest.Status:
        for kind in SubjectRequest.Kind:
            SubjectRequest.objects.filter(pk=made.pk).update(status=status, kind=kind)
            row = SubjectRequest.objects.get(pk=made.pk)
            assert row.is_pending == SubjectRequest.objects.pending().filter(pk=made.pk).exists()


def test_an_export_finishing_after_the_request_was_closed_does_not_mark_it_exported(synced, actor):
    made = opened(actor, kind="access")
    chunks = export.start_export(actor=actor, subject_request=made)
    services.close(actor=actor, request_id=made.pk)
    assert b"".join(chunks)
    made.refresh_from_db()
    assert made.status == SubjectRequest.Status.CLOSED and made.exported_at is None and made.export_sha256 == ""
    assert AuditEvent.objects.get(action=Action.DSR_EXPORT).note.endswith("once the request was closed: not its copy")


def test_the_demo_request_skips_a_newest_call_without_a_phone_number(synced, django_user_model):
    django_user_model.objects.create_user("demo")
    newest = Recording.objects.present().filter(recording_type="call").first()
    Recording.objects.filter(pk=newest.pk).update(from_number="anonymous", to_number="sip:desk@example.com")
    rundashboard.Command().ensure_demo_request()
    made = SubjectRequest.objects.get()
    assert made.number and newest.pk not in set(recordings_of(made).values_list("pk", flat=True))
