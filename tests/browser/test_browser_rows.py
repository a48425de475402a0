"""The recordings table's players in a real Chromium: the row in focus is the one the keys act on,
each row's player has the channel switch, a typed moment and a Link that says "Copied", and
playing a row moves nothing in the others."""

import pytest
from playwright.sync_api import expect

from recordings.models import Recording
from recordings.roles import SUPPORT
from tests.browser.test_browser_daily import GAINS_SPY, current_time, long_recording, start
from tests.conftest import user_in_role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BOXES = """rows => rows.map(row => Array.from(row.querySelectorAll('a, button, input, select, audio'))
  .map(element => { const box = element.getBoundingClientRect(); return [box.x, box.y, box.width, box.height]; }))"""


@pytest.fixture
def support(synced, django_user_model):
    return user_in_role(django_user_model, "support", SUPPORT)


def rows_of(page):
    return page.locator("table[data-row-keys] tbody tr")


@pytest.mark.parametrize("key", ["k", " "])
def test_k_and_space_play_the_focused_row_not_the_first(signed_in, support, key):
    page = signed_in("support")
    rows = rows_of(page)
    rows.nth(0).focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    page.keyboard.press(key)
    audio = rows.nth(2).locator("audio")
    page.wait_for_function("a => !a.paused", arg=audio.element_handle(), timeout=15000)
    assert rows.nth(0).locator("audio").count() == 0  # the first row was never built
    assert rows.nth(2).evaluate("row => row === document.activeElement")  # focus stays on the row

    page.keyboard.press("ArrowUp")  # another row, while the third plays: the key acts on this one
    page.keyboard.press(key)
    second = rows.nth(1).locator("audio")
    page.wait_for_function("a => !a.paused", arg=second.element_handle(), timeout=15000)
    page.wait_for_function("a => a.paused", arg=audio.element_handle(), timeout=5000)
    page.keyboard.press(key)  # again on the same row: pauses it
    page.wait_for_function("a => a.paused", arg=second.element_handle(), timeout=5000)


def test_a_rows_player_plays_one_side_of_the_call(signed_in, support):
    page = signed_in("support")
    page.context.add_init_script(GAINS_SPY)
    page.reload()
    row = rows_of(page).nth(1)
    audio = start(row.locator("[data-player]"))
    channel = row.locator("[data-player-channel]")
    expect(channel).to_be_visible()
    channel.select_option("callee")
    expect(row.locator("[data-player]")).to_have_attribute("data-channel", "callee")
    assert page.evaluate("window.__gains.map(g => g.gain.value)") == [0, 0, 1, 1]
    assert not audio.evaluate("a => a.paused")


def test_playing_a_row_moves_no_control_of_another_row(signed_in, support):
    page = signed_in("support")
    rows = rows_of(page)
    before = rows.evaluate_all(BOXES)
    audio = start(rows.nth(1).locator("[data-player]"))
    page.wait_for_function("a => a.currentTime > 0.5", arg=audio.element_handle(), timeout=15000)
    after = rows.evaluate_all(BOXES)
    assert len(before) == len(after) == 25
    moved = [
        (index, before_row, after_row)
        for index, (before_row, after_row) in enumerate(zip(before, after))
        if index != 1 and before_row != after_row
    ]
    assert moved == []
    # Nor does pausing it, nor the playing row's own box grow.
    audio.evaluate("a => a.pause()")
    assert rows.evaluate_all(BOXES)[2:] == before[2:]


# Each card's controls outside its player, then the player's own box.
CARD_BOXES = """rows => rows.map(row => {
  const player = row.querySelector('[data-player]');
  return [...Array.from(row.querySelectorAll('a, button, input, select')).filter(e => !player.contains(e)), player]
    .map(element => { const box = element.getBoundingClientRect(); return [box.x, box.y, box.width, box.height]; });
})"""


def near(before, after, tolerance=1.0):
    return len(before) == len(after) and all(abs(b - a) <= tolerance for b, a in zip(before, after, strict=True))


