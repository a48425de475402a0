"""The review queue: samples drawn at random but reproducibly, reviewed one recording at a time."""

import csv
import io
import random
import re
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from recordings.audit_trail import Actor
from recordings.formatting import phone, phone_e164
from recordings.models import AuditEvent, Recording, ReviewItem, ReviewSample
from recordings.review import samples
from recordings.review.notes import add_note
from recordings.review.samples import Candidate, draw
from tests.factories import make_recording

pytestmark = pytest.mark.django_db

PERIOD = {"added_after": "2026-11-16", "added_before": "2026-11-22"}


def candidates(count, callers):
    return [Candidate(pk=n, recording_id=f"rec-{n}", caller=f"caller-{n % callers}") for n in range(count)]


def test_a_draw_is_the_same_for_a_seed_whatever_order_the_rows_come_in():
    population = candidates(400, callers=40)
    first = draw(population, percent=Decimal(5), per_caller=0, seed=42)
    shuffled = random.Random(1).sample(population, len(population))
    assert draw(shuffled, percent=Decimal(5), per_caller=0, seed=42) == first
    assert len(first) == 20
    assert draw(population, percent=Decimal(5), per_caller=0, seed=43) != first


def test_every_caller_gets_at_least_its_minimum_and_the_share_is_still_met():
    population = candidates(400, callers=40) + [Candidate(pk=999, recording_id="rec-999", caller="one-call-only")]
    chosen = draw(population, percent=Decimal(5), per_caller=2, seed=7)
    per_caller = {}
    for candidate in chosen:
        per_caller[candidate.caller] = per_caller.get(candidate.caller, 0) + 1
    assert len(per_caller) == 41 and min(per_caller.values()) >= 1 and per_caller["one-call-only"] == 1
    assert all(count >= 2 for caller, count in per_caller.items() if caller != "one-call-only")
    assert len(chosen) == 81  # the minimums already hold more than 5 % of 401 (21)
    big_share = draw(population, percent=Decimal(50), per_caller=2, seed=7)
    assert len(big_share) == 201


def make_week():
    calls = [
        make_recording(add_time=f"2026-11-{day}T10:{minute:02d}:00+00:00", from_number=f"+9198765{caller:05d}")
        for day in (17, 18, 19)
        for minute in range(20)
        for caller in [minute % 4]
    ]
    make_recording(add_time="2026-11-18T09:00:00+00:00", recording_type="conference")
    make_recording(add_time="2026-11-10T09:00:00+00:00")  # the week before
    return calls


def draw_sample(client, **overrides):
    return client.post("/review/", {**PERIOD, "recording_type": "call", "percent": "5", "per_caller": "2", **overrides})


def test_an_auditor_draws_a_sample_of_the_weeks_calls_and_the_log_says_so(auditor_client):
    calls = make_week()
    response = draw_sample(auditor_client, seed="1234")
    sample = ReviewSample.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/review/{sample.pk}/"
    assert sample.population == len(calls) == 60 and sample.seed == 1234
    items = list(sample.items.select_related("recording"))
    assert [item.position for item in items] == list(range(1, len(items) + 1))
    assert {item.recording.recording_type for item in items} == {"call"}
    callers = [item.recording.from_number for item in items]
    assert len(items) == 8 and all(callers.count(number) == 2 for number in set(callers))  # 4 callers × 2 ≥ 3
    event = AuditEvent.objects.get(action="sample")
    assert event.note == f"{sample.name}: 8 of 60 recordings (seed 1234)" and event.user.username == "ada"

    draw_sample(auditor_client, seed="1234")
    again = ReviewSample.objects.exclude(pk=sample.pk).get()
    assert list(again.items.values_list("recording_id", flat=True)) == [item.recording_id for item in items]


