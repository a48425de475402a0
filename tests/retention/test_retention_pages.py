"""/retention/ through the test client: writing, approving, retiring and pausing rules as auditors do,
and crafted POSTs answered 4xx, never 500, never with a rule that was not approved."""

import html
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from recordings.auditing.holds import place_hold
from recordings.background.tasks import queue_retention
from recordings.browsing.freshness import data_changed
from recordings.models import AuditEvent, DeletionBatch, Recording, RetentionRule, RetentionSwitch, SyncRun
from recordings.retention import matching, rules
from tests.factories import make_recordings
from tests.retention.conftest import actor, age

pytestmark = pytest.mark.django_db


def write_rule(client, **fields):
    data = {"name": "Trunk calls", "action": "delete", "age_days": "90", "filter_query": "recording_type=trunk"}
    return client.post("/retention/", {**data, **fields})


def test_an_auditor_writes_a_rule_and_sees_its_dry_run(auditor_client):
    trunk = make_recordings(3, recording_type="trunk", monthly_recording_storage_amount="0.25")
    make_recordings(2, recording_type="call")
    age(trunk[:2], 120)
    response = write_rule(auditor_client)
    rule = RetentionRule.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/retention/{rule.pk}/"
    page = auditor_client.get(f"/retention/{rule.pk}/").content.decode()
    assert "Waits for approval" in page
    assert "Type: <strong>Trunk</strong>" in page
    assert "<dt>To delete</dt><dd>2" in page
    assert "₹0.50 / month" in page
    assert "Approve version" not in page  # its author cannot
    assert "a second auditor approves it" in page


def test_the_table_offers_its_view_as_a_rule(auditor_client):
    make_recordings(1, recording_type="trunk")
    table = auditor_client.get("/", {"recording_type": "trunk"}).content.decode()
    assert "/retention/?view=recording_type%3Dtrunk" in table
    form = auditor_client.get("/retention/", {"view": "recording_type=trunk"}).content.decode()
    assert 'value="recording_type=trunk"' in form


def test_a_second_auditor_approves_from_the_rule_page(auditor_client, second_auditor):
    write_rule(auditor_client)
    rule = RetentionRule.objects.get()
    client = Client()
    client.force_login(second_auditor)
    assert "Approve version 1" in client.get(f"/retention/{rule.pk}/").content.decode()
    response = client.post(f"/retention/{rule.pk}/approve", {"version": "1"})
    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.effective is not None and rule.approved_by == second_auditor


@pytest.mark.parametrize(
    ("path", "data", "status"),
    [
        ("/retention/{pk}/approve", {"version": "1"}, 409),  # its own author
        ("/retention/{pk}/approve", {"version": "2"}, 409),  # a version never shown
        ("/retention/{pk}/approve", {"version": "x"}, 400),
        ("/retention/{pk}/approve", {}, 400),
        ("/retention/{pk}/retire", {"version": "-1"}, 400),
        ("/retention/{pk}/", {"version": "1", "name": "", "action": "delete", "age_days": "1"}, 400),
        ("/retention/{pk}/", {"version": "1", "name": "x", "action": "purge", "age_days": "1"}, 400),
        ("/retention/{pk}/", {"version": "1", "name": "x", "action": "delete", "age_days": "0"}, 400),
        ("/retention/{pk}/", {"version": "9", "name": "x", "action": "delete", "age_days": "5"}, 409),
        ("/retention/999/approve", {"version": "1"}, 404),
        ("/retention/pause", {"paused": "maybe"}, 400),
    ],
)
def test_crafted_posts_are_refused_and_change_nothing(auditor_client, path, data, status):
    write_rule(auditor_client)
    rule = RetentionRule.objects.get()
    events = AuditEvent.objects.count()
    response = auditor_client.post(path.format(pk=rule.pk), data)
    assert response.status_code == status
    rule.refresh_from_db()
    assert rule.effective is None and rule.version == 1 and rule.name == "Trunk calls"
    assert AuditEvent.objects.count() == events


def test_a_rule_refusing_its_view_says_why(auditor_client):
    response = write_rule(auditor_client, filter_query="transcript=card")
    assert response.status_code == 400
    assert "Words said can't be part of a rule" in html.unescape(response.content.decode())
    assert not RetentionRule.objects.exists()


def test_support_staff_cannot_see_or_write_rules(support_client):
    assert support_client.get("/retention/").status_code == 403
    assert write_rule(support_client).status_code == 403
    assert not RetentionRule.objects.exists()


