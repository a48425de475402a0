"""The daily work of support and auditors in a real Chromium: time zones, the player, the keyboard,
a phone's screen."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from recordings.models import Recording, SyncRun, ViewerPreference
from recordings.roles import AUDITORS, SUPPORT
from tests.conftest import HOSTILE_NUMBER, user_in_role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def support(synced, django_user_model):
    return user_in_role(django_user_model, "support", SUPPORT)


def test_times_follow_the_browsers_time_zone(signed_in, support):
    page = signed_in("support", timezone_id="Asia/Kolkata")
    # The page reports the browser's zone and is shown again in it (Chromium says Asia/Calcutta,
    # the older name of the same zone, which is kept by its current one).
    expect(page.locator("[data-time-zone]")).to_have_attribute("data-time-zone", "Asia/Kolkata")
    assert ViewerPreference.objects.get(user=support).time_zone == "Asia/Kolkata"
    assert "days in India Time" in page.locator("main").text_content()
    recording = Recording.objects.order_by("-add_time", "-id").first()
    page.goto(f"/recordings/{recording.recording_id}/")
    assert "IST" in page.inner_text("main")


def long_recording():
    return Recording.objects.filter(recording_duration_ms__gte=60_000, recording_format="mp3").order_by("pk").first()


def start(player):
    """Press the player's play button: the one that builds it, or the native control's play()."""
    play = player.locator("[data-player-play]")
    if play.count():
        play.first.click()
    else:
        player.locator("audio").evaluate("a => a.play()")
    audio = player.locator("audio")
    audio.page.wait_for_function("a => !a.paused && a.readyState >= 2", arg=audio.element_handle(), timeout=15000)
    return audio


def current_time(audio):
    return audio.evaluate("a => a.currentTime")


def test_the_player_starts_at_t_seeks_by_ten_seconds_and_keeps_the_speed(signed_in, support):
    recording = long_recording()
    page = signed_in("support")
    page.goto(f"/recordings/{recording.recording_id}/?t=0:30")
    player = page.locator("main [data-player]").first
    audio = start(player)
    assert 30 <= current_time(audio) < 33

    audio.evaluate("a => a.pause()")
    before = current_time(audio)
    player.locator("[data-player-seek='10']").click()
    assert abs(current_time(audio) - (before + 10)) < 0.5
    player.locator("[data-player-seek='-10']").click()
    player.locator("[data-player-seek='-10']").click()
    assert abs(current_time(audio) - (before - 10)) < 0.5

    speed = player.locator("[data-player-speed]")
    speed.click()
    speed.click()  # 1× → 1.25× → 1.5×
    assert audio.evaluate("a => a.playbackRate") == 1.5
    expect(speed).to_have_text("1.5×")

    # Another page, another player: the chosen speed again.
    other = Recording.objects.exclude(pk=recording.pk).filter(recording_format="mp3").first()
    page.goto(f"/recordings/{other.recording_id}/")
    player = page.locator("main [data-player]").first
    audio = start(player)
    assert audio.evaluate("a => a.playbackRate") == 1.5
    expect(player.locator("[data-player-speed]")).to_have_text("1.5×")


def test_starting_one_player_pauses_the_others(signed_in, support):
    page = signed_in("support")
    rows = page.locator("table tbody tr [data-player]")
    first = start(rows.nth(0))
    second = start(rows.nth(1))
    page.wait_for_function("a => a.paused", arg=first.element_handle(), timeout=5000)
    assert not second.evaluate("a => a.paused")


GAINS_SPY = """
(() => {
  window.__gains = [];
  const create = AudioContext.prototype.createGain;
  AudioContext.prototype.createGain = function () {
    const node = create.call(this);
    window.__gains.push(node);
    return node;
  };
})();
"""


def test_caller_only_and_callee_only_play_one_side_of_the_call(signed_in, support):
    """Caller is the left channel, callee the right: the Web Audio graph sends only that one to
    both ears (its four gains, in order: left to left, left to right, right to left, right to right)."""
    page = signed_in("support")
    page.context.add_init_script(GAINS_SPY)
    page.goto(f"/recordings/{long_recording().recording_id}/")
    player = page.locator("main [data-player]").first
    audio = start(player)
    channel = player.locator("[data-player-channel]")

    def gains():
        return page.evaluate("window.__gains.map(g => g.gain.value)")

    channel.select_option("caller")
    expect(player).to_have_attribute("data-channel", "caller")
    assert gains() == [1, 1, 0, 0]
    channel.select_option("callee")
    expect(player).to_have_attribute("data-channel", "callee")
    assert gains() == [0, 0, 1, 1]
    channel.select_option("both")
    assert gains() == [1, 0, 0, 1]
    assert not audio.evaluate("a => a.paused")  # it played on through every change


def test_rows_are_one_tab_stop_each_with_keys_for_search_and_pages(signed_in, support):
    page = signed_in("support")
    rows = page.locator("table[data-row-keys] tbody tr")
    assert rows.count() == 25

    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.name") == "q"

    # From the table's first row, one Tab leaves the table: no stop on each row's links and buttons.
    rows.nth(0).focus()
    page.keyboard.press("Tab")
    assert page.evaluate("!document.activeElement.closest('table[data-row-keys] tbody')")

    rows.nth(0).focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement") == rows.nth(2).evaluate("row => row")
    page.keyboard.press("ArrowUp")
    assert rows.nth(1).evaluate("row => row === document.activeElement")
    page.keyboard.press("ArrowRight")  # into the row: its first control
    assert page.evaluate("document.activeElement.closest('tr')") == rows.nth(1).evaluate("row => row")
    assert not rows.nth(1).evaluate("row => row === document.activeElement")
    page.keyboard.press("Escape")
    assert rows.nth(1).evaluate("row => row === document.activeElement")
    # Tab from elsewhere comes back to the row last used.
    assert rows.nth(1).get_attribute("tabindex") == "0" and rows.nth(0).get_attribute("tabindex") == "-1"

    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("n")
    page.wait_for_url("**page=2**")
    page.keyboard.press("p")
    page.wait_for_url("**page=1**")


def test_the_playing_row_is_marked(signed_in, support):
    page = signed_in("support")
    row = page.locator("table tbody tr").nth(1)
    audio = start(row.locator("[data-player]"))
    expect(row).to_have_class(re.compile(r"\bis-playing\b"))
    assert row.get_attribute("aria-current") == "true"
    audio.evaluate("a => a.pause()")
    expect(row).not_to_have_class(re.compile(r"\bis-playing\b"))


def test_a_rows_moment_is_shared_by_its_copy_link_and_carried_into_details(signed_in, support):
    page = signed_in("support")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    row = page.locator("table tbody tr").nth(2)
    recording_id = row.locator("[data-player]").get_attribute("data-link").strip("/").rsplit("/", 1)[-1]
    audio = start(row.locator("[data-player]"))
    page.wait_for_function("a => a.currentTime >= 2", arg=audio.element_handle(), timeout=15000)
    audio.evaluate("a => a.pause()")
    second = int(current_time(audio))

    row.locator("[data-player-copy]").click()
    page.wait_for_function("navigator.clipboard.readText().then(text => text.includes('?t='))")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.endswith(f"/recordings/{recording_id}/?t={second}")

    row.get_by_role("link", name="Details").click()
    page.wait_for_url(f"**/recordings/{recording_id}/?t={second}")
    player = page.locator("main [data-player]").first
    audio = start(player)
    assert second <= current_time(audio) < second + 3


def test_on_a_phone_the_menu_folds_the_search_comes_first_and_rows_are_cards(signed_in, support, tmp_path):
    page = signed_in("support", viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    menu = page.get_by_role("button", name="Menu")
    sign_out = page.get_by_role("button", name="Sign out")
    assert menu.is_visible() and not sign_out.is_visible()
    menu.click()
    assert sign_out.is_visible() and page.get_by_role("link", name="Sync runs").is_visible()
    assert menu.get_attribute("aria-expanded") == "true"
    menu.click()
    assert not sign_out.is_visible()

    search = page.locator("input[name=q]")
    assert search.is_visible() and search.bounding_box()["y"] < 250
    assert not page.locator("input[name=from_number]").is_visible()
    page.get_by_text("More filters").click()
    assert page.locator("input[name=from_number]").is_visible()
    page.get_by_text("More filters").click()

    # Nothing wider than the screen: rows are cards, each with its player on its own line.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    row = page.locator("table tbody tr").first
    assert row.bounding_box()["width"] <= 390
    player = row.locator("[data-player]")
    assert row.locator("td.player-cell").bounding_box()["width"] >= row.bounding_box()["width"] - 32  # the card's width
    audio = start(player)
    assert not audio.evaluate("a => a.paused")
    for control in [player.locator("[data-player-seek='10']"), player.locator("[data-player-speed]")]:
        box = control.bounding_box()
        assert box["width"] >= 44 and box["height"] >= 44  # a thumb's size
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(tmp_path / "phone.png"))


def test_at_1440_pixels_the_table_fits_with_a_flag_and_a_long_number(signed_in, support, django_user_model):
    user_in_role(django_user_model, "auditor", AUDITORS)
    newest = list(Recording.objects.order_by("-add_time", "-id")[:3])
    Recording.objects.filter(pk=newest[0].pk).update(review_state="flagged", review_note="Agent promised a refund")
    Recording.objects.filter(pk=newest[1].pk).update(conference_name="Quarterly review with the whole sales team")
    page = signed_in("auditor")
    assert HOSTILE_NUMBER in page.inner_text("table")  # the longest number is on the page
    table = page.locator(".table-scroll")
    assert table.evaluate("t => t.scrollWidth <= t.clientWidth"), "the table scrolls sideways at 1440 px"
    details = page.get_by_role("link", name="Details").first
    assert details.bounding_box()["x"] + details.bounding_box()["width"] <= 1440


def seek_bar_width(page, audio):
    """The width of the audio control's seek bar: drawn inside Chromium's own (closed) shadow root,
    so read through the DevTools protocol, which sees user-agent shadow roots."""
    cdp = page.context.new_cdp_session(page)
    handle = cdp.send("DOM.describeNode", {"objectId": remote_object_id(cdp, audio), "depth": -1, "pierce": True})

    def timelines(node):
        if node.get("pseudo") == "-webkit-media-controls-timeline" or "-webkit-media-controls-timeline" in node.get(
            "attributes", []
        ):
            yield node
        for child in node.get("children", []) + node.get("shadowRoots", []):
            yield from timelines(child)

    (timeline,) = list(timelines(handle["node"]))
    return cdp.send("DOM.getBoxModel", {"backendNodeId": timeline["backendNodeId"]})["model"]["width"]


def remote_object_id(cdp, locator):
    marker = "data-measured-audio"
    locator.evaluate(f"a => a.setAttribute('{marker}', '')")
    found = cdp.send("Runtime.evaluate", {"expression": f"document.querySelector('[{marker}]')"})
    return found["result"]["objectId"]


def test_at_1440_pixels_a_playing_rows_seek_bar_is_long_enough_to_aim_at(signed_in, support, django_user_model):
    user_in_role(django_user_model, "auditor", AUDITORS)
    page = signed_in("auditor")
    row = page.locator("table tbody tr").nth(1)
    audio = start(row.locator("[data-player]"))
    assert seek_bar_width(page, audio) >= 120  # beside the buttons it was 32 px, about 10 of them a bar
    assert page.locator(".table-scroll").evaluate("t => t.scrollWidth <= t.clientWidth"), "the table scrolls sideways"
    details = row.get_by_role("link", name="Details")
    assert details.bounding_box()["x"] + details.bounding_box()["width"] <= 1440
    audio.evaluate("a => a.pause()")  # paused, to seek: the bar stays as long
    assert seek_bar_width(page, audio) >= 120


def test_at_1440_pixels_the_sync_runs_fit_with_a_failed_run_at_a_million(signed_in, support):
    finished = timezone.now()
    SyncRun.objects.create(
        mode=SyncRun.Mode.FULL,
        status=SyncRun.Status.FAILED,
        started_at=finished - timedelta(hours=2),
        finished_at=finished,
        pages=10_000,
        created=1_000_000,
        updated=999_999,
        unchanged=1_000_000,
        skipped=12,
        incomplete=3,
        unread=250,
        gone=4_321,
        total_upstream=1_000_000,
        error="Vobiz stopped answering: HTTPSConnectionPool(host='api.vobiz.ai', port=443): Read timed out. "
        "(read timeout=30), after 5 attempts",
    )
    page = signed_in("support")
    page.goto("/sync/")
    table = page.locator(".table-scroll")
    assert "Read timed out" in table.inner_text()
    assert table.evaluate("t => t.scrollWidth <= t.clientWidth"), "the sync runs scroll sideways at 1440 px"