def test_without_a_seed_one_is_chosen_and_shown(auditor_client):
    make_week()
    draw_sample(auditor_client, name="Weekly QA")
    sample = ReviewSample.objects.get()
    page = auditor_client.get(f"/review/{sample.pk}/").content.decode()
    assert "Weekly QA" in page and f'seed <span class="mono">{sample.seed}</span>' in page
    assert "0</strong> of 8 reviewed" in page


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"added_after": "2026-11-23"}, "The period ends before it starts"),
        ({"added_after": "yesterday"}, "Enter a valid date"),
        ({"percent": "0"}, "greater than or equal to 0.01"),
        ({"percent": "101"}, "less than or equal to 100"),
        ({"percent": "five"}, "Enter a number"),
        ({"per_caller": "-1"}, "greater than or equal to 0"),
        ({"recording_type": "fax"}, "Select a valid choice"),
        ({"seed": "1e9"}, "Enter a whole number"),
        ({"added_after": "2020-01-01", "added_before": "2020-01-31"}, "nothing to sample"),
    ],
)
def test_bad_criteria_are_refused_with_a_clear_reason(auditor_client, overrides, message):
    make_week()
    response = draw_sample(auditor_client, **overrides)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ReviewSample.objects.exists() and not AuditEvent.objects.exists()


def test_a_sample_too_large_to_review_is_refused(auditor_client, monkeypatch):
    make_week()
    monkeypatch.setattr(samples, "MAX_SAMPLE", 5)
    response = draw_sample(auditor_client)
    assert response.status_code == 400 and "would hold 8 recordings, more than the 5" in response.content.decode()
    monkeypatch.setattr(samples, "MAX_POPULATION", 10)
    assert "More than 10 recordings match" in draw_sample(auditor_client).content.decode()
    assert not ReviewSample.objects.exists()


@pytest.fixture
def sample(auditor_client):
    make_week()
    draw_sample(auditor_client, per_caller="0", percent="5")  # 3 of 60
    return ReviewSample.objects.get()


def test_stepping_through_a_sample(auditor_client, sample):
    first, second, third = sample.items.order_by("position")
    page = auditor_client.get(f"/review/{sample.pk}/next")
    assert page["Location"] == f"/review/{sample.pk}/1/"
    page = auditor_client.get(page["Location"]).content.decode()
    assert "data-player" in page and "data-note-form" in page and "0</strong> of 3 reviewed" in page

    response = auditor_client.post(f"/review/{sample.pk}/1/", {"outcome": "reviewed", "note": ""})
    assert response["Location"] == f"/review/{sample.pk}/2/"
    first.refresh_from_db()
    assert (first.outcome, first.reviewed_by.username) == ("reviewed", "ada")
    assert Recording.objects.get(pk=first.recording_id).review_state == "reviewed"

    response = auditor_client.post(f"/review/{sample.pk}/3/", {"outcome": "flagged", "note": "Rude to the caller"})
    assert response["Location"] == f"/review/{sample.pk}/2/"  # the one skipped
    assert Recording.objects.get(pk=third.recording_id).review_note == "Rude to the caller"
    response = auditor_client.post(f"/review/{sample.pk}/2/", {"outcome": "reviewed"}, follow=True)
    assert response.redirect_chain[-1][0] == f"/review/{sample.pk}/"
    assert "Done: all 3 recordings of this sample are reviewed." in response.content.decode()
    assert "3</strong> of 3 reviewed" in response.content.decode() and "1 flagged" in response.content.decode()
    actions = list(AuditEvent.objects.filter(action__in=["review", "flag"]).values_list("action", "note"))
    assert sorted(actions) == [("flag", "Rude to the caller"), ("review", ""), ("review", "")]
    table = auditor_client.get(f"/review/{sample.pk}/").content.decode()
    assert "Rude to the caller" in table and table.count("badge-flagged") == 2  # the row and the summary
    assert phone(Recording.objects.get(pk=third.recording_id).from_number) in table
    listing = auditor_client.get("/review/").content.decode()
    assert "3</strong> of 3 reviewed" in listing and f'href="/review/{sample.pk}/next"' not in listing


