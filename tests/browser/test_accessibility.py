"""axe-core on every page, in a real Chromium, at a desktop's width and a phone's: no finding of
any impact anywhere. axe-core comes with axe-playwright-python, loaded from the package, never
from a CDN."""

import pytest
from django.urls import resolve

from recordings import urls
from recordings.roles import SUPPORT
from tests.browser.conftest import BULK_DELETE, NOT_PAGES, use_players
from tests.conftest import user_in_role

axe_playwright = pytest.importorskip("axe_playwright_python.sync_playwright")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True}


@pytest.fixture(scope="module")
def axe():
    return axe_playwright.Axe()


def findings(axe, page):
    """Every axe finding of the page as shown, one line each."""
    results = axe.run(page)
    return [
        f"{violation['id']} ({violation['impact']}) at {node['target']}: {node['html'][:160]}"
        for violation in results.response["violations"]
        for node in violation["nodes"]
    ]


def assert_none(found):
    """`found`: each page's findings. Every finding listed, a line each, if there is one."""
    listed = [f"{path}: {line}" for path, lines in found.items() for line in lines]
    assert not listed, "\n".join(listed)


def test_every_page_of_the_urls_is_visited(pages):
    visited = {resolve(path.split("?")[0]).func for path in [*pages, BULK_DELETE]}
    every_view = {pattern.callback for pattern in urls.urlpatterns}
    assert every_view - NOT_PAGES - visited == set(), "a page no test visits: add it to the `pages` fixture"


@pytest.mark.parametrize("screen", ["desktop", "phone"])
def test_no_page_has_a_finding(signed_in, axe, pages, open_bulk_delete, screen):
    page = signed_in("auditor", **(PHONE if screen == "phone" else {}))
    found = {}
    for path in pages:
        response = page.goto(path)
        assert response.status == 200, path
        found[path] = findings(axe, page)
        if page.locator("main [data-player-play]").count():
            use_players(page)  # and the player once built
            found[f"{path} (playing)"] = findings(axe, page)
    open_bulk_delete(page)
    found[BULK_DELETE] = findings(axe, page)
    assert_none(found)


def test_the_sign_in_page_and_a_support_users_pages_have_none(open_page, signed_in, axe, pages, django_user_model):
    login = open_page()
    login.goto("/accounts/login/")
    assert findings(axe, login) == []

    user_in_role(django_user_model, "support", SUPPORT)
    page = signed_in("support")
    found = {}
    for path in pages[:7]:
        page.goto(path)
        found[path] = findings(axe, page)
    page.goto("/usage/")  # refused: the 403 page
    found["403"] = findings(axe, page)
    assert_none(found)
