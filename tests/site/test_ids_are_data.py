"""Recording and call ids are data, never paths: checked where they enter (the URLs, the callbacks,
the sync's normaliser) and again by the Vobiz client before it builds any request."""

from urllib.parse import quote, urlencode, urlsplit

import pytest

from recordings.models import CallbackNonce, Recording, TaskRun
from recordings.sync.run import sync_recordings
from recordings.sync.walk import SyncOptions
from tests.conftest import AUTH_ID
from tests.live.test_callbacks import PUBLIC_URL, RECORDING_PATH, TRANSCRIPTION_PATH, post, signed_headers
from vobiz.client import VobizBadId, VobizClient

pytestmark = pytest.mark.django_db

BAD_IDS = [".", "..", "%2E%2E", ".hidden", "a/b", "a\\b", "\x00", "c1\x85", "c1\t"]
# What a URL path carries for each: "%2E%2E" as it is (the server decodes it to ".."), the rest quoted.
IN_A_PATH = {bad: bad if bad == "%2E%2E" else quote(bad, safe="") for bad in BAD_IDS}
# What the form body of a callback carries: "%2E%2E" as it is (the form decodes it to "..").
IN_A_FORM = {bad: bad if bad == "%2E%2E" else quote(bad, safe="") for bad in BAD_IDS}


def account_requests(fake):
    """Requests the fake received for the account itself or its CDR list, which an id must never
    turn into (".." resolved by the HTTP library, say)."""
    base = urlsplit(fake.base_url).path
    forbidden = {
        f"{base}/{segment}/{AUTH_ID}{tail}" for segment in ("Account", "account") for tail in ("", "/", "/cdr", "/cdr/")
    }
    return [r for r in fake.requests_log if r.path in forbidden]


@pytest.mark.parametrize("bad", BAD_IDS)
@pytest.mark.parametrize(
    ("method", "template"),
    [
        ("get", "/recordings/{}/"),
        ("get", "/recordings/{}/audio"),
        ("get", "/calls/{}/"),
        ("post", "/calls/{}/"),  # the call record's refresh
        ("post", "/calls/{}/hold"),
        ("post", "/recordings/{}/delete"),
        ("post", "/recordings/{}/review"),
    ],
)
def test_a_page_for_an_unsafe_id_is_not_found_and_asks_vobiz_nothing(auditor_client, fake_vobiz, method, template, bad):
    response = getattr(auditor_client, method)(template.format(IN_A_PATH[bad]))
    assert response.status_code == 404
    assert fake_vobiz.requests_log == []
    assert not TaskRun.objects.exists()


def test_a_safe_id_with_dots_inside_is_still_an_id(auditor_client, fake_vobiz):
    response = auditor_client.get("/calls/a..b/")
    assert response.status_code == 200
    assert [r.path.rsplit("/", 1)[-1] for r in fake_vobiz.requests_log] == ["a..b"]


@pytest.mark.parametrize("bad", BAD_IDS)
@pytest.mark.parametrize("field", ["RecordingID", "CallUUID"])
def test_a_recording_callback_with_an_unsafe_id_is_refused_and_spends_its_nonce(
    client, settings, fake_vobiz, field, bad
):
    settings.DASHBOARD_PUBLIC_URL = PUBLIC_URL
    fields = {"RecordingID": "rec-1", "CallUUID": "call-1"}
    body = "&".join(
        f"{name}={IN_A_FORM[bad]}" if name == field else urlencode({name: value}) for name, value in fields.items()
    )
    headers = signed_headers(RECORDING_PATH)
    assert post(client, RECORDING_PATH, body, headers).status_code == 400
    assert CallbackNonce.objects.count() == 1
    assert post(client, RECORDING_PATH, urlencode(fields), headers).status_code == 403
    assert fake_vobiz.requests_log == [] and not Recording.objects.exists()


@pytest.mark.parametrize("bad", BAD_IDS)
def test_a_transcription_callback_with_an_unsafe_id_is_refused(client, settings, fake_vobiz, bad):
    settings.DASHBOARD_PUBLIC_URL = PUBLIC_URL
    body = f"recording_id={IN_A_FORM[bad]}&transcription=words"
    assert post(client, TRANSCRIPTION_PATH, body, signed_headers(TRANSCRIPTION_PATH)).status_code == 400
    assert CallbackNonce.objects.count() == 1
    assert fake_vobiz.requests_log == []


def test_the_sync_skips_and_counts_unsafe_recording_ids_and_asks_vobiz_nothing_for_them(fake_vobiz, vobiz_client):
    unsafe = [bad for bad in BAD_IDS if bad != "%2E%2E"]  # "%2E%2E" in JSON is no dot, only text
    for index, bad in enumerate(unsafe):
        # In an older shape, as the list may give: the sync would retrieve it by its id to complete it.
        fake_vobiz.account.set_override(index, {"recording_id": bad, "duration": 12}, replace=True)
    fake_vobiz.account.set_override(len(unsafe), {"call_uuid": ".."})
    run = sync_recordings(SyncOptions(), client=vobiz_client)
    assert run.status == "succeeded" and run.skipped == len(unsafe)
    assert Recording.objects.count() == len(fake_vobiz.account) - len(unsafe)
    assert Recording.objects.filter(call_uuid="").count() == 1  # an unsafe call id names no call
    assert account_requests(fake_vobiz) == []
    retrieved = [r.path for r in fake_vobiz.requests_log if not r.path.endswith("/Recording/")]
    assert retrieved == []


@pytest.mark.parametrize("bad", [bad for bad in BAD_IDS if bad != "%2E%2E"] + [""])
def test_the_client_refuses_unsafe_ids_before_any_request(vobiz_client, fake_vobiz, bad):
    with pytest.raises(VobizBadId, match="never sent to Vobiz"):
        vobiz_client.get_recording(bad)
    with pytest.raises(VobizBadId):
        vobiz_client.delete_recording(bad)
    with pytest.raises(VobizBadId):
        vobiz_client.get_cdr(bad)
    with pytest.raises(VobizBadId):
        VobizClient(bad or ".", "token", fake_vobiz.base_url).list_recordings()
    assert fake_vobiz.requests_log == []


def test_the_client_sends_a_percent_as_text_never_as_a_path(vobiz_client, fake_vobiz):
    """ "%2E%2E" is a (strange) id, sent quoted as one segment: never the account's own path."""
    for call in (vobiz_client.get_recording, vobiz_client.get_cdr, vobiz_client.delete_recording):
        with pytest.raises(Exception):  # the fake knows no such recording or call
            call("%2E%2E")
    assert fake_vobiz.requests_log and account_requests(fake_vobiz) == []
    assert all(r.path.endswith(("/%252E%252E/", "/%252E%252E")) for r in fake_vobiz.requests_log)


def test_a_full_sync_leaves_an_id_stored_before_the_checks_alone(fake_vobiz, vobiz_client):
    sync_recordings(SyncOptions(), client=vobiz_client)
    stored = Recording.objects.order_by("add_time").first()
    Recording.objects.filter(pk=stored.pk).update(recording_id=".legacy")  # as an older version kept it
    fake_vobiz.reset_log()
    run = sync_recordings(SyncOptions(full=True), client=vobiz_client)
    assert run.status == "succeeded"
    assert Recording.objects.get(recording_id=".legacy").gone_at is None  # not asked about, so not judged
    assert account_requests(fake_vobiz) == []
