"""On a phone's 390 px no page is wider than the screen: every page, its player used, and the
recordings' cards labelled, with everything on them a thumb's size."""

import pytest

from recordings.roles import SUPPORT
from tests.browser.conftest import BULK_DELETE, use_players
from tests.conftest import user_in_role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
WIDTH = 390
PHONE = {"viewport": {"width": WIDTH, "height": 844}, "has_touch": True, "is_mobile": True}
THUMB = 44  # px: the least tap target

# A phone widens its layout to the page's content (innerWidth follows): measured against the screen.
TOO_WIDE = f"() => document.documentElement.scrollWidth > {WIDTH} || window.innerWidth > {WIDTH}"


def test_no_page_is_wider_than_a_phones_screen(signed_in, pages, open_bulk_delete, open_page):
    page = signed_in("auditor", **PHONE)
    wide = []
    for path in pages:
        assert page.goto(path).status == 200, path
        if page.evaluate(TOO_WIDE):
            wide.append(path)
        use_players(page)
        if page.evaluate(TOO_WIDE):
            wide.append(f"{path} (playing)")
    open_bulk_delete(page)
    if page.evaluate(TOO_WIDE):
        wide.append(BULK_DELETE)
    login = open_page(**PHONE)
    login.goto("/accounts/login/")
    if login.evaluate(TOO_WIDE):
        wide.append("/accounts/login/")
    assert wide == []


def test_a_recordings_card_names_its_numbers_and_fits_a_thumb(signed_in, pages, django_user_model):
    user_in_role(django_user_model, "support", SUPPORT)
    for user in ("support", "auditor"):
        page = signed_in(user, **PHONE)
        card = page.locator("table tbody tr").first
        assert (
            card.locator("td[data-label=From]").evaluate("td => getComputedStyle(td, '::before').content") == '"From"'
        )
        assert card.locator("td[data-label=To]").evaluate("td => getComputedStyle(td, '::before').content") == '"To"'
        small = card.locator("a, button, input, select").evaluate_all(
            f"""elements => elements.filter(e => e.getClientRects().length).map(e => [e.outerHTML.slice(0, 80),
              e.getBoundingClientRect()]).filter(([, box]) => box.width < {THUMB} || box.height < {THUMB})
              .map(([html, box]) => `${{html}}: ${{box.width}}×${{box.height}}`)"""
        )
        assert small == [], user
