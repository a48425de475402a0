"""A support team's day, compressed: the load `bench/load_test.py` drives against the dashboard.

Each simulated person signs in once, then browses: table pages and page turns, filters, number and
call-id searches, call pages, and plays recordings (Range requests for the first bytes and a seek).
The ids and numbers to look for come from LOAD_SAMPLE, a JSON file the load test writes.
"""

import json
import os
import random
import re

from locust import HttpUser, between, task

SAMPLE = json.loads(open(os.environ["LOAD_SAMPLE"]).read())
USERNAME = os.environ["LOAD_USERNAME"]
PASSWORD = os.environ["LOAD_PASSWORD"]
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class SupportPerson(HttpUser):
    wait_time = between(0.2, 1.0)

    def on_start(self):
        page = self.client.get("/accounts/login/", name="sign in (form)")
        token = CSRF.search(page.text).group(1)
        response = self.client.post(
            "/accounts/login/",
            {"username": USERNAME, "password": PASSWORD, "csrfmiddlewaretoken": token},
            name="sign in",
            allow_redirects=False,
        )
        if response.status_code != 302:
            raise RuntimeError(f"sign-in failed with {response.status_code}")

    def page(self, path, name, **kwargs):
        """A page must answer itself: a redirect (to the sign-in page, say) counts as an error."""
        with self.client.get(path, name=name, allow_redirects=False, catch_response=True, **kwargs) as response:
            if response.status_code not in (200, 206):
                response.failure(f"answered {response.status_code}")
            return response

    @task(6)
    def table(self):
        self.page(f"/?page={random.randint(1, 40)}", "/ (page)")

    @task(3)
    def filtered(self):
        kind = random.choice(["call", "conference", "trunk"])
        month = random.randint(1, 11)
        self.page(
            f"/?recording_type={kind}&added_after=2026-{month:02d}-01&added_before=2026-{month:02d}-28",
            "/ (filter: type and dates)",
        )

    @task(4)
    def search_number(self):
        number = random.choice(SAMPLE["numbers"])
        as_typed = random.choice([number, number[-6:], number.lstrip("+")])  # whole, last digits, no +
        self.page("/", "/ (search number)", params={"q": as_typed})

    @task(2)
    def search_call(self):
        self.page("/", "/ (search call id)", params={"q": random.choice(SAMPLE["calls"])})

    @task(3)
    def call_page(self):
        self.page(f"/calls/{random.choice(SAMPLE['calls'])}/", "/calls/<uuid>/")

    @task(3)
    def listen(self):
        """The player's first request, then a seek to the middle of the file."""
        url = f"/recordings/{random.choice(SAMPLE['recordings'])}/audio"
        first = self.page(url, "audio (start)", headers={"Range": "bytes=0-65535"})
        size = int(first.headers.get("Content-Range", "/0").rsplit("/", 1)[-1] or 0)
        if size > 131072:
            middle = size // 2
            self.page(url, "audio (seek)", headers={"Range": f"bytes={middle}-{middle + 65535}"})
