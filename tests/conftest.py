import os

import pytest
from django.core.cache import caches
from django.db import connection

from recordings.browsing import media
from recordings.roles import AUDITORS, SUPPORT, role_group
from recordings.sync.run import sync_recordings
from recordings.sync.walk import SyncOptions
from vobiz.client import VobizClient
from vobiz.fake.data import FakeAccount
from vobiz.fake.server import FakeVobizServer

AUTH_ID = "MA_TESTACCT"
AUTH_TOKEN = "test-secret-token-7f3a9c"


@pytest.fixture
def fake_account():
    return FakeAccount(count=1234, seed=7, auth_id=AUTH_ID, auth_token=AUTH_TOKEN)


@pytest.fixture
def fake_vobiz(fake_account, settings):
    """A fake Vobiz API on a local port, with the settings pointing at it."""
    with FakeVobizServer(account=fake_account) as server:
        settings.VOBIZ_AUTH_ID = AUTH_ID
        settings.VOBIZ_AUTH_TOKEN = AUTH_TOKEN
        settings.VOBIZ_API_URL = server.base_url
        yield server


@pytest.fixture
def vobiz_client(fake_vobiz):
    """A client that gives up and backs off quickly, so fault tests stay fast."""
    client = VobizClient(
        AUTH_ID, AUTH_TOKEN, fake_vobiz.base_url, read_timeout=1.0, backoff_base=0.01, backoff_max=0.05
    )
    yield client
    client.close()


@pytest.fixture
def synced(fake_vobiz, vobiz_client):
    """The fake account synced into the database: the fake server, for assertions on it."""
    sync_recordings(SyncOptions(), client=vobiz_client)
    return fake_vobiz


def list_requests(server):
    return [r for r in server.requests_log if r.method == "GET" and r.path.endswith("/Recording/")]


@pytest.fixture
def subprocess_env(fake_vobiz):
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


def user_in_role(django_user_model, username, role, **extra):
    user = django_user_model.objects.create_user(username, password="pw", **extra)
    user.groups.add(role_group(role))
    return user


@pytest.fixture
def support_user(django_user_model):
    return user_in_role(django_user_model, "sky", SUPPORT)


@pytest.fixture
def auditor_user(django_user_model):
    return user_in_role(django_user_model, "ada", AUDITORS)


@pytest.fixture
def support_client(client, support_user):
    client.force_login(support_user)
    return client


@pytest.fixture
def auditor_client(client, auditor_user):
    client.force_login(auditor_user)
    return client


@pytest.fixture
def staff_client(client, django_user_model):
    client.force_login(user_in_role(django_user_model, "sam", SUPPORT, is_staff=True))
    return client


@pytest.fixture(autouse=True)
def empty_cache():
    """Cached counts and forms must not leak from one test's rows into the next."""
    for cache in caches.all():
        cache.clear()


@pytest.fixture
def public_loopback(monkeypatch):
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
def browser():
    playwright_sync = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: the README's test command installs Debian's chromium package")
    with playwright_sync.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def signed_in(browser, live_server):
    """`signed_in(user, password, **context_options)`: a page signed in as `user` at /, in a new
    browser context (viewport, timezone_id...). Every page must end without a script error or a
    console error (a CSP violation is one)."""
    opened = []

    def sign_in(username, password, viewport=None, timezone_id="UTC", **context_options):
        # The browser's zone is the pages' (TIME_ZONE): the page is not shown again for another.
        context = browser.new_context(
            viewport=viewport or {"width": 1440, "height": 900},
            base_url=live_server.url,
            timezone_id=timezone_id,
            **context_options,
        )
        page = context.new_page()
        errors = []
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
        page.goto("/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/")
        return page

    yield sign_in
    for context, errors in opened:
        context.close()
        assert errors == []