def test_the_switch_pauses_every_rule_and_sync_page_says_so(auditor_client):
    assert auditor_client.post("/retention/pause", {"paused": "1"}).status_code == 302
    assert RetentionSwitch.objects.get().paused
    page = auditor_client.get("/sync/").content.decode()
    assert "Every retention rule is paused" in page
    auditor_client.post("/retention/pause", {"paused": "0"})
    assert not RetentionSwitch.objects.get().paused
    assert list(AuditEvent.objects.values_list("note", flat=True).order_by("id")) == [
        "Paused every retention rule.",
        "Resumed retention.",
    ]


def test_a_run_shows_on_the_sync_page_and_the_rule_page(synced, auditor_user, second_auditor, auditor_client):
    age(Recording.objects.all(), 10)
    age(list(Recording.objects.all()[:5]), 400)
    rule = rules.create_rule(actor=actor(auditor_user), name="Old", action="delete", filter_query="", age_days=365)
    rules.approve_rule(actor=actor(second_auditor), rule_id=rule.pk, version=rule.version)
    queue_retention()
    sync_page = auditor_client.get("/sync/").content.decode()
    assert f'href="/retention/{rule.pk}/">Old</a>' in sync_page
    assert ": 5 deleted, finished" in sync_page
    rule_page = auditor_client.get(f"/retention/{rule.pk}/").content.decode()
    assert ": 5 deleted, finished" in rule_page
    batch = DeletionBatch.objects.get()
    batch_page = auditor_client.get(f"/deletions/{batch.pk}/").content.decode()
    assert f'Asked by the retention rule <a href="/retention/{rule.pk}/">Old</a>' in batch_page


def test_the_rule_page_says_when_a_waiting_rule_applies_unopposed(auditor_client, settings):
    write_rule(auditor_client)
    rule = RetentionRule.objects.get()
    assert "for a second auditor's approval, or until" in html.unescape(
        auditor_client.get(f"/retention/{rule.pk}/").content.decode()
    )
    RetentionRule.objects.update(awaits_since=rule.awaits_since - timedelta(days=settings.RETENTION_GRACE_DAYS))
    page = auditor_client.get(f"/retention/{rule.pk}/").content.decode()
    assert "it applies unopposed from the next run" in page


def test_a_dry_run_stops_counting_at_a_days_cap_and_shows_the_next_runs_figures(auditor_client, settings):
    settings.RETENTION_MAX_PER_RUN = 3
    trunk = make_recordings(5, recording_type="trunk", monthly_recording_storage_amount="1.00")
    for days, recording in enumerate(trunk):
        age([recording], 200 + days)
    write_rule(auditor_client)
    page = auditor_client.get(f"/retention/{RetentionRule.objects.get().pk}/").content.decode()
    assert "<dt>To delete</dt><dd>More than 3: a run deletes at most 3 a day" in page
    assert "what storing these 3 at Vobiz costs a month now" in page


@pytest.mark.parametrize(("due", "to_delete"), [(3, "3</dd>"), (4, "More than 3: a run deletes at most 3 a day")])
def test_a_dry_run_says_more_only_beyond_the_cap_and_gives_the_figures_of_the_caps_oldest(
    auditor_client, settings, due, to_delete
):
    settings.RETENTION_MAX_PER_RUN = 3
    trunk = make_recordings(due, recording_type="trunk", monthly_recording_storage_amount="1.00")
    for days, recording in enumerate(trunk):
        age([recording], 200 + days)
    make_recordings(2, recording_type="call", monthly_recording_storage_amount="5.00")  # not the rule's
    write_rule(auditor_client)
    page = auditor_client.get(f"/retention/{RetentionRule.objects.get().pk}/").content.decode()
    assert f"<dt>To delete</dt><dd>{to_delete}" in page
    assert "₹3.00 / month" in page
    figures = matching.dry_run(matching.current(RetentionRule.objects.get()), limit=3)
    oldest_three = Recording.objects.filter(recording_type="trunk").order_by("add_time")[:3]
    assert (figures.oldest, figures.newest) == (oldest_three[0].add_time, oldest_three[2].add_time)
    assert (figures.to_delete, figures.more) == (3, due > 3)


