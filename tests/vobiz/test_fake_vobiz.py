"""The fake Vobiz API, exercised over real HTTP as the product's client sees it."""

import io
import re
import subprocess
import sys
import threading
import time
import wave
from datetime import datetime, timedelta, timezone

import pytest
import requests

from vobiz.fake.__main__ import bandwidth
from vobiz.fake.__main__ import main as fake_main
from vobiz.fake.data import FakeAccount
from vobiz.fake.server import FAULT_KINDS, FakeVobizServer

AUTH_ID = "MA_TEST0001"
TOKEN = "test-token-secret"
HEADERS = {"X-Auth-ID": AUTH_ID, "X-Auth-Token": TOKEN}
DOCUMENTED_FIELDS = {
    "add_time",
    "call_uuid",
    "conference_name",
    "from_number",
    "monthly_recording_storage_amount",
    "recording_duration_ms",
    "recording_end_ms",
    "recording_format",
    "recording_id",
    "recording_start_ms",
    "recording_storage_duration",
    "recording_storage_rate",
    "recording_type",
    "recording_url",
    "resource_uri",
    "rounded_recording_duration",
    "to_number",
}


def make_account(count=300, seed=3):
    return FakeAccount(count=count, seed=seed, auth_id=AUTH_ID, auth_token=TOKEN)


@pytest.fixture
def server():
    with FakeVobizServer(make_account()) as fake:
        yield fake


@pytest.fixture
def http():
    with requests.Session() as session:
        session.headers.update(HEADERS)
        yield session


def recordings_url(server, suffix=""):
    return f"{server.base_url}/Account/{AUTH_ID}/Recording/{suffix}"


def list_page(http, server, **params):
    response = http.get(recordings_url(server), params=params, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


def parse_add_time(text):
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f%z")


def find(server, predicate, limit=300):
    objects, _ = server.account.page(0, limit)
    return next(o for o in objects if predicate(o))


# ---- listing ----------------------------------------------------------------------------------


def test_list_has_documented_shape(server, http):
    body = list_page(http, server)
    assert set(body) == {"api_id", "meta", "objects"}
    assert body["meta"] == {
        "limit": 20,
        "next": f"/v1/Account/{AUTH_ID}/Recording/?limit=20&offset=20",
        "offset": 0,
        "previous": None,
        "total_count": 300,
    }
    assert len(body["objects"]) == 20
    assert all(set(o) == DOCUMENTED_FIELDS for o in body["objects"])


def test_walking_next_links_returns_everything_once_newest_first(server, http):
    seen, url = [], recordings_url(server) + "?limit=100"
    while url:
        body = http.get(url, timeout=5).json()
        seen += body["objects"]
        next_path = body["meta"]["next"]
        url = server.base_url.removesuffix("/v1") + next_path if next_path else None
    assert len(seen) == len({o["recording_id"] for o in seen}) == 300
    times = [parse_add_time(o["add_time"]) for o in seen]
    assert times == sorted(times, reverse=True) and len(set(times)) == len(times)


def test_max_page_size_serves_fewer_than_asked(server, http):
    server.max_page_size = 20
    body = list_page(http, server, limit=100, offset=40)
    assert len(body["objects"]) == 20
    assert body["meta"]["limit"] == 20
    assert body["meta"]["next"] == f"/v1/Account/{AUTH_ID}/Recording/?limit=20&offset=60"
    assert body["meta"]["previous"] == f"/v1/Account/{AUTH_ID}/Recording/?limit=20&offset=20"


def test_pages_at_the_ends(server, http):
    last = list_page(http, server, limit=30, offset=290)
    assert len(last["objects"]) == 10 and last["meta"]["next"] is None
    assert last["meta"]["previous"].endswith("?limit=30&offset=260")
    near_start = list_page(http, server, limit=30, offset=10)
    assert near_start["meta"]["previous"].endswith("?limit=30&offset=0")
    beyond = list_page(http, server, offset=1000)
    assert beyond["objects"] == [] and beyond["meta"]["next"] is None
    assert beyond["meta"]["total_count"] == 300


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"limit": "ten"}, {"offset": -1}, {"offset": "x"}])
def test_bad_paging_parameters_are_400(server, http, params):
    response = http.get(recordings_url(server), params=params, timeout=5)
    assert response.status_code == 400
    assert set(response.json()) == {"api_id", "error"}