def test_flagging_needs_a_note_and_bad_input_changes_nothing(auditor_client, sample):
    for data, message in [
        ({"outcome": "flagged", "note": " "}, "Say why it is flagged"),
        ({"outcome": "maybe"}, "Choose Reviewed or Flag"),
        ({}, "Choose Reviewed or Flag"),
        ({"outcome": "reviewed", "note": "x" * 2001}, "at most 2000 characters"),
    ]:
        response = auditor_client.post(f"/review/{sample.pk}/1/", data)
        assert response.status_code == 400 and message in response.content.decode()
    assert not sample.items.exclude(outcome="").exists()
    assert not AuditEvent.objects.exclude(action="sample").exists()
    assert auditor_client.get(f"/review/{sample.pk}/4/").status_code == 404
    assert auditor_client.get(f"/review/{sample.pk + 1}/1/").status_code == 404
    assert auditor_client.get("/review/99/next").status_code == 404
    assert auditor_client.delete(f"/review/{sample.pk}/1/").status_code == 405


def test_results_export_as_csv_with_formulas_defused_and_the_export_logged(auditor_client, sample):
    auditor_client.post(f"/review/{sample.pk}/2/", {"outcome": "flagged", "note": '=HYPERLINK("http://x")'})
    response = auditor_client.get(f"/review/{sample.pk}/export.csv")
    assert response["Content-Type"].startswith("text/csv")
    assert f'filename="review-sample-{sample.pk}_' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["position", "recording_id", "call_uuid"] and rows[0][-4:] == [
        "note",
        "reviewer",
        "reviewed_at",
        "moment_notes",
    ]
    assert [row[0] for row in rows[1:]] == ["1", "2", "3"]
    flagged = rows[2]
    assert flagged[8:11] == ["flagged", '\'=HYPERLINK("http://x")', "ada"]
    assert flagged[4] == phone_e164(ReviewItem.objects.get(sample=sample, position=2).recording.from_number)
    event = AuditEvent.objects.get(action="export")
    assert event.note == f"{sample.name}: 1 of 3 reviewed"


def test_support_sees_none_of_it(support_user, auditor_client, sample):
    support = Client()
    support.force_login(support_user)
    for url in (
        "/review/",
        f"/review/{sample.pk}/",
        f"/review/{sample.pk}/next",
        f"/review/{sample.pk}/1/",
        f"/review/{sample.pk}/export.csv",
        "/notes/",
    ):
        assert support.get(url).status_code == 403, url
    assert support.post("/review/", {**PERIOD, "percent": "5", "per_caller": "0"}).status_code == 403
    assert support.post(f"/review/{sample.pk}/1/", {"outcome": "reviewed"}).status_code == 403
    assert 'href="/review/"' not in support.get("/").content.decode()
    assert 'href="/review/"' in auditor_client.get("/").content.decode()
    assert ReviewSample.objects.count() == 1 and not sample.items.exclude(outcome="").exists()


def test_a_samples_days_and_times_are_shown_as_every_page_shows_them_in_the_viewers_zone(auditor_client, sample):
    auditor_client.post("/preferences/time-zone", {"time_zone": "Asia/Kolkata"})
    sample.created_at = datetime(2026, 11, 23, 20, 0, tzinfo=UTC)
    sample.save()
    page = auditor_client.get(f"/review/{sample.pk}/").content.decode()
    days = '<time datetime="2026-11-16">16 Nov 2026</time> to <time datetime="2026-11-22">22 Nov 2026</time>'
    assert f"added {days}" in page and "added 2026-11-16" not in page
    assert ">24 Nov 2026 01:30 IST</time>" in page

    recording = sample.items.get(position=1).recording
    local = recording.add_time.astimezone(ZoneInfo("Asia/Kolkata"))
    item_page = auditor_client.get(f"/review/{sample.pk}/1/").content.decode()
    assert f">{local.day} Nov 2026 {local:%H:%M} IST</time>" in item_page
    assert f"{local:%A} {local.day} {local:%B}" not in item_page  # not a format of its own


