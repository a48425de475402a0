"""The dashboard in a real Chromium against a live server and the fake Vobiz API."""

import re

import pytest
from playwright.sync_api import expect

from recordings.browsing import counting
from recordings.formatting import amount_in
from recordings.models import AuditEvent, Recording
from tests.conftest import HOSTILE_CONFERENCE, HOSTILE_NUMBER

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def first_column_texts(page, column):
    return page.locator(f"table tbody tr td:nth-child({column})").all_inner_texts()


def test_sign_in_filter_by_number_and_sort(page):
    assert page.locator("table tbody tr").count() == 25
    target = Recording.objects.exclude(from_number=HOSTILE_NUMBER).order_by("-add_time")[3]
    page.fill("input[name=q]", target.from_number[-6:])
    page.press("input[name=q]", "Enter")
    page.wait_for_url(re.compile(r"q="))
    numbers = first_column_texts(page, 2) + first_column_texts(page, 3)
    assert any(re.sub(r"\D", "", n).endswith(target.from_number[-6:]) for n in numbers)
    assert (
        page.locator("table tbody tr").count()
        == Recording.objects.filter(from_digits_reversed__startswith=target.from_number[-6:][::-1]).count()
        + Recording.objects.filter(to_digits_reversed__startswith=target.from_number[-6:][::-1])
        .exclude(from_digits_reversed__startswith=target.from_number[-6:][::-1])
        .count()
    )

    page.goto("/")
    page.click("th >> text=Duration")
    page.wait_for_url(re.compile(r"sort=recording_duration_ms"))
    durations = Recording.objects.order_by("recording_duration_ms").values_list("recording_duration_ms", flat=True)
    shown = first_column_texts(page, 5)
    assert shown[0] == format_duration(durations[0])


def format_duration(ms):
    seconds = round(ms / 1000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def test_play_a_recording_in_the_page(page):
    first = page.locator("table tbody tr [data-player]").first
    first.locator("[data-player-play]").click()
    audio = first.locator("audio")
    page.wait_for_function("a => a.duration > 0 && a.currentTime > 0.3", arg=audio.element_handle(), timeout=15000)
    assert audio.evaluate("a => a.duration") > 0
    page.locator("table tbody tr [data-player-play]").first.click()  # the second row's: the first has its player
    page.wait_for_function("a => a.paused", arg=audio.element_handle(), timeout=5000)
    assert page.locator("table tbody tr audio").count() == 2


def played():
    return AuditEvent.objects.filter(action=AuditEvent.Action.PLAY)


def test_only_pressing_play_fetches_audio_and_logs_a_play(page, fake_vobiz):
    audio_requests = []
    page.on("request", lambda request: "/audio" in request.url and audio_requests.append(request.url))
    page.reload()
    page.wait_for_load_state("networkidle")
    recording = Recording.objects.order_by("-add_time", "-id").first()
    row_player = page.locator("table tbody tr [data-player]").first
    assert "0:00 / " + format_duration(recording.recording_duration_ms) in row_player.inner_text()

    moment = Recording.objects.filter(recording_duration_ms__gt=60_000).first()
    page.goto(f"/recordings/{moment.recording_id}/?t=0:30")
    page.wait_for_load_state("networkidle")
    player = page.locator("main [data-player]").first
    expect(player).to_contain_text("Starts at 0:30")
    assert "0:30 / " + format_duration(moment.recording_duration_ms) in player.inner_text()  # where it starts
    assert audio_requests == [] and not played().exists()

    player.locator("[data-player-play]").click()
    audio = player.locator("audio")
    page.wait_for_function("a => !a.paused && a.currentTime >= 30", arg=audio.element_handle(), timeout=15000)
    assert audio_requests
    events = list(played())
    assert [(event.recording_id, event.username) for event in events] == [(moment.pk, "support")]


def test_follow_a_call_link_and_see_the_cdr(page, fake_vobiz):
    newest = Recording.objects.order_by("-add_time", "-id")[:25]
    index = next(i for i, r in enumerate(newest) if i and fake_vobiz.account.cdr(r.call_uuid))
    page.locator("table tbody tr").nth(index).locator("td:nth-child(7) a").click()
    page.wait_for_url(re.compile(r"/calls/"))
    call_uuid = page.url.rstrip("/").rsplit("/", 1)[-1]
    cdr = fake_vobiz.account.cdr(call_uuid)
    body = page.inner_text("main")
    assert "Call record" in body
    assert cdr["call_direction"].capitalize() in body
    assert "Hung up by" in body
    assert (
        amount_in(cdr["total_cost"], cdr["currency"], precise=True)
        in page.locator("dt:text-is('Cost') + dd").inner_text()
    )
    assert page.locator("[data-player]").count() == Recording.objects.filter(call_uuid=call_uuid).count()


def test_html_in_synced_fields_shows_as_text_and_runs_nothing(page):
    hostile = Recording.objects.get(from_number=HOSTILE_NUMBER)
    page.goto(f"/?q={hostile.call_uuid}")
    assert HOSTILE_NUMBER in page.inner_text("table")
    page.goto(f"/recordings/{hostile.recording_id}/")
    assert HOSTILE_CONFERENCE in page.inner_text("main")
    assert page.evaluate("window.__injected") is None


def test_a_count_beyond_the_bound_is_replaced_by_the_exact_one(page, monkeypatch):

    monkeypatch.setattr(counting, "COUNT_BOUND", 10)
    response = page.goto("/?recording_format=mp3")
    assert "More than <strong>25</strong> recordings" in response.text()
    summary = page.locator("p.summary")
    exact = Recording.objects.present().filter(recording_format="mp3").count()
    assert exact > 25
    # Its script then fetches the exact figure.
    expect(summary).to_contain_text(f"{exact} recordings")
    expect(summary).to_contain_text("in all")
    assert "Page 1 of more than" in page.locator(".pagination-info").inner_text()