def test_filter_by_recording_type(server, http):
    everything, _ = server.account.page(0, 300)
    expected = [o["recording_id"] for o in everything if o["recording_type"] == "conference"]
    body = list_page(http, server, recording_type="conference", limit=100)
    assert [o["recording_id"] for o in body["objects"]] == expected
    assert body["meta"]["total_count"] == len(expected) > 0
    assert list_page(http, server, recording_type="extension")["meta"]["total_count"] == 0


def test_filter_by_call_uuid_and_next_link_keeps_filters(server, http):
    everything, _ = server.account.page(0, 300)
    counts = {}
    for o in everything:
        counts[o["call_uuid"]] = counts.get(o["call_uuid"], 0) + 1
    call_uuid = max(counts, key=counts.get)
    assert counts[call_uuid] >= 2  # some calls have several recordings
    body = list_page(http, server, call_uuid=call_uuid, limit=1)
    assert body["meta"]["total_count"] == counts[call_uuid]
    assert body["objects"][0]["call_uuid"] == call_uuid
    assert f"call_uuid={call_uuid}" in body["meta"]["next"]
    positions = [i for i, o in enumerate(everything) if o["call_uuid"] == call_uuid]
    assert positions == list(range(positions[0], positions[0] + len(positions)))  # consecutive
    assert list_page(http, server, call_uuid="not-a-call")["meta"]["total_count"] == 0


# ---- one recording ----------------------------------------------------------------------------


def test_retrieve_and_404(server, http):
    obj = list_page(http, server, offset=7, limit=1)["objects"][0]
    response = http.get(recordings_url(server, f"{obj['recording_id']}/"), timeout=5)
    assert response.status_code == 200
    body = response.json()
    assert body.pop("api_id") and body == obj
    missing = http.get(recordings_url(server, "00000000-0000-4000-8000-000000000000/"), timeout=5)
    assert missing.status_code == 404
    assert missing.json()["error"] == "Recording not found" and "api_id" in missing.json()


def test_delete(server, http):
    obj = list_page(http, server, offset=5, limit=1)["objects"][0]
    url = recordings_url(server, f"{obj['recording_id']}/")
    response = http.delete(url, timeout=5)
    assert response.status_code == 204 and response.content == b""
    assert http.get(url, timeout=5).status_code == 404
    assert http.delete(url, timeout=5).status_code == 404
    assert http.get(obj["recording_url"], timeout=5).status_code == 404
    body = list_page(http, server, limit=100)
    assert body["meta"]["total_count"] == 299
    assert obj["recording_id"] not in {o["recording_id"] for o in body["objects"]}


def test_paging_stays_consistent_after_scattered_deletions():
    account = make_account(count=200)
    everything, _ = account.page(0, 200)
    doomed = {everything[i]["recording_id"] for i in (0, 1, 57, 58, 99, 150, 199)}
    for recording_id in doomed:
        assert account.delete(recording_id)
    remaining = [o for o in everything if o["recording_id"] not in doomed]
    walked = []
    for offset in range(0, 200, 13):
        page, total = account.page(offset, 13)
        walked += page
    assert total == 193 and walked == remaining


# ---- CDR --------------------------------------------------------------------------------------