def test_a_broken_keep_rule_is_named_on_every_delete_rules_page(auditor_client):
    write_rule(auditor_client)
    write_rule(auditor_client, name="Keep wav", action="keep", filter_query="recording_format=wav", age_days="365")
    RetentionRule.objects.filter(name="Keep wav").update(filter_query="recording_format=flac")
    delete_rule = RetentionRule.objects.get(name="Trunk calls")
    page = auditor_client.get(f"/retention/{delete_rule.pk}/").content.decode()
    assert "“Keep wav” no longer names a valid view: fix it. No rule deletes anything until then." in page


def test_a_dry_run_is_kept_until_the_data_or_a_rule_changes(auditor_client):
    SyncRun.objects.create(mode="full", status="succeeded", started_at=timezone.now(), pages=1)
    age(make_recordings(3, recording_type="trunk"), 120)
    write_rule(auditor_client)
    rule = RetentionRule.objects.get()

    def to_delete():
        with CaptureQueriesContext(connection) as context:
            page = auditor_client.get(f"/retention/{rule.pk}/").content.decode()
        counted = sum(q["sql"].startswith("SELECT COUNT(") and "recordings_recording" in q["sql"] for q in context)
        return page.split("<dt>To delete</dt><dd>")[1].split("<")[0].strip(), counted

    first = to_delete()
    assert first[0].startswith("3") and first[1] > 0
    assert to_delete() == (first[0], 0)  # kept
    age(make_recordings(1, recording_type="trunk"), 120)
    data_changed()
    assert to_delete()[0].startswith("4")
    # Another keep rule changes what the delete rule leaves: its figures are counted again.
    write_rule(auditor_client, name="Keep trunk", action="keep", filter_query="recording_type=trunk", age_days="365")
    assert to_delete()[0].startswith("0")


def spared_url(page):
    """The URL the page's script fetches for what its dry run spares: None when it came with the page."""
    found = re.search(r'data-spared-url="([^"]+)"', page)
    return html.unescape(found.group(1)) if found else None


def rule_with_spared(auditor_client, auditor_user):
    """A delete rule of 4 trunk recordings due, one held and one a keep rule keeps, after a sync."""
    SyncRun.objects.create(mode="full", status="succeeded", started_at=timezone.now(), pages=1)
    trunk = make_recordings(5, recording_type="trunk")
    age(trunk, 120)
    place_hold(actor=actor(auditor_user), recording=trunk[0], reason="litigation")
    Recording.objects.filter(pk=trunk[1].pk).update(review_state="flagged")
    write_rule(auditor_client)
    write_rule(auditor_client, name="Keep flagged", action="keep", filter_query="review=flagged", age_days="365")
    return RetentionRule.objects.get(name="Trunk calls"), trunk


def test_what_a_dry_run_spares_is_counted_after_the_page_for_the_figures_it_showed(auditor_client, auditor_user):
    rule, _ = rule_with_spared(auditor_client, auditor_user)
    page = auditor_client.get(f"/retention/{rule.pk}/").content.decode()
    assert "<dt>To delete</dt><dd>3" in page
    url = spared_url(page)
    assert re.fullmatch(rf"/retention/{rule.pk}/spared\?version=1&figures=[0-9a-f]{{32}}", url)
    assert "<dd data-spared data-counting>counting…</dd>" in page and "kept, not deleted" not in page
    assert "<noscript>" in page

    spared = auditor_client.get(url)
    assert spared.status_code == 200
    facts = spared.content.decode()
    assert "<dt>On legal hold</dt><dd>1: kept, not deleted</dd>" in facts
    assert "<dt>Kept by keep rules</dt><dd>1: kept, not deleted</dd>" in facts
    # Counted once, the page shows them at once, with no script to ask.
    again = auditor_client.get(f"/retention/{rule.pk}/").content.decode()
    assert "<dt>On legal hold</dt><dd>1: kept, not deleted</dd>" in again
    assert "data-spared" not in again and "<noscript>" not in again


def flag(recording):
    Recording.objects.filter(pk=recording.pk).update(review_state="flagged")
    data_changed()


def a_day_later(monkeypatch):
    bound = matching.age_bound
    monkeypatch.setattr(matching, "age_bound", lambda age_days: bound(age_days) + timedelta(days=1))