def test_the_form_says_how_many_the_rule_draws_before_drawing(auditor_client):
    make_week()  # 60 calls of 4 callers
    response = draw_sample(auditor_client, count_first="1")
    assert response.status_code == 200 and not ReviewSample.objects.exists()
    content = response.content.decode()
    # 5 % of 60 is 3; 2 for each of the 4 callers makes 8.
    assert "This rule draws 8 of 60 recordings: the share is 3, and at least 2 per caller adds 5." in content
    alone = draw_sample(auditor_client, count_first="1", per_caller="0").content.decode()
    assert "This rule draws 3 of 60 recordings." in alone
    refused = draw_sample(auditor_client, count_first="1", percent="101")
    assert refused.status_code == 400 and not ReviewSample.objects.exists()

    draw_sample(auditor_client, seed="7")  # drawing draws what the count said
    assert ReviewSample.objects.get().items.count() == 8


def test_counting_first_says_when_drawing_would_be_refused_or_draw_nothing(auditor_client, monkeypatch):
    make_week()
    monkeypatch.setattr(samples, "MAX_SAMPLE", 5)
    content = draw_sample(auditor_client, count_first="1").content.decode()
    assert (
        "This rule would draw 8 of 60 recordings: the share is 3, and at least 2 per caller adds 5. "
        "That is more than the 5 one sample can, so drawing it would be refused" in content
    )
    assert draw_sample(auditor_client).status_code == 400 and not ReviewSample.objects.exists()
    Recording.objects.all().delete()
    nothing = draw_sample(auditor_client, count_first="1").content.decode()
    assert "This rule draws nothing: no recording matches these criteria." in nothing


@pytest.mark.parametrize(
    "percent, per_caller", [(Decimal("5"), 2), (Decimal("50"), 1), (Decimal("0.1"), 9), (Decimal("100"), 0)]
)
def test_the_size_counted_first_is_the_size_drawn_whatever_the_seed(percent, per_caller):
    make_week()
    recordings = Recording.objects.all()
    counted = samples.sample_size(recordings=recordings, percent=percent, per_caller=per_caller).drawn
    for seed in (1, 2, 3):
        population = samples.candidates(recordings)
        assert len(draw(population, percent=percent, per_caller=per_caller, seed=seed)) == counted


def test_notes_at_moments_show_in_the_note_column_and_the_csv(auditor_client, auditor_user, sample):
    recording = sample.items.get(position=2).recording
    actor = Actor(user=auditor_user, ip_address=None, user_agent="")
    add_note(actor=actor, recording=recording, at_ms=83_000, text="Refund promised")
    add_note(actor=actor, recording=recording, at_ms=5_500, text="=cmd greeting")
    auditor_client.post(f"/review/{sample.pk}/2/", {"outcome": "flagged", "note": "Wrong refund"})

    page = auditor_client.get(f"/review/{sample.pk}/").content.decode()
    url = f"/recordings/{recording.recording_id}/"
    first = f'<li><a class="mono" href="{url}?t=5#notes">0:05</a> =cmd greeting</li>'
    assert f'Wrong refund<ul class="moment-notes" aria-label="Notes at moments">{first}' in page
    assert f'<a class="mono" href="{url}?t=83#notes">1:23</a> Refund promised</li></ul>' in page

    response = auditor_client.get(f"/review/{sample.pk}/export.csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[1]["note"] == "Wrong refund"
    assert (
        rows[1]["moment_notes"]
        == f"0:05 =cmd greeting ({auditor_user.username})\n1:23 Refund promised ({auditor_user.username})"
    )
    assert rows[0]["moment_notes"] == ""


def test_the_csv_writes_times_in_the_viewers_zone_and_numbers_in_e164(auditor_client, sample):
    item = sample.items.get(position=1)
    Recording.objects.filter(pk=item.recording_id).update(
        from_number="919795564144", to_number="+917745080818", add_time=datetime(2026, 11, 20, 20, 0, tzinfo=UTC)
    )
    auditor_client.post("/preferences/time-zone", {"time_zone": "Asia/Kolkata"})
    response = auditor_client.get(f"/review/{sample.pk}/export.csv")
    assert re.search(r'filename="review-sample-\d+_\d{4}-\d\d-\d\d_\d{4}\+0530\.csv"', response["Content-Disposition"])
    row = next(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert row["add_time"] == "2026-11-21T01:30:00+05:30"
    assert (row["from_number"], row["to_number"]) == ("+919795564144", "+917745080818")