def test_cdr(server, http):
    older = list_page(http, server, offset=100, limit=100)["objects"]
    found = None
    for obj in older:
        response = http.get(f"{server.base_url}/Account/{AUTH_ID}/cdr/{obj['call_uuid']}", timeout=5)
        if response.status_code == 200:
            found = response.json()
            break
    assert found and found["success"] is True
    cdr = found["data"]
    for field in (
        "uuid",
        "call_direction",
        "caller_id_name",
        "caller_id_number",
        "destination_number",
        "start_time",
        "progress_time",
        "answer_time",
        "end_time",
        "duration",
        "billsec",
        "ring_time",
        "hangup_cause",
        "hangup_cause_code",
        "hangup_cause_name",
        "hangup_source",
        "hangup_disposition",
        "cost",
        "total_cost",
        "currency",
        "codec",
        "mos",
        "jitter",
        "packet_loss",
        "region",
        "sip_call_id",
        "id",
    ):
        assert field in cdr
    assert cdr["uuid"] == obj["call_uuid"] and isinstance(cdr["id"], int)
    assert cdr["start_time"].endswith("Z") and cdr["currency"] == "INR"
    assert cdr["call_direction"] in ("inbound", "outbound")


def test_cdr_404_for_the_newest_call_and_unknown_calls(server, http):
    newest = list_page(http, server, limit=1)["objects"][0]
    for call_uuid in (newest["call_uuid"], "11223344-5566-7788-99aa-bbccddeeff00"):
        response = http.get(f"{server.base_url}/Account/{AUTH_ID}/cdr/{call_uuid}", timeout=5)
        assert response.status_code == 404
        assert response.json()["success"] is False


def test_a_call_that_ended_has_its_cdr_at_once_agreeing_with_its_recording(server, http):
    ended_at = datetime(2026, 12, 1, 9, 30, 15, tzinfo=timezone.utc)
    recording_id = server.account.add_call(ended_at=ended_at)
    head = list_page(http, server, limit=1)["objects"][0]
    assert head["recording_id"] == recording_id
    response = http.get(f"{server.base_url}/Account/{AUTH_ID}/cdr/{head['call_uuid']}", timeout=5)
    assert response.status_code == 200
    cdr = response.json()["data"]
    assert cdr["uuid"] == head["call_uuid"] and cdr["end_time"] == "2026-12-01T09:30:15Z"
    recording_end = datetime.fromtimestamp(float(head["recording_end_ms"]) / 1000, timezone.utc)
    assert abs(parse_add_time(head["add_time"]) - recording_end) < timedelta(milliseconds=1)
    assert timedelta(seconds=1) <= ended_at - recording_end <= timedelta(seconds=3)
    recording_start = datetime.fromtimestamp(float(head["recording_start_ms"]) / 1000, timezone.utc)
    assert datetime.fromisoformat(cdr["start_time"]) < recording_start
    calls = list_page(http, server, call_uuid=head["call_uuid"])
    assert [o["recording_id"] for o in calls["objects"]] == [recording_id]  # a call of its own


def test_a_generated_call_after_an_ended_one_is_still_in_progress(server, http):
    ended_id = server.account.add_call(ended_at=datetime.now(timezone.utc))
    (newest_id,) = server.account.add_recordings(1)
    calls = {o["recording_id"]: o["call_uuid"] for o in list_page(http, server, limit=2)["objects"]}
    assert calls[newest_id] != calls[ended_id]
    statuses = {
        recording_id: http.get(f"{server.base_url}/Account/{AUTH_ID}/cdr/{call_uuid}", timeout=5).status_code
        for recording_id, call_uuid in calls.items()
    }
    assert statuses == {ended_id: 200, newest_id: 404}


# ---- auth -------------------------------------------------------------------------------------


def assert_general_401(response):
    assert response.status_code == 401
    body = response.json()
    assert body["status"] == "error" and body["error"]["code"] == "UNAUTHORIZED"
    assert {"message", "details"} <= set(body["error"]) and body["timestamp"] and body["requestId"]