@pytest.mark.parametrize(
    "change",
    [
        lambda trunk, user, client, monkeypatch: place_hold(actor=actor(user), recording=trunk[2], reason="dispute"),
        lambda trunk, user, client, monkeypatch: flag(trunk[2]),
        lambda trunk, user, client, monkeypatch: write_rule(
            client, name="Keep wav", action="keep", filter_query="recording_format=wav", age_days="365"
        ),
        lambda trunk, user, client, monkeypatch: a_day_later(monkeypatch),
    ],
    ids=["hold placed", "recording flagged", "keep rule written", "midnight"],
)
def test_what_a_dry_run_spares_is_never_counted_for_other_data_than_its_figures(
    auditor_client, auditor_user, monkeypatch, change
):
    rule, trunk = rule_with_spared(auditor_client, auditor_user)
    url = spared_url(auditor_client.get(f"/retention/{rule.pk}/").content.decode())
    change(trunk, auditor_user, auditor_client, monkeypatch)
    response = auditor_client.get(url)
    assert response.status_code == 409 and b"kept, not deleted" not in response.content
    assert b"look at the page again" in response.content
    # The page shown again has figures of the data now, and what they spare is counted for those.
    page = auditor_client.get(f"/retention/{rule.pk}/").content.decode()
    assert auditor_client.get(spared_url(page)).status_code == 200


def test_before_a_sync_a_dry_run_counts_what_it_spares_with_the_page(auditor_client):
    trunk = make_recordings(2, recording_type="trunk")
    age(trunk, 120)
    Recording.objects.filter(pk__in=[r.pk for r in trunk]).update(review_state="flagged")
    write_rule(auditor_client)
    write_rule(auditor_client, name="Keep flagged", action="keep", filter_query="review=flagged", age_days="365")
    page = auditor_client.get(f"/retention/{RetentionRule.objects.get(name='Trunk calls').pk}/").content.decode()
    assert "<dt>Kept by keep rules</dt><dd>2: kept, not deleted</dd>" in page and "data-spared" not in page


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ({"version": "2", "figures": "0" * 32}, 409),
        ({"version": "1", "figures": "0" * 32}, 409),
        ({"version": "9" * 30, "figures": "0" * 32}, 409),
        ({"version": "0", "figures": "0" * 32}, 400),
        ({"version": "x", "figures": "0" * 32}, 400),
        ({"version": "1"}, 400),
        ({"version": "1", "figures": ""}, 400),
        ({"version": "1", "figures": "0" * 33}, 400),
        ({"version": "1", "figures": "0" * 31 + "\n"}, 400),
        ({"version": "1", "figures": "\x00" * 32}, 400),
        ({"version": "1", "figures": "G" * 32}, 400),
        ({"figures": "0" * 32}, 400),
        ({}, 400),
    ],
)
def test_what_a_dry_run_spares_is_never_counted_for_another_version_or_figures(
    auditor_client, auditor_user, query, status
):
    rule, _ = rule_with_spared(auditor_client, auditor_user)
    auditor_client.get(f"/retention/{rule.pk}/")
    response = auditor_client.get(f"/retention/{rule.pk}/spared", query)
    assert response.status_code == status and b"kept, not deleted" not in response.content


def test_a_keep_rule_and_a_broken_one_answer_no_spared_figures(auditor_client, support_user):
    shown = {"version": "1", "figures": "0" * 32}
    write_rule(auditor_client, name="Keep wav", action="keep", filter_query="recording_format=wav", age_days="365")
    keep_rule = RetentionRule.objects.get()
    assert auditor_client.get(f"/retention/{keep_rule.pk}/spared", shown).status_code == 409
    write_rule(auditor_client)
    RetentionRule.objects.filter(pk=keep_rule.pk).update(filter_query="recording_format=flac")
    delete_rule = RetentionRule.objects.get(name="Trunk calls")
    response = auditor_client.get(f"/retention/{delete_rule.pk}/spared", shown)
    assert response.status_code == 409 and "no longer names a valid view" in response.content.decode()
    support = Client()
    support.force_login(support_user)
    assert support.get(f"/retention/{delete_rule.pk}/spared", shown).status_code == 403


def test_a_delete_rule_whose_view_is_no_longer_valid_deletes_nothing_and_its_page_says_so(auditor_client):
    """Its view matches none(), whose SQL Django never writes: the figures are nothing's, uncounted."""
    SyncRun.objects.create(mode="full", status="succeeded", started_at=timezone.now(), pages=1)
    age(make_recordings(2, recording_format="wav"), 120)
    write_rule(auditor_client, filter_query="recording_format=wav")
    RetentionRule.objects.update(filter_query="recording_format=flac")  # the form no longer accepts it
    rule = RetentionRule.objects.get()
    for _ in range(2):
        response = auditor_client.get(f"/retention/{rule.pk}/")
        assert response.status_code == 200
        assert "<dt>To delete</dt><dd>0" in response.content.decode()
