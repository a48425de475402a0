import pytest

from tests.conftest import AUTH_ID, AUTH_TOKEN
from vobiz.client import VobizAuthError, VobizClient, VobizError, VobizNotFound, VobizUnavailable, parse_retry_after


def test_a_page_says_how_much_it_holds_and_how_long_the_list_is(fake_vobiz, vobiz_client):
    fake_vobiz.max_page_size = 20
    page = vobiz_client.list_recordings(offset=40, limit=100)
    assert (len(page.objects), page.offset, page.total_count, page.has_next) == (20, 40, 1234, True)
    last = vobiz_client.list_recordings(offset=1220, limit=100)
    assert (len(last.objects), last.has_next) == (14, False)


def test_a_retrieved_recording_is_the_listed_object_without_the_response_api_id(fake_vobiz, vobiz_client):
    listed = vobiz_client.list_recordings(limit=1).objects[0]
    assert vobiz_client.get_recording(listed["recording_id"]) == listed


def test_malformed_retry_after_falls_back_to_the_usual_backoff():
    assert parse_retry_after("in a moment") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past: at once
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("nan") is None


@pytest.mark.parametrize("segment", ["account", "Account"])
def test_cdr_is_found_under_either_casing_and_the_one_that_works_is_remembered(fake_vobiz, segment):
    fake_vobiz.cdr_account_segment = segment
    client = VobizClient(AUTH_ID, AUTH_TOKEN, fake_vobiz.base_url, backoff_base=0.01)
    call_uuid = next(
        o["call_uuid"] for o in fake_vobiz.account.page(5, 50)[0] if fake_vobiz.account.cdr(o["call_uuid"])
    )
    assert client.get_cdr(call_uuid)["uuid"] == call_uuid
    fake_vobiz.reset_log()
    again = VobizClient(AUTH_ID, AUTH_TOKEN, fake_vobiz.base_url)
    assert again.get_cdr(call_uuid)["uuid"] == call_uuid
    assert [r.path.split("/")[3] for r in fake_vobiz.requests_log] == [segment]


def test_filters_are_passed_through(fake_vobiz, vobiz_client):
    first = vobiz_client.list_recordings(limit=5).objects[0]
    page = vobiz_client.list_recordings(call_uuid=first["call_uuid"])
    assert page.objects and {o["call_uuid"] for o in page.objects} == {first["call_uuid"]}
    page = vobiz_client.list_recordings(recording_type="conference")
    assert page.objects and {o["recording_type"] for o in page.objects} == {"conference"}


def test_retrieve_delete_and_not_found(fake_vobiz, vobiz_client):
    recording_id = vobiz_client.list_recordings(limit=1).objects[0]["recording_id"]
    assert vobiz_client.get_recording(recording_id)["recording_id"] == recording_id
    vobiz_client.delete_recording(recording_id)
    with pytest.raises(VobizNotFound, match="Recording not found"):
        vobiz_client.get_recording(recording_id)
    with pytest.raises(VobizNotFound):
        vobiz_client.delete_recording(recording_id)


def test_cdr_and_its_404(fake_vobiz, vobiz_client):
    objects = vobiz_client.list_recordings(limit=100).objects
    found, missing = 0, 0
    for call_uuid in {o["call_uuid"] for o in objects}:
        try:
            cdr = vobiz_client.get_cdr(call_uuid)
        except VobizNotFound:
            missing += 1
        else:
            assert cdr["uuid"] == call_uuid
            found += 1
    assert found and missing


@pytest.mark.parametrize(
    "fault", ["500", "502", "503", "504", "429", "429-no-retry-after", "stall", "truncated", "not-json"]
)
def test_every_retryable_fault_is_survived(fake_vobiz, vobiz_client, fault):
    fake_vobiz.stall_seconds = 1.5  # longer than the client's 1 s read timeout
    fake_vobiz.inject(fault, times=2)
    page = vobiz_client.list_recordings(limit=10)
    assert len(page.objects) == 10
    assert len(fake_vobiz.requests_log) == 3


def test_persistent_failure_gives_up_with_a_clear_error(fake_vobiz, vobiz_client):
    fake_vobiz.inject("503", times=100)
    with pytest.raises(VobizUnavailable, match="after 6 attempts: HTTP 503"):
        vobiz_client.list_recordings()


@pytest.mark.parametrize(("retry_after", "expected"), [(None, None), (20, 20.0), (3600, 3600.0)])
def test_giving_up_tells_the_last_retry_after_of_a_503(fake_vobiz, retry_after, expected):
    fake_vobiz.start_outage(retry_after=retry_after)
    client = VobizClient(AUTH_ID, AUTH_TOKEN, fake_vobiz.base_url, max_attempts=1)
    with pytest.raises(VobizUnavailable, match="after 1 attempt: HTTP 503") as error:
        client.get_recording("any")
    assert (error.value.status, error.value.retry_after) == (503, expected)
    assert len(fake_vobiz.requests_log) == 1  # one try: no sleeping in the caller


def test_a_long_retry_after_is_slept_at_most_a_minute_in_process(fake_vobiz, monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr("vobiz.client.time.sleep", slept.append)
    fake_vobiz.start_outage(retry_after=3600)
    client = VobizClient(AUTH_ID, AUTH_TOKEN, fake_vobiz.base_url, max_attempts=2)
    with pytest.raises(VobizUnavailable) as error:
        client.get_recording("any")
    assert slept == [60.0]
    assert error.value.retry_after == 3600.0  # as asked, for work that schedules its own next try


def test_bad_credentials_fail_at_once_without_the_token(fake_vobiz):
    client = VobizClient(AUTH_ID, "wrong-token-value", fake_vobiz.base_url, backoff_base=0.01)
    with pytest.raises(VobizAuthError) as error:
        client.list_recordings()
    assert error.value.status == 401
    assert "wrong-token-value" not in str(error.value)
    assert len(fake_vobiz.requests_log) == 1


def test_missing_credentials_are_refused_before_any_request():
    with pytest.raises(VobizError, match="VOBIZ_AUTH_ID and VOBIZ_AUTH_TOKEN"):
        VobizClient("", "", "http://127.0.0.1:9")


def test_unreachable_host_is_reported_as_unavailable():
    client = VobizClient(AUTH_ID, AUTH_TOKEN, "http://127.0.0.1:9/api/v1", backoff_base=0.01, max_attempts=2)
    with pytest.raises(VobizUnavailable, match="ConnectionError"):
        client.list_recordings()


def test_a_cdr_404_in_the_endpoints_own_shape_is_not_asked_again_under_the_other_casing(fake_vobiz):
    client = VobizClient(AUTH_ID, AUTH_TOKEN, fake_vobiz.base_url)
    with pytest.raises(VobizNotFound):
        client.get_cdr("no-such-call")
    assert len([r for r in fake_vobiz.requests_log if "/cdr/" in r.path]) == 1