def test_auth_failures(server):
    url = recordings_url(server)
    assert_general_401(requests.get(url, timeout=5))
    assert_general_401(requests.get(url, headers={**HEADERS, "X-Auth-Token": "wrong"}, timeout=5))
    assert_general_401(requests.get(url, headers={**HEADERS, "X-Auth-ID": "MA_OTHER"}, timeout=5))
    other_account = f"{server.base_url}/Account/MA_OTHER/Recording/"
    assert_general_401(requests.get(other_account, headers=HEADERS, timeout=5))


@pytest.mark.parametrize("path", ["account/{a}/Recording/", "Account/{a}/recording/", "Account/{a}/CDR/x"])
def test_wrong_case_path_is_401(server, http, path):
    assert_general_401(http.get(f"{server.base_url}/{path.format(a=AUTH_ID)}", timeout=5))


def test_media_needs_auth(server):
    obj = find(server, lambda o: True)
    assert_general_401(requests.get(obj["recording_url"], timeout=5))


# ---- audio ------------------------------------------------------------------------------------


def short_recording(server, recording_format):
    return find(
        server, lambda o: o["recording_format"] == recording_format and float(o["recording_duration_ms"]) < 40_000
    )


@pytest.mark.parametrize("recording_format,content_type", [("mp3", "audio/mpeg"), ("wav", "audio/wav")])
def test_ranges(server, http, recording_format, content_type):
    url = short_recording(server, recording_format)["recording_url"]
    assert url.startswith(server.base_url.removesuffix("/api/v1") + "/media/")
    full = http.get(url, timeout=10)
    size = len(full.content)
    assert full.status_code == 200 and full.headers["Content-Type"] == content_type
    assert full.headers["Accept-Ranges"] == "bytes" and int(full.headers["Content-Length"]) == size

    cases = {
        "bytes=0-99": (0, 99),
        f"bytes={size - 10}-": (size - 10, size - 1),
        "bytes=-50": (size - 50, size - 1),
        f"bytes=100-{size + 500}": (100, size - 1),
    }
    for header, (first, last) in cases.items():
        part = http.get(url, headers={"Range": header}, timeout=5)
        assert part.status_code == 206, header
        assert part.headers["Content-Range"] == f"bytes {first}-{last}/{size}"
        assert part.content == full.content[first : last + 1]
        assert part.headers["Content-Type"] == content_type

    unsatisfiable = http.get(url, headers={"Range": f"bytes={size}-"}, timeout=5)
    assert unsatisfiable.status_code == 416
    assert unsatisfiable.headers["Content-Range"] == f"bytes */{size}"

    head = http.head(url, timeout=5)
    assert head.status_code == 200 and int(head.headers["Content-Length"]) == size and head.content == b""


def paced_fetch(http, url, headers):
    """(body, seconds to its first byte, seconds to its last) of a streamed GET."""
    started = time.monotonic()
    with http.get(url, headers=headers, stream=True, timeout=10) as response:
        first = response.raw.read(1)
        first_at = time.monotonic() - started
        body = first + response.raw.read()
    return body, first_at, time.monotonic() - started


# The server sleeps until each piece's time, so a paced body never comes sooner than its size allows
# however loaded the machine; only the bounds that it comes later need room.
def test_audio_can_trickle_at_a_bandwidth_while_the_api_does_not(server, http):
    url = short_recording(server, "wav")["recording_url"]
    whole = http.get(url, timeout=10).content
    server.audio_bandwidth = 100_000  # bytes a second: 100 KB take a second
    body, first_at, took = paced_fetch(http, url, {"Range": "bytes=0-99999"})
    assert body == whole[:100_000]
    assert took >= 0.98  # its last piece is written 0.99 s after its first
    assert took - first_at >= 0.5  # the first bytes come well before the rest: trickled, not held back
    assert took < 10  # 100 KB a second, not a tenth of that
    server.audio_bandwidth = 5_000
    started = time.monotonic()
    page = http.get(recordings_url(server), params={"limit": 100}, timeout=5)
    assert page.status_code == 200
    assert time.monotonic() - started < len(page.content) / server.audio_bandwidth / 4  # pages are not paced


