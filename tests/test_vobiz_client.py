import pytest

from recordings.vobiz import VobizAuthError, VobizClient, VobizError, VobizNotFound, VobizUnavailable

from .conftest import AUTH_ID, AUTH_TOKEN


def test_pages_advance_by_what_came_back(fake_vobiz, vobiz_client):
    fake_vobiz.max_page_size = 20
    pages = list(vobiz_client.iter_pages())
    assert [len(p.objects) for p in pages[:2]] == [20, 20]
    ids = [o["recording_id"] for p in pages for o in p.objects]
    assert len(ids) == len(set(ids)) == 1234
    assert pages[0].total_count == 1234


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
