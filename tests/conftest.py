from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.cache import caches
from django.db import connection
from django.test import Client
from hypothesis import settings as hypothesis_settings

from recordings.browsing import media
from recordings.roles import AUDITORS, SUPPORT, role_group
from recordings.sync.run import sync_recordings
from recordings.sync.walk import SyncOptions
from vobiz.client import VobizClient
from vobiz.fake.data import FakeAccount
from vobiz.fake.server import FakeVobizServer, LoggedRequest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page
    from pytest_django.fixtures import Settings
    from pytest_django.live_server_helper import LiveServer

# The property tests draw the same examples on every run, so that the suite passes or fails alike
# in CI and on a laptop; HYPOTHESIS_PROFILE=explore draws new ones, to look for new failures.
hypothesis_settings.register_profile("repeatable", derandomize=True, database=None)
hypothesis_settings.register_profile("explore")
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


AUTH_ID = "MA_TESTACCT"
AUTH_TOKEN = "test-secret-token-7f3a9c"


# Markup in a browser test account's sixth recording, which every page must show as text.
HOSTILE_NUMBER = '<img src=x onerror="window.__injected=1">'
HOSTILE_CONFERENCE = "<script>window.__injected=2</script>"


@pytest.fixture
def fake_account(request: pytest.FixtureRequest) -> FakeAccount:
    """The fake Vobiz account. A browser test's (marked `browser`) is smaller, quick to sync before
    each test, and one of its recordings has markup for a number and a conference name."""
    if request.node.get_closest_marker("browser") is None:
        return FakeAccount(count=1234, seed=7, auth_id=AUTH_ID, auth_token=AUTH_TOKEN)
    account = FakeAccount(count=80, seed=11, auth_id=AUTH_ID, auth_token=AUTH_TOKEN)
    account.set_override(5, {"from_number": HOSTILE_NUMBER, "conference_name": HOSTILE_CONFERENCE})
    return account


@pytest.fixture
def fake_vobiz(fake_account: FakeAccount, settings: Settings) -> Iterator[FakeVobizServer]:
    """A fake Vobiz API on a local port, with the settings pointing at it."""
    with FakeVobizServer(account=fake_account) as server:
        settings.VOBIZ_AUTH_ID = AUTH_ID
        settings.VOBIZ_AUTH_TOKEN = AUTH_TOKEN
        settings.VOBIZ_API_URL = server.base_url
        yield server


@pytest.fixture
def vobiz_client(fake_vobiz: FakeVobizServer) -> Iterator[VobizClient]:
    """A client that gives up and backs off quickly, so fault tests stay fast."""
    client = VobizClient(
        AUTH_ID, AUTH_TOKEN, fake_vobiz.base_url, read_timeout=1.0, backoff_base=0.01, backoff_max=0.05
    )
    yield client
    client.close()


@pytest.fixture
def synced(fake_vobiz: FakeVobizServer, vobiz_client: VobizClient) -> FakeVobizServer:
    """The fake account synced into the database: the fake server, for assertions on it."""
    sync_recordings(SyncOptions(), client=vobiz_client)
    return fake_vobiz


def list_requests(server: FakeVobizServer) -> list[LoggedRequest]:
    return [r for r in server.requests_log if r.method == "GET" and r.path.endswith("/Recording/")]


@pytest.fixture
def subprocess_env(fake_vobiz: FakeVobizServer) -> dict[str, str]:
    """Environment for running manage.py in a child process against the test database."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        url = f"sqlite:///{db['NAME']}"
    else:
        url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    return {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_DEBUG": "1",
        "VOBIZ_AUTH_ID": AUTH_ID,
        "VOBIZ_AUTH_TOKEN": AUTH_TOKEN,
        "VOBIZ_API_URL": fake_vobiz.base_url,
    }


PASSWORD = "pw"  # every test user's


def user_in_role(
    django_user_model: type[AbstractBaseUser], username: str, role: str, **extra: object
) -> AbstractBaseUser:
    user = django_user_model.objects.create_user(username, password=PASSWORD, **extra)
    user.groups.add(role_group(role))
    return user


@pytest.fixture
def support_user(django_user_model: type[AbstractBaseUser]) -> AbstractBaseUser:
    return user_in_role(django_user_model, "sky", SUPPORT)


@pytest.fixture
def auditor_user(django_user_model: type[AbstractBaseUser]) -> AbstractBaseUser:
    return user_in_role(django_user_model, "ada", AUDITORS)


@pytest.fixture
def support_client(client: Client, support_user: AbstractBaseUser) -> Client:
    client.force_login(support_user)
    return client


@pytest.fixture
def auditor_client(client: Client, auditor_user: AbstractBaseUser) -> Client:
    client.force_login(auditor_user)
    return client


@pytest.fixture
def staff_client(client: Client, django_user_model: type[AbstractBaseUser]) -> Client:
    client.force_login(user_in_role(django_user_model, "sam", SUPPORT, is_staff=True))
    return client


@pytest.fixture(autouse=True)
def empty_cache() -> None:
    """Cached counts and forms must not leak from one test's rows into the next."""
    for cache in caches.all():
        cache.clear()


@pytest.fixture
def public_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """127.0.0.1 and 127.0.0.3 (the fake Vobiz, and the outside storage it can redirect to) stand
    for public hosts; every other address keeps the production rule."""
    import ipaddress

    stand_ins = {ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("127.0.0.3")}
    production = media.is_public
    monkeypatch.setattr(media, "is_public", lambda address: address in stand_ins or production(address))


# ---------- a real Chromium, for the browser tests ----------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One Chromium for the whole run, driven by Playwright's sync API."""
    playwright_sync = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: the README's test command installs Debian's chromium package")
    # Playwright's sync API runs an event loop in this thread, and Django refuses ORM calls beside a
    # running loop; the tests' ORM calls are still synchronous.
    with pytest.MonkeyPatch.context() as patch, playwright_sync.sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def open_page(browser: Browser, live_server: LiveServer) -> Iterator[Callable[..., Page]]:
    """`open_page(**context_options)`: a new page on the live server, in a browser context of its
    own (viewport, timezone_id...), signed in as nobody. Every page must end without a script error
    or a console error (a CSP violation is one)."""
    opened: list[tuple[BrowserContext, list[str]]] = []

    def open_one(viewport: dict[str, int] | None = None, timezone_id: str = "UTC", **context_options: object) -> Page:
        # The browser's zone is the pages' (TIME_ZONE): the page is not shown again for another.
        context = browser.new_context(
            viewport=viewport or {"width": 1440, "height": 900},
            base_url=live_server.url,
            timezone_id=timezone_id,
            **context_options,
        )
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on(
            "console",
            lambda message: (
                errors.append(message.text)
                if message.type == "error" and not message.text.startswith("Failed to load resource")
                else None
            ),
        )
        opened.append((context, errors))
        return page

    yield open_one
    for context, errors in opened:
        context.close()
        assert errors == []


@pytest.fixture
def signed_in(open_page: Callable[..., Page], live_server: LiveServer) -> Callable[..., Page]:
    """`signed_in(username, **context_options)`: a page (see `open_page`) signed in as a user made
    by `user_in_role`, at /."""

    def sign_in(username: str, **context_options: object) -> Page:
        page = open_page(**context_options)
        page.goto("/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/")
        return page

    return sign_in


@pytest.fixture
def page(synced: FakeVobizServer, signed_in: Callable[..., Page], django_user_model: type[AbstractBaseUser]) -> Page:
    """The synced browser account's table, signed in as the support user "support"."""
    user_in_role(django_user_model, "support", SUPPORT)
    return signed_in("support")