def test_audio_redirected_to_outside_storage_trickles_too(server, http):
    server.start_outside_storage()
    url = short_recording(server, "wav")["recording_url"]
    whole = http.get(url, timeout=10).content
    server.media_redirect = "outside"
    server.audio_bandwidth = 100_000
    body, first_at, took = paced_fetch(http, url, {"Range": "bytes=0-99999"})  # follows the 302
    assert body == whole[:100_000]
    assert took >= 0.98 and took - first_at >= 0.5 and took < 10


@pytest.mark.parametrize("value", ["0", "-100", "nan", "inf", "fast"])
def test_the_command_line_refuses_a_bandwidth_not_above_zero(value, capsys):
    with pytest.raises(SystemExit) as exit:
        fake_main(["--audio-bandwidth", value])
    assert exit.value.code == 2
    assert f"argument --audio-bandwidth: {value!r} is not a number of bytes a second" in capsys.readouterr().err


def test_the_command_line_takes_a_bandwidth_in_bytes_a_second():
    assert bandwidth("1048576") == bandwidth("1.048576e6") == 1_048_576


def test_wav_is_stereo_with_the_caller_on_the_left(server, http):
    obj = short_recording(server, "wav")
    with wave.open(io.BytesIO(http.get(obj["recording_url"], timeout=5).content)) as clip:
        assert (clip.getnchannels(), clip.getsampwidth(), clip.getframerate()) == (2, 2, 8000)
        seconds = clip.getnframes() / 8000
        assert seconds == pytest.approx(float(obj["recording_duration_ms"]) / 1000, abs=0.001)
        frames = clip.readframes(clip.getnframes())
    samples = memoryview(frames).cast("h")
    left, right = samples[0::2], samples[1::2]
    first_sound = next(i for i in range(len(left)) if left[i] or right[i])
    assert left[first_sound] and not right[first_sound]  # the caller speaks first, on the left
    assert any(right[i] and not left[i] for i in range(len(right)))  # the callee answers on the right


def mp3_frames(data):
    """(channel mode, samples) of each MPEG-2.5/2 layer III frame; mode 3 means mono."""
    position = 0
    if data[:3] == b"ID3":
        position = 10 + int.from_bytes(bytes(b & 0x7F for b in data[6:10]), "big")
    bitrates = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160]
    rates = {0: [11025, 12000, 8000], 2: [22050, 24000, 16000]}
    frames = []
    while position + 4 <= len(data):
        header = data[position : position + 4]
        assert header[0] == 0xFF and header[1] & 0xE0 == 0xE0, f"no frame sync at {position}"
        version, layer = header[1] >> 3 & 3, header[1] >> 1 & 3
        assert layer == 1 and version in rates  # layer III, MPEG 2.5 or 2
        bitrate = bitrates[header[2] >> 4] * 1000
        sample_rate = rates[version][header[2] >> 2 & 3]
        frames.append((header[3] >> 6, 576))
        position += 72 * bitrate // sample_rate + (header[2] >> 1 & 1)
    return frames


def test_mp3_is_stereo_and_lasts_the_recording(server, http):
    obj = short_recording(server, "mp3")
    data = http.get(obj["recording_url"], timeout=5).content
    assert data[:3] == b"ID3" or (data[0] == 0xFF and data[1] & 0xE0 == 0xE0)
    frames = mp3_frames(data)
    assert frames and all(mode != 3 for mode, _ in frames)
    seconds = sum(n for _, n in frames) / 8000
    assert seconds == pytest.approx(float(obj["recording_duration_ms"]) / 1000, abs=0.3)


# ---- faults, latency, log ---------------------------------------------------------------------


