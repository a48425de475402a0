"""Remake the README's screenshots (docs/*.png) from a running demo, in Debian's Chromium: the table
with two saved views as chips, a call's details, the table on a phone, a recording's share links
and the page a link opens. It saves the views and makes a link in the demo (once per name).

    ./scripts/run                                     # the demo, in another terminal
    .venv/bin/python scripts/screenshots.py [URL]     # URL of the dashboard: http://127.0.0.1:8000

Playwright comes with the test requirements (./scripts/test installs them, and Chromium).
"""

import argparse
from pathlib import Path

from playwright.sync_api import Browser, Page, expect, sync_playwright

DOCS = Path(__file__).resolve().parent.parent / "docs"
CHROMIUM = "/usr/bin/chromium"
DEMO_LOGIN = ("demo", "demo-recordings")  # what ./scripts/run prints for the demo
TIME_ZONE = "Asia/Kolkata"  # the viewers the demo's numbers belong to
SHARE_NOTE = "Priya Nair, the customer's lawyer"


def sign_in(page: Page, url: str) -> None:
    page.goto(url)
    page.fill("input[name=username]", DEMO_LOGIN[0])
    page.fill("input[name=password]", DEMO_LOGIN[1])
    page.click("button[type=submit]")
    page.wait_for_url(f"{url.rstrip('/')}/")
    # The first page reports the browser's zone and is shown again in it.
    expect(page.locator("table tbody tr").first).to_be_visible()
    page.wait_for_load_state("networkidle")


def settle(page: Page) -> None:
    """Wait for the page's scripts (counts, live notices) and fonts before the picture."""
    page.wait_for_load_state("networkidle")
    page.evaluate("document.fonts.ready")


def a_call_of_two(page: Page) -> str:
    """A call of the last 7 days (ended, so with its record) with two recordings on the first page,
    else the one with the most."""
    page.get_by_role("link", name="Last 7 days").click()
    settle(page)
    links = page.locator("table tbody tr td a[href^='/calls/']").evaluate_all("links => links.map(a => a.href)")
    return next((link for link in links if links.count(link) == 2), max(links, key=links.count))


def save_view(page: Page, url: str, query: str, name: str, shared: bool) -> None:
    """Save the table's view of `query` as `name` with "Save this view", unless a chip has the name."""
    page.goto(f"{url.rstrip('/')}/?{query}")
    settle(page)
    if page.locator("[data-saved-view]", has_text=name).count():
        return
    page.locator("details.save-view summary").click()
    page.fill("#save-view-name", name)
    if shared:
        page.get_by_label("for everyone").check()
    page.locator("details.save-view").get_by_role("button", name="Save").click()
    page.wait_for_load_state("networkidle")


def share_a_recording(page: Page, browser: Browser) -> None:
    """From the first recording's page, a link for someone without an account, opened once by them:
    the recording's page then lists it with its opens. Pictures the panel and the page opened. The
    link is made once: a later run finds it listed (its address is shown only when made) and
    pictures the panel again, keeping the picture of the page opened."""
    page.locator("table tbody tr").first.get_by_role("link", name="Details").click()
    page.wait_for_url("**/recordings/**")
    details = page.url
    panel = page.locator("section[aria-labelledby=share-heading]")
    if not panel.locator("[data-share-link]", has_text=SHARE_NOTE).count():
        page.fill("input[name=note]", SHARE_NOTE)
        page.fill("input[name=hours]", "48")
        page.fill("input[name=start]", "0:12")
        page.click("text=Make a link")
        link = page.locator("[data-share-url]").input_value()

        outside = browser.new_context(viewport={"width": 900, "height": 260}, timezone_id=TIME_ZONE)
        shared = outside.new_page()
        shared.goto(link)
        settle(shared)
        shared.screenshot(path=str(DOCS / "shared-recording.png"))
        outside.close()

    page.goto(details)
    settle(page)
    panel.scroll_into_view_if_needed()
    panel.screenshot(path=str(DOCS / "share-links.png"))


def take(url: str) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])

        desk = browser.new_context(viewport={"width": 1440, "height": 900}, timezone_id=TIME_ZONE)
        page = desk.new_page()
        sign_in(page, url)
        save_view(page, url, "recording_type=call&min_duration=60", "Calls over a minute", shared=True)
        save_view(page, url, "time_from=14:00&time_until=18:00", "Afternoons", shared=False)
        page.goto(url)
        settle(page)
        page.screenshot(path=str(DOCS / "recordings-table.png"))
        share_a_recording(page, browser)
        page.goto(url)
        settle(page)
        page.goto(a_call_of_two(page))
        page.wait_for_url("**/calls/**")
        settle(page)
        page.screenshot(path=str(DOCS / "call-details.png"), full_page=True)
        desk.close()

        phone = browser.new_context(
            viewport={"width": 390, "height": 844}, timezone_id=TIME_ZONE, is_mobile=True, has_touch=True
        )
        page = phone.new_page()
        sign_in(page, url)
        settle(page)
        page.screenshot(path=str(DOCS / "phone.png"))
        phone.close()
        browser.close()
    for name in ("recordings-table.png", "call-details.png", "phone.png", "share-links.png", "shared-recording.png"):
        print(DOCS / name)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", nargs="?", default="http://127.0.0.1:8000/", help="the running dashboard")
    take(parser.parse_args().url)
