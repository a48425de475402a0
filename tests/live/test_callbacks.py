"""Vobiz's callbacks over HTTP: signatures, nonces, bodies, and what they store."""

import base64
import hashlib
import hmac
import itertools
import logging
from decimal import Decimal
from urllib.parse import urlencode

import pytest

from recordings.live import transcripts
from recordings.live.callbacks import nonce_digest
from recordings.models import CallbackNonce, Recording, Transcript
from tests.conftest import AUTH_TOKEN
from vobiz.fake.callbacks import CallbackSender

pytestmark = pytest.mark.django_db

PUBLIC_URL = "https://recordings.example.com"
RECORDING_PATH = "/vobiz/recording-callback"
TRANSCRIPTION_PATH = "/vobiz/transcription-callback"
PARENT_TOKEN = "parent-account-token-5b1e"
_nonces = itertools.count(10**19)


def v2_signature(token, url, nonce):
    return base64.b64encode(hmac.new(token.encode(), (url + nonce).encode(), hashlib.sha256).digest()).decode()


def v3_signature(token, url, nonce):
    return base64.b64encode(hmac.new(token.encode(), (url + "." + nonce).encode(), hashlib.sha256).digest()).decode()


def signed_headers(path, version="v3", token=AUTH_TOKEN, nonce=None, url=None, parent=False):
    nonce = nonce or str(next(_nonces))
    url = url or PUBLIC_URL + path
    sign = v3_signature if version == "v3" else v2_signature
    name = f"X-Vobiz-Signature-{'MA-' if parent else ''}{version.upper()}"
    return {name: sign(token, url, nonce), f"X-Vobiz-Signature-{version.upper()}-Nonce": nonce}


def post(client, path, fields, headers, content_type="application/x-www-form-urlencoded"):
    body = urlencode(fields) if isinstance(fields, dict) else fields
    return client.post(path, body, content_type=content_type, headers=headers)


@pytest.fixture
def callbacks_on(settings, fake_vobiz):
    settings.DASHBOARD_PUBLIC_URL = PUBLIC_URL
    return fake_vobiz


@pytest.fixture
def new_recording(callbacks_on):
    """A recording that has just ended at (the fake) Vobiz and is not in the dashboard yet."""
    (recording_id,) = callbacks_on.account.add_recordings(1)
    return callbacks_on.account.get(recording_id)


def record_action_fields(obj, **overrides):
    """What the <Record> element's action URL receives (CamelCase)."""
    fields = {
        "Event": "Record",
        "RecordingID": obj["recording_id"],
        "RecordUrl": obj["recording_url"],
        "CallUUID": obj["call_uuid"],
        "From": obj["from_number"],
        "To": obj["to_number"],
        "RecordingDuration": "12",
        "RecordingDurationMs": "12000",
    }
    fields.update(overrides)
    return fields


def test_v3_signed_record_action_fetches_and_stores_the_recording(
    client, new_recording, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, RECORDING_PATH, record_action_fields(new_recording), signed_headers(RECORDING_PATH))
    assert response.status_code == 200
    stored = Recording.objects.get(recording_id=new_recording["recording_id"])
    assert stored.call_uuid == new_recording["call_uuid"]
    assert stored.raw["recording_url"] == new_recording["recording_url"]


def test_v2_signed_start_recording_api_callback_is_accepted(client, new_recording, django_capture_on_commit_callbacks):
    fields = {
        "api_id": "d3b1c1f0",
        "record_url": new_recording["recording_url"],
        "call_uuid": new_recording["call_uuid"],
        "recording_id": new_recording["recording_id"],
        "recording_duration": "12",
        "recording_duration_ms": "12000.0",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, RECORDING_PATH, fields, signed_headers(RECORDING_PATH, "v2"))
    assert response.status_code == 200
    assert Recording.objects.filter(recording_id=new_recording["recording_id"]).exists()


