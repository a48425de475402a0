"""Remake the README's screenshots (docs/*.png) from a running demo, in Debian's Chromium.

    ./scripts/run                                     # the demo, in another terminal
    .venv/bin/python scripts/screenshots.py [URL]     # URL of the dashboard: http://127.0.0.1:8000

Playwright comes with the test requirements (./scripts/test installs them, and Chromium).
"""

import argparse
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

DOCS = Path(__file__).resolve().parent.parent / "docs"
CHROMIUM = "/usr/bin/chromium"
DEMO_LOGIN = ("demo", "demo-recordings")  # what ./scripts/run prints for the demo
TIME_ZONE = "Asia/Kolkata"  # the viewers the demo's numbers belong to


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


def take(url: str) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])

        desk = browser.new_context(viewport={"width": 1440, "height": 900}, timezone_id=TIME_ZONE)
        page = desk.new_page()
        sign_in(page, url)
        settle(page)
        page.screenshot(path=str(DOCS / "recordings-table.png"))
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
    for name in ("recordings-table.png", "call-details.png", "phone.png"):
        print(DOCS / name)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", nargs="?", default="http://127.0.0.1:8000/", help="the running dashboard")
    take(parser.parse_args().url)