@pytest.mark.parametrize("kind,status", [("500", 500), ("503", 503), ("401", 401)])
def test_json_error_faults(server, http, kind, status):
    server.inject(kind)
    response = http.get(recordings_url(server), timeout=5)
    assert response.status_code == status and response.json()["status"] == "error"
    assert http.get(recordings_url(server), timeout=5).status_code == 200  # only once


@pytest.mark.parametrize("kind", ["502", "504"])
def test_proxy_html_faults(server, http, kind):
    server.inject(kind)
    response = http.get(recordings_url(server), timeout=5)
    assert response.status_code == int(kind)
    assert response.headers["Content-Type"] == "text/html" and response.text.startswith("<html>")


def test_rate_limit_faults(server, http):
    server.inject("429")
    server.inject("429-no-retry-after")
    first = http.get(recordings_url(server), timeout=5)
    second = http.get(recordings_url(server), timeout=5)
    assert first.status_code == second.status_code == 429
    assert first.headers["Retry-After"] == "1" and "Retry-After" not in second.headers


def test_not_json_fault(server, http):
    server.inject("not-json")
    response = http.get(recordings_url(server), timeout=5)
    assert response.status_code == 200 and response.headers["Content-Type"] == "text/html"
    with pytest.raises(ValueError):
        response.json()


def test_stall_fault(server, http):
    server.stall_seconds = 1.0
    server.inject("stall")
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        http.get(recordings_url(server), timeout=0.3)
    assert time.monotonic() - started < 0.9
    assert http.get(recordings_url(server), timeout=5).status_code == 200


def test_truncated_fault(server, http):
    server.inject("truncated")
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        http.get(recordings_url(server), timeout=5)
    assert http.get(recordings_url(server), timeout=5).status_code == 200


def test_fault_targeting(server, http):
    audio_url = find(server, lambda o: True)["recording_url"]
    server.inject("500", times=2)
    assert http.get(audio_url, headers={"Range": "bytes=0-9"}, timeout=5).status_code == 206  # not media
    assert http.get(recordings_url(server), timeout=5).status_code == 500
    server.inject("503", path_contains="/media/")
    assert http.get(audio_url, headers={"Range": "bytes=0-9"}, timeout=5).status_code == 503
    assert http.get(recordings_url(server), timeout=5).status_code == 500  # the second of two
    assert http.get(recordings_url(server), timeout=5).status_code == 200
    with pytest.raises(ValueError):
        server.inject("teapot")
    assert set(FAULT_KINDS) >= {"500", "502", "503", "504", "429", "stall", "truncated", "not-json", "401"}


def test_random_failures(server, http):
    server.failure_rate = 1.0
    server.failure_kinds = ["503"]
    assert http.get(recordings_url(server), timeout=5).status_code == 503
    assert http.get(find(server, lambda o: True)["recording_url"], timeout=5).status_code == 200
    server.failure_rate = 0.3
    statuses = [http.get(recordings_url(server), timeout=5).status_code for _ in range(40)]
    assert 0 < statuses.count(503) < 40 and set(statuses) == {200, 503}


def test_latency_and_log(server, http):
    server.reset_log()
    server.latency = 0.15
    started = time.monotonic()
    http.get(recordings_url(server), params={"limit": 5}, timeout=5)
    assert time.monotonic() - started >= 0.15
    (entry,) = server.requests_log
    assert (entry.method, entry.path) == ("GET", f"/api/v1/Account/{AUTH_ID}/Recording/")
    assert entry.query == {"limit": "5"} and entry.fault is None
    assert TOKEN not in repr(server.requests_log)


# ---- data -------------------------------------------------------------------------------------