def test_parent_account_signatures_need_the_parent_token(
    client, settings, new_recording, django_capture_on_commit_callbacks
):
    headers = signed_headers(RECORDING_PATH, token=PARENT_TOKEN, parent=True)
    fields = record_action_fields(new_recording)
    assert post(client, RECORDING_PATH, fields, headers).status_code == 403  # no parent token configured
    settings.VOBIZ_PARENT_AUTH_TOKEN = PARENT_TOKEN
    with django_capture_on_commit_callbacks(execute=True):
        assert (
            post(
                client, RECORDING_PATH, fields, signed_headers(RECORDING_PATH, token=PARENT_TOKEN, parent=True)
            ).status_code
            == 200
        )
    assert Recording.objects.filter(recording_id=new_recording["recording_id"]).exists()


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(lambda: signed_headers(RECORDING_PATH, token="wrong-token"), id="wrong token"),
        pytest.param(
            lambda: signed_headers(RECORDING_PATH, url="https://elsewhere.example.com" + RECORDING_PATH),
            id="wrong host",
        ),
        pytest.param(lambda: signed_headers(RECORDING_PATH, url=PUBLIC_URL + TRANSCRIPTION_PATH), id="other path"),
        pytest.param(
            lambda: signed_headers(RECORDING_PATH, url=PUBLIC_URL.replace("https", "http") + RECORDING_PATH), id="http"
        ),
        pytest.param(lambda: {}, id="no headers"),
        pytest.param(
            lambda: {"X-Vobiz-Signature-V3": signed_headers(RECORDING_PATH)["X-Vobiz-Signature-V3"]}, id="no nonce"
        ),
        pytest.param(lambda: {"X-Vobiz-Signature-V3-Nonce": "12345678901234567890"}, id="no signature"),
        pytest.param(lambda: {**signed_headers(RECORDING_PATH), "X-Vobiz-Signature-V3-Nonce": "1"}, id="other nonce"),
        pytest.param(lambda: {"X-Vobiz-Signature": "legacy-v1", "X-Vobiz-Signature-V3-Nonce": "1"}, id="v1 only"),
        pytest.param(lambda: {"X-Vobiz-Signature-V3": "not base64 ✓", "X-Vobiz-Signature-V3-Nonce": "1"}, id="garbage"),
    ],
)
def test_unsigned_callbacks_are_refused_and_change_nothing(
    client, new_recording, headers, caplog, django_capture_on_commit_callbacks
):
    with caplog.at_level(logging.WARNING, logger="recordings"), django_capture_on_commit_callbacks(execute=True):
        response = post(client, RECORDING_PATH, record_action_fields(new_recording), headers())
    assert response.status_code == 403
    assert not Recording.objects.exists()
    assert not CallbackNonce.objects.exists()
    assert "refused a callback" in caplog.text
    assert AUTH_TOKEN not in caplog.text


def test_a_replayed_nonce_is_refused(client, new_recording, django_capture_on_commit_callbacks, callbacks_on):
    headers = signed_headers(RECORDING_PATH)
    fields = record_action_fields(new_recording)
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, RECORDING_PATH, fields, headers).status_code == 200
    fetches = len(callbacks_on.requests_log)
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, RECORDING_PATH, fields, headers).status_code == 403
    assert len(callbacks_on.requests_log) == fetches  # nothing was fetched again


def test_a_nonce_spent_with_v3_cannot_come_back_as_v2(client, new_recording, django_capture_on_commit_callbacks):
    nonce = "48213750932184715023"
    both = {**signed_headers(RECORDING_PATH, "v3", nonce=nonce), **signed_headers(RECORDING_PATH, "v2", nonce=nonce)}
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, RECORDING_PATH, record_action_fields(new_recording), both).status_code == 200
    v2_only = signed_headers(RECORDING_PATH, "v2", nonce=nonce)
    assert post(client, RECORDING_PATH, record_action_fields(new_recording), v2_only).status_code == 403