def test_playing_a_card_on_a_phone_moves_nothing_of_it_or_the_cards_below(signed_in, support):
    page = signed_in("support", viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    rows = rows_of(page)
    second_play = rows.nth(1).locator("[data-player-play]")
    before, play_before = rows.evaluate_all(CARD_BOXES), second_play.bounding_box()
    player = rows.nth(0).locator("[data-player]")
    audio = start(player)
    page.wait_for_function("a => a.currentTime > 0.5", arg=audio.element_handle(), timeout=15000)
    after = rows.evaluate_all(CARD_BOXES)
    assert len(before) == len(after) == 25
    moved = [
        (index, box_before, box_after)
        for index, (card_before, card_after) in enumerate(zip(before, after, strict=True))
        for box_before, box_after in zip(card_before, card_after, strict=True)
        if not near(box_before, box_after)
    ]
    assert moved == []  # card 1's Details and call link, its player's box, every control below it
    assert near(list(play_before.values()), list(second_play.bounding_box().values()))
    # The used player's controls fit in its box, within the screen, each a thumb's size.
    box = player.bounding_box()
    for control in player.locator("audio, button:visible, select, input:visible, a").all():
        assert inside(control.bounding_box(), box)
        assert control.bounding_box()["height"] >= 44
    assert box["x"] + box["width"] <= 390
    audio.evaluate("a => a.pause()")
    assert rows.evaluate_all(CARD_BOXES) == after


def inside(inner, outer):
    return (
        outer["x"] - 0.5 <= inner["x"]
        and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + 0.5
        and outer["y"] - 0.5 <= inner["y"]
        and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + 0.5
    )


@pytest.mark.parametrize("width", [1440, 390])
def test_a_rows_audio_error_fits_in_the_rows_player(signed_in, support, width):
    page = signed_in("support")
    page.set_viewport_size({"width": width, "height": 900})
    player = rows_of(page).nth(1).locator("[data-player]")
    audio = start(player)
    audio.evaluate("a => { a.pause(); a.dispatchEvent(new Event('error')); }")
    error = player.locator("[data-player-error]")
    expect(error).to_be_visible()
    box = error.bounding_box()
    assert inside(box, player.bounding_box())
    assert box["x"] + box["width"] <= width
    for part in (error.locator("[data-player-retry]"), error.locator(".player-error-text")):
        assert inside(part.bounding_box(), box)


def test_a_rows_link_says_copied_and_a_typed_moment_goes_there(signed_in, support):
    page = signed_in("support")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    recording = long_recording()
    page.goto(f"/?q={recording.recording_id}")
    player = rows_of(page).first.locator("[data-player]")
    audio = start(player)
    audio.evaluate("a => a.pause()")

    moment = player.locator("[data-player-goto]")
    # A phone's numeric keypad has no colon: the box asks for the ordinary keyboard.
    assert moment.get_attribute("inputmode") in (None, "text")
    for typed, seconds in [("0:42", 42), ("51", 51)]:
        moment.fill(typed)
        moment.press("Enter")
        page.wait_for_function(f"a => Math.abs(a.currentTime - {seconds}) < 0.5", arg=audio.element_handle())
    expect(player.locator("[data-player-feedback]")).to_have_text("At 0:51")
    moment.fill("soon")
    moment.press("Enter")
    expect(moment).to_have_attribute("aria-invalid", "true")
    assert abs(current_time(audio) - 51) < 0.5  # a moment it cannot read moves nothing
    expect(player.locator("[data-player-copy-label]")).to_have_text("Link")  # says nothing of moments

    player.locator("[data-player-copy]").click()
    expect(player.locator("[data-player-copy]")).to_contain_text("Copied")
    expect(player.locator("[data-player-feedback]")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()").endswith("?t=51")


def test_a_recording_opened_at_a_moment_shows_it_before_playing(signed_in, support):
    recording = long_recording()
    page = signed_in("support")
    page.goto(f"/recordings/{recording.recording_id}/?t=0:30")
    play = page.locator("main [data-player] [data-player-play]")
    expect(play).to_contain_text("0:30 / ")
    page.goto(f"/recordings/{recording.recording_id}/?t=1:02:03")
    player = page.locator("main [data-player]").first
    expect(player.locator("[data-player-play]")).to_contain_text("1:02:03 / ")
    other = Recording.objects.exclude(pk=recording.pk).first()
    page.goto(f"/recordings/{other.recording_id}/")
    expect(page.locator("main [data-player] [data-player-play]")).to_contain_text("0:00 / ")