def test_generated_data_looks_like_vobiz():
    objects, _ = make_account(count=2000).page(0, 2000)
    number = re.compile(r"\+?91[6-9]\d{9}")
    assert all(number.fullmatch(o["from_number"]) and number.fullmatch(o["to_number"]) for o in objects)
    assert any(not o["from_number"].startswith("+") for o in objects)
    assert any(not o["to_number"].startswith("+") for o in objects)
    fraction_digits = {len(re.fullmatch(r"[\d-]+ [\d:]+\.(\d+)\+05:30", o["add_time"])[1]) for o in objects}
    assert fraction_digits == {5, 6}
    assert {o["recording_type"] for o in objects} == {"call", "conference", "trunk"}
    assert {o["recording_format"] for o in objects} == {"mp3", "wav"}
    assert {o["conference_name"] for o in objects if o["recording_type"] != "conference"} == {None, ""}
    assert all(o["conference_name"] for o in objects if o["recording_type"] == "conference")
    assert {o["recording_start_ms"] is None for o in objects} == {True, False}
    seconds = [float(o["recording_duration_ms"]) / 1000 for o in objects]
    assert sum(5 <= s <= 600 for s in seconds) > 0.8 * len(seconds) and max(seconds) > 600
    for o, s in zip(objects, seconds):
        assert re.fullmatch(r"\d+\.00000", o["recording_duration_ms"])
        assert o["rounded_recording_duration"] % 60 == 0 and o["rounded_recording_duration"] >= s
        assert o["resource_uri"] == f"/v1/Account/{AUTH_ID}/Recording/{o['recording_id']}/"
        if o["recording_start_ms"] is not None:
            start, end = float(o["recording_start_ms"]), float(o["recording_end_ms"])
            assert end - start == float(o["recording_duration_ms"])
    times = [parse_add_time(o["add_time"]) for o in objects]
    assert (times[0] - times[-1]).days in (363, 364, 365)


def test_same_seed_same_data():
    assert make_account(seed=9).page(100, 50) == make_account(seed=9).page(100, 50)
    assert make_account(seed=9).page(100, 50) != make_account(seed=10).page(100, 50)


def test_add_recordings_appear_at_the_head(server, http):
    head = list_page(http, server, limit=1)["objects"][0]
    new_ids = server.account.add_recordings(3)
    body = list_page(http, server, limit=4)
    assert [o["recording_id"] for o in body["objects"]] == new_ids + [head["recording_id"]]
    assert body["meta"]["total_count"] == 303
    assert parse_add_time(body["objects"][2]["add_time"]) > parse_add_time(head["add_time"])


@pytest.mark.parametrize("oldest_first", [False, True])
def test_an_api_lag_hides_new_recordings_from_the_list_and_by_id_until_it_passes(server, http, oldest_first):
    server.account.oldest_first = oldest_first
    before = list_page(http, server, limit=100)["objects"]
    server.api_lag = 3600
    new_ids = [server.account.add_call(ended_at=datetime.now(timezone.utc)), *server.account.add_recordings(2)]
    during = list_page(http, server, limit=100)
    assert during["objects"] == before and during["meta"]["total_count"] == 300
    for recording_id in new_ids:
        assert http.get(recordings_url(server, f"{recording_id}/"), timeout=5).status_code == 404
    assert http.delete(recordings_url(server, f"{new_ids[0]}/"), timeout=5).status_code == 404
    assert server.account.get(new_ids[0]) is None
    assert server.account.get(new_ids[0], unknown_too=True)["recording_id"] == new_ids[0]  # for its callback

    server.api_lag = 0  # the lag has passed
    after = list_page(http, server, limit=100, offset=300 if oldest_first else 0)
    assert after["meta"]["total_count"] == 303
    assert set(new_ids) <= {o["recording_id"] for o in after["objects"]}
    assert http.get(recordings_url(server, f"{new_ids[0]}/"), timeout=5).status_code == 200


def test_an_api_lag_counts_from_each_recordings_arrival(server, http):
    server.api_lag = 0.3
    (recording_id,) = server.account.add_recordings(1)
    assert http.get(recordings_url(server, f"{recording_id}/"), timeout=5).status_code == 404
    time.sleep(0.4)
    assert http.get(recordings_url(server, f"{recording_id}/"), timeout=5).status_code == 200
    assert list_page(http, server, limit=1)["objects"][0]["recording_id"] == recording_id