def test_without_a_public_url_callbacks_are_refused_with_a_clear_log_line(client, settings, new_recording, caplog):
    settings.DASHBOARD_PUBLIC_URL = ""
    with caplog.at_level(logging.WARNING, logger="recordings"):
        response = post(client, RECORDING_PATH, record_action_fields(new_recording), signed_headers(RECORDING_PATH))
    assert response.status_code == 403
    assert "DASHBOARD_PUBLIC_URL is not set" in caplog.text


def test_the_query_string_is_not_part_of_the_signed_url(client, new_recording, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = post(
            client, RECORDING_PATH + "?source=app", record_action_fields(new_recording), signed_headers(RECORDING_PATH)
        )
    assert response.status_code == 200


def test_callbacks_need_no_login_and_no_csrf_token(new_recording, django_capture_on_commit_callbacks):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    with django_capture_on_commit_callbacks(execute=True):
        response = post(strict, RECORDING_PATH, record_action_fields(new_recording), signed_headers(RECORDING_PATH))
    assert response.status_code == 200


def test_get_is_not_allowed(client, callbacks_on):
    assert client.get(RECORDING_PATH, headers=signed_headers(RECORDING_PATH)).status_code == 405


def test_the_api_wins_over_the_body(client, new_recording, django_capture_on_commit_callbacks):
    fields = record_action_fields(
        new_recording,
        RecordingDurationMs="999999",
        RecordUrl="https://evil.example.com/steal.mp3",
        From="+10000000000",
        CallUUID=new_recording["call_uuid"],
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, RECORDING_PATH, fields, signed_headers(RECORDING_PATH)).status_code == 200
    stored = Recording.objects.get(recording_id=new_recording["recording_id"])
    assert stored.recording_duration_ms == int(Decimal(new_recording["recording_duration_ms"]))
    assert stored.recording_url == new_recording["recording_url"]
    assert stored.from_number == new_recording["from_number"]


def test_an_unknown_recording_stores_nothing(client, callbacks_on, django_capture_on_commit_callbacks, caplog):
    fields = {"RecordingID": "00000000-0000-4000-8000-000000000000", "CallUUID": "x"}
    with caplog.at_level(logging.INFO, logger="recordings"), django_capture_on_commit_callbacks(execute=True):
        response = post(client, RECORDING_PATH, fields, signed_headers(RECORDING_PATH))
    assert response.status_code == 200  # answered before the fetch: Vobiz must not retry it
    assert not Recording.objects.exists()
    assert "no such recording" in caplog.text


def test_a_retried_callback_and_a_synced_row_store_one_recording(client, synced, django_capture_on_commit_callbacks):
    from django.conf import settings

    settings.DASHBOARD_PUBLIC_URL = PUBLIC_URL
    existing = Recording.objects.order_by("-add_time").first()
    existing.review_state = "reviewed"
    existing.save()
    count = Recording.objects.count()
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            fields = {"RecordingID": existing.recording_id}
            assert post(client, RECORDING_PATH, fields, signed_headers(RECORDING_PATH)).status_code == 200
    assert Recording.objects.count() == count
    existing.refresh_from_db()
    assert existing.review_state == "reviewed"  # the auditors' columns are not the callback's


@pytest.mark.parametrize(
    "body, content_type, status",
    [
        ("", "application/x-www-form-urlencoded", 400),
        ("RecordingID=", "application/x-www-form-urlencoded", 400),
        ("RecordingID=a%2Fb", "application/x-www-form-urlencoded", 400),
        ("RecordingID=" + "x" * 200, "application/x-www-form-urlencoded", 400),
        ("RecordingID=%00abc", "application/x-www-form-urlencoded", 400),
        ('{"RecordingID": "abc"}', "application/json", 400),
        ("RecordingID=%ff%fe", "application/x-www-form-urlencoded", 400),
        ("&".join(f"f{i}=1" for i in range(1500)), "application/x-www-form-urlencoded", 413),
        ("RecordingID=abc&pad=" + "x" * (1024 * 1024 + 1), "application/x-www-form-urlencoded", 413),
    ],
    ids=["empty", "empty id", "slash", "long id", "nul", "json", "bad utf-8", "too many fields", "oversized"],
)
def test_malformed_and_oversized_bodies_get_a_clear_4xx(client, callbacks_on, body, content_type, status):
    response = post(client, RECORDING_PATH, body, signed_headers(RECORDING_PATH), content_type=content_type)
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/plain")
    assert CallbackNonce.objects.count() == 1  # spent: see test_a_refused_body_spends_its_nonce


def transcription_fields(recording_id, **overrides):
    fields = {
        "recording_id": recording_id,
        "call_uuid": "call-1",
        "transcription": "Hello, I would like a refund for my order please.",
        "duration": "42",
        "transcription_charge": "0.0125",
        "transcription_rate": "0.0125",
    }
    fields.update(overrides)
    return fields


def test_a_transcription_is_stored_masked_and_waits_for_its_recording(client, new_recording, monkeypatch, caplog):
    recording_id = new_recording["recording_id"]
    card = "4111 1111 1111 1111"
    text = f"My card is {card} and the CVV is 737."
    queued = []
    monkeypatch.setattr(transcripts, "queue_recording_fetch", queued.append)  # the worker has not run yet
    with caplog.at_level(logging.DEBUG):
        response = post(
            client,
            TRANSCRIPTION_PATH,
            transcription_fields(recording_id, transcription=text),
            signed_headers(TRANSCRIPTION_PATH),
        )
    assert response.status_code == 200
    transcript = Transcript.objects.get(recording_id=recording_id)
    assert card not in transcript.text and "737" not in transcript.text
    assert transcript.masked and transcript.masked_kinds == ["card number", "security code"]
    assert transcript.charge == Decimal("0.0125") and transcript.duration_seconds == Decimal(42)
    assert card not in caplog.text and "737" not in caplog.text
    assert queued == [recording_id]  # its recording is fetched
    assert not Recording.objects.exists()  # it waits: the recording arrives later


def test_a_transcription_error_is_stored(client, callbacks_on):
    fields = {"recording_id": "rec-1", "error": "Recording duration too long for transcription"}
    assert post(client, TRANSCRIPTION_PATH, fields, signed_headers(TRANSCRIPTION_PATH)).status_code == 200
    assert Transcript.objects.get(recording_id="rec-1").error == "Recording duration too long for transcription"


def test_a_transcription_without_text_or_error_is_refused(client, callbacks_on):
    fields = {"recording_id": "rec-1", "transcription": "  "}
    assert post(client, TRANSCRIPTION_PATH, fields, signed_headers(TRANSCRIPTION_PATH)).status_code == 400
    assert not Transcript.objects.exists()


def test_odd_figures_in_a_transcription_lose_only_themselves(client, callbacks_on):
    fields = transcription_fields("rec-2", duration="NaN", transcription_charge="1e400", transcription_rate="abc")
    assert post(client, TRANSCRIPTION_PATH, fields, signed_headers(TRANSCRIPTION_PATH)).status_code == 200
    transcript = Transcript.objects.get(recording_id="rec-2")
    assert (transcript.duration_seconds, transcript.charge, transcript.rate) == (None, None, None)
    assert transcript.text.startswith("Hello")


def test_a_transcription_signed_for_the_recording_endpoint_is_refused(client, callbacks_on):
    response = post(client, TRANSCRIPTION_PATH, transcription_fields("rec-3"), signed_headers(RECORDING_PATH))
    assert response.status_code == 403
    assert not Transcript.objects.exists()


def live_demo_call(live_server, settings, account):
    """What the demo does every 20 s: a new call at the fake, its callback to the dashboard."""
    settings.DASHBOARD_PUBLIC_URL = live_server.url
    sender = CallbackSender(account, live_server.url, seed=3)
    try:
        return sender.new_call()
    finally:
        sender.session.close()


@pytest.mark.django_db(transaction=True)
def test_a_live_demo_call_starts_and_ends_when_it_was_added(live_server, settings, fake_vobiz):
    """The demo's new calls: the fake lists their start and end at the moment they were added, as
    their callback says, so the recording's page shows one moment for all three."""
    recording_id = live_demo_call(live_server, settings, fake_vobiz.account)
    recording = Recording.objects.get(recording_id=recording_id)
    added_ms = recording.add_time.timestamp() * 1000
    assert abs(recording.recording_end_ms - added_ms) < 2_000
    assert recording.recording_end_ms - recording.recording_start_ms == recording.recording_duration_ms


def test_a_recording_callback_waits_on_one_commit_and_no_disk(client, new_recording, settings):
    """Its answer spends the nonce and queues the fetch in one transaction, whose commit need not
    reach the disk first on PostgreSQL: what a crash could lose, the next sync brings."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django_tasks_db.models import DBTaskResult

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
    with CaptureQueriesContext(connection) as captured:
        response = post(client, RECORDING_PATH, record_action_fields(new_recording), signed_headers(RECORDING_PATH))
    assert response.status_code == 200
    statements = [q["sql"].split()[0].upper() for q in captured]
    # One transaction (a savepoint in the test's own), no other: the nonce, the recording's pending
    # fetch (in a savepoint of its own, as a second callback's conflicts) and the task, nothing read.
    assert statements.count("SAVEPOINT") == 2 and statements.count("RELEASE") == 2
    lag = ["SET"] if connection.vendor == "postgresql" else []
    assert [s for s in statements if s not in ("SAVEPOINT", "RELEASE")] == [*lag, "INSERT", "INSERT", "INSERT"]
    assert DBTaskResult.objects.get().args_kwargs["kwargs"] == {"recording_id": new_recording["recording_id"]}
    assert CallbackNonce.objects.count() == 1


def test_a_nonce_is_refused_however_long_ago_it_was_spent(client, new_recording, callbacks_on):
    """Nothing of a nonce is forgotten: only its digest is kept, with no time to expire it by."""
    nonce = "73018456610293847561"
    CallbackNonce.objects.create(digest=nonce_digest(nonce))  # spent years ago, or before an upgrade
    fields = record_action_fields(new_recording)
    assert post(client, RECORDING_PATH, fields, signed_headers(RECORDING_PATH, nonce=nonce)).status_code == 403
    assert post(client, RECORDING_PATH, fields, signed_headers(RECORDING_PATH)).status_code == 200
    assert CallbackNonce.objects.count() == 2
    assert [field.name for field in CallbackNonce._meta.get_fields()] == ["digest"]


def test_a_nonce_is_kept_as_eight_bytes_of_its_sha256():
    digest = hashlib.sha256(b"48213750932184715023").digest()[:8]
    assert nonce_digest("48213750932184715023") == int.from_bytes(digest, "big", signed=True)
    assert -(2**63) <= nonce_digest("x" * 64) < 2**63  # fits a bigint, whatever the nonce


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        pytest.param("RecordingID=", "application/x-www-form-urlencoded", 400, id="400 no id"),
        pytest.param("{}", "application/json", 400, id="400 not a form"),
        pytest.param("a=1&" * 201, "application/x-www-form-urlencoded", 413, id="413 too many fields"),
        pytest.param("a" * (1024 * 1024 + 1), "application/x-www-form-urlencoded", 413, id="413 too large"),
    ],
)
def test_a_refused_body_spends_its_nonce(client, new_recording, body, content_type, status):
    """The signature does not cover the body: headers that came with an unusable one must not come
    back later with a usable one."""
    headers = signed_headers(RECORDING_PATH)
    assert post(client, RECORDING_PATH, body, headers, content_type=content_type).status_code == status
    assert CallbackNonce.objects.filter(digest=nonce_digest(headers["X-Vobiz-Signature-V3-Nonce"])).exists()
    replay = post(client, RECORDING_PATH, record_action_fields(new_recording), headers)
    assert replay.status_code == 403
    assert not Recording.objects.exists()
    again = post(client, RECORDING_PATH, body, headers, content_type=content_type)
    assert again.status_code == 403  # the same unusable body again is a replay too


def test_a_refused_transcription_spends_its_nonce(client, callbacks_on):
    headers = signed_headers(TRANSCRIPTION_PATH)
    assert post(client, TRANSCRIPTION_PATH, {"recording_id": "rec-1"}, headers).status_code == 400
    fields = {"recording_id": "rec-1", "transcription": "any text at all"}
    assert post(client, TRANSCRIPTION_PATH, fields, headers).status_code == 403
    assert not Transcript.objects.exists()


def test_a_refused_body_is_answered_503_when_its_nonce_cannot_be_kept(client, new_recording):
    from django.db import OperationalError, connection

    def fail_on_nonces(execute, sql, params, many, context):
        if "recordings_callbacknonce" in sql:
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(fail_on_nonces):
        response = post(client, RECORDING_PATH, "RecordingID=", signed_headers(RECORDING_PATH))
    assert response.status_code == 503


@pytest.mark.parametrize("failing", ["recordings_callbacknonce", "django_tasks_database_dbtaskresult"])
def test_a_database_failure_keeps_nothing_and_asks_for_the_callback_again(client, new_recording, settings, failing):
    """The nonce's insert fails, or the queued fetch's after it: 503, and the nonce goes back."""
    from django.db import OperationalError, connection

    def fail_on_table(execute, sql, params, many, context):
        if sql.startswith("INSERT") and failing in sql:
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
    headers = signed_headers(RECORDING_PATH)
    with connection.execute_wrapper(fail_on_table):
        response = post(client, RECORDING_PATH, record_action_fields(new_recording), headers)
    assert response.status_code == 503 and b"Send it again" in response.content
    assert not CallbackNonce.objects.exists()
    assert post(client, RECORDING_PATH, record_action_fields(new_recording), headers).status_code == 200


def test_one_nonce_spent_refuses_the_callback_and_keeps_the_other(client, new_recording):
    fields = record_action_fields(new_recording)
    assert post(client, RECORDING_PATH, fields, signed_headers(RECORDING_PATH, nonce="111")).status_code == 200
    both = {**signed_headers(RECORDING_PATH, "v2", nonce="222"), **signed_headers(RECORDING_PATH, "v3", nonce="111")}
    assert post(client, RECORDING_PATH, fields, both).status_code == 403
    assert set(CallbackNonce.objects.values_list("digest", flat=True)) == {nonce_digest("111")}  # 222 went back


def test_a_transcript_is_kept_when_its_recordings_fetch_cannot_be_queued(client, new_recording, settings, caplog):
    from django.db import OperationalError, connection

    def fail_to_queue(execute, sql, params, many, context):
        if sql.startswith("INSERT") and "django_tasks_database_dbtaskresult" in sql:
            raise OperationalError("disk full")
        return execute(sql, params, many, context)

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
    recording_id = new_recording["recording_id"]
    with connection.execute_wrapper(fail_to_queue):
        response = post(
            client, TRANSCRIPTION_PATH, transcription_fields(recording_id), signed_headers(TRANSCRIPTION_PATH)
        )
    assert response.status_code == 200  # only this callback brings the text: it is kept
    assert Transcript.objects.get(recording_id=recording_id).text.startswith("Hello, I would like a refund")
    assert "fetch not queued (disk full); the next sync picks it up" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_a_live_demo_calls_page_shows_its_call_record(live_server, settings, fake_vobiz, support_client):
    """The callback says the call completed: its CDR is there at once, not after the next call."""
    recording_id = live_demo_call(live_server, settings, fake_vobiz.account)
    call_uuid = Recording.objects.get(recording_id=recording_id).call_uuid
    response = support_client.get(f"/calls/{call_uuid}/")
    assert response.status_code == 200
    facts = {label: value for label, value, _ in response.context["facts"]}
    assert "Hung up by" in facts and b"still in progress" not in response.content
    assert recording_id.encode() in response.content