@pytest.mark.parametrize(("retry_after", "header"), [(None, None), (10, "10"), (2.5, "3")])
def test_an_outage_answers_every_api_request_503_until_it_ends(server, http, retry_after, header):
    (recording_id,) = server.account.add_recordings(1)
    server.start_outage(retry_after=retry_after)
    for url in (recordings_url(server), recordings_url(server, f"{recording_id}/")):
        response = http.get(url, timeout=5)
        assert response.status_code == 503
        assert response.headers.get("Retry-After") == header
    assert server.requests_log[-1].fault == "outage"
    media = server.account.get(recording_id)["recording_url"]
    assert http.get(media, timeout=5).status_code == 200  # the audio is not the API
    server.end_outage()
    assert http.get(recordings_url(server, f"{recording_id}/"), timeout=5).status_code == 200


def test_an_outage_of_some_seconds_ends_by_itself(server, http):
    server.start_outage(0.3)
    assert http.get(recordings_url(server), timeout=5).status_code == 503
    time.sleep(0.4)
    assert http.get(recordings_url(server), timeout=5).status_code == 200
    assert not server.in_outage


def test_the_command_line_starts_an_outage_and_a_lag(http):
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vobiz.fake",
            "--port",
            "0",
            "--count",
            "10",
            "--auth-id",
            AUTH_ID,
            "--auth-token",
            TOKEN,
        ]
        + ["--api-lag", "8", "--outage", "60", "--outage-retry-after", "7"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        base_url = next(line.split("=", 1)[1].strip() for line in child.stdout if "VOBIZ_API_URL=" in line)
        response = http.get(f"{base_url}/Account/{AUTH_ID}/Recording/", timeout=5)
        assert (response.status_code, response.headers["Retry-After"]) == (503, "7")
    finally:
        child.terminate()
        child.wait(timeout=30)


def test_overrides_inject_odd_objects(server, http):
    target = list_page(http, server, offset=3, limit=1)["objects"][0]
    server.account.set_override(3, {"from_number": "<script>alert(1)</script>"})
    served = list_page(http, server, offset=3, limit=1)["objects"][0]
    assert served["from_number"] == "<script>alert(1)</script>"
    server.account.set_override(target["recording_id"], {"recording_id": 42}, replace=True)
    response = http.get(recordings_url(server, f"{target['recording_id']}/"), timeout=5)
    assert response.json() == {"api_id": response.json()["api_id"], "recording_id": 42}
    server.account.set_override(3, None)
    assert list_page(http, server, offset=3, limit=1)["objects"][0] == target


def test_a_million_recordings_serve_a_deep_page_quickly(http):
    with FakeVobizServer(FakeAccount(count=1_000_000, auth_id=AUTH_ID, auth_token=TOKEN)) as big:
        started = time.monotonic()
        body = list_page(http, big, limit=100, offset=999_950)
        assert time.monotonic() - started < 1.0
        assert body["meta"]["total_count"] == 1_000_000 and body["meta"]["next"] is None
        assert len(body["objects"]) == 50
        deep = body["objects"][-1]
        assert http.get(recordings_url(big, f"{deep['recording_id']}/"), timeout=5).status_code == 200


def test_mutations_while_serving(server):
    errors = []

    def reader():
        with requests.Session() as session:
            session.headers.update(HEADERS)
            for offset in range(0, 200, 10):
                response = session.get(recordings_url(server), params={"offset": offset}, timeout=5)
                if response.status_code != 200 or len(response.json()["objects"]) != 20:
                    errors.append(response.status_code)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for thread in threads:
        thread.start()
    for i in range(30):
        server.account.add_recordings(1)
        objects, _ = server.account.page(50 + i, 1)
        server.account.delete(objects[0]["recording_id"])
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(server.account) == 300
