"""The faster decoding and hashing read and hash every body as the standard library did: a recording
is stored, and hashed, as it was before orjson (a changed hash rewrites every row once)."""

import hashlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recordings.models import Recording
from recordings.sync.normalise import canonical_json, normalise
from recordings.sync.run import sync_recordings
from recordings.sync.walk import SyncOptions
from vobiz.client import VobizClient, decode_json
from vobiz.fake.server import FakeVobizServer, RawJson

BIG = 123456789012345678901234567890  # past 64 bits: orjson reads it as a float
MAIN = {"recording_id": "r", "add_time": "2026-01-01 00:00:00", "call_uuid": "c", "to_number": "918012345678"}


def hostile_bodies() -> list[bytes]:
    def body(**fields: Any) -> bytes:
        return json.dumps({**MAIN, **fields}).encode()

    return [
        body(recording_id=BIG),
        body(call_uuid=BIG),
        body(from_number=BIG, recording_duration_ms=-(2**63) - 1),
        body(extra=[BIG, {"deep": -BIG}]),
        body(recording_end_ms=2**64 - 1),  # orjson reads this one exactly
        body(call_uuid="1234567890123456789012"),  # a run of digits in text: read alike either way
        body(recording_storage_rate=float("nan"), monthly_recording_storage_amount=float("inf")),
        body(recording_storage_rate=2.5e-7, extra=1e-05, more=[9.9e-05, {"x": 1e16}]),
        body(conference_name="Zürich \u2028 \x7f \ud800 日本"),
        body(extra={"\ud800": 1}),
        b'{"recording_id": "r", "add_time": "2026-01-01 00:00:00", "call_uuid": "c", "x": 1e400, "y": -1e400}',
        b"\xef\xbb\xbf" + body(),  # a byte order mark
        b'{"recording_id": "r", "add_time": "2026-01-01", "call_uuid": "c", "from_number": "\\ud800x"}',
    ]


@pytest.mark.parametrize("body", hostile_bodies())
def test_a_hostile_body_is_read_and_stored_as_the_standard_library_reads_it(body: bytes):
    expected = json.loads(body)
    decoded = decode_json(body)
    assert json.dumps(decoded, sort_keys=True) == json.dumps(expected, sort_keys=True)  # NaN == NaN here
    assert normalise(decoded) == normalise(expected)  # NaN and Infinity are stored as null: comparable


def test_integers_past_64_bits_are_read_exactly():
    body = json.dumps({"call_uuid": BIG, "extra": -(2**63) - 1, "list": [2**70]}).encode()
    decoded = decode_json(body)
    assert decoded == {"call_uuid": BIG, "extra": -(2**63) - 1, "list": [2**70]}
    assert all(type(value) is int for value in (decoded["call_uuid"], decoded["extra"], decoded["list"][0]))


def test_a_numeric_id_past_64_bits_is_stored_in_full():
    fields = normalise(decode_json(json.dumps({**MAIN, "recording_id": BIG, "call_uuid": BIG}).encode()))
    assert fields["recording_id"] == str(BIG)
    assert fields["call_uuid"] == str(BIG)
    assert fields["raw"]["call_uuid"] == BIG


def test_what_neither_reads_is_refused():
    with pytest.raises(ValueError):
        decode_json(b'{"a": 1')
    with pytest.raises(ValueError):
        decode_json(b'{"a": 12345678901234567890123')  # cut short, long digits: the fallback refuses too


def hash_before(raw: Any) -> str:
    """content_hash as it was before orjson (git show ef7142f:recordings/sync/normalise.py)."""
    text = json.dumps(raw, sort_keys=True, separators=(",", ":"), default=str, allow_nan=False)
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


@pytest.mark.parametrize(
    "raw",
    [
        {**MAIN, "conference_name": "Zürich 日本 😀", "x": "\x7f"},
        {**MAIN, "recording_storage_rate": 2.5e-7, "b": 1e-05, "c": 9.9e-05, "d": 1e16, "e": 1.5e300},
        {**MAIN, "nested": {"rate": 3e-6, "name": "é"}, "list": [1e-7, "ü"]},
        {**MAIN, "call_uuid": BIG},
        MAIN,
    ],
)
def test_the_hash_is_what_it_was_before_orjson(raw: dict[str, Any]):
    assert normalise(raw)["content_hash"] == hash_before(raw)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=12,
)


@given(st.dictionaries(st.text(), json_values, max_size=8))
def test_the_canonical_encoding_is_the_standard_librarys(raw: dict[str, Any]):
    expected = json.dumps(raw, sort_keys=True, separators=(",", ":"), default=str, allow_nan=False).encode()
    assert canonical_json(raw) == expected
    assert decode_json(expected) == json.loads(expected)


@pytest.mark.django_db
def test_a_sync_stores_hostile_answers_exactly(fake_vobiz: FakeVobizServer, vobiz_client: VobizClient):
    fake_vobiz.byte_order_mark = True
    fake_vobiz.account.set_override(0, {"call_uuid": BIG, "recording_storage_duration": RawJson("1e400")})
    fake_vobiz.account.set_override(1, {"recording_id": BIG, "from_number": RawJson("123456789012345678901234")})
    fake_vobiz.account.set_override(2, {"conference_name": "\ud800 Zürich", "recording_storage_rate": float("nan")})
    fake_vobiz.account.set_override(3, {"recording_id": "rec-\udc00"})  # no id to store: skipped
    sync_recordings(SyncOptions(), client=vobiz_client)
    first = Recording.objects.get(recording_id=fake_vobiz.account.page(0, 1)[0][0]["recording_id"])
    assert first.call_uuid == str(BIG) and first.raw["call_uuid"] == BIG
    assert first.recording_storage_duration is None
    assert Recording.objects.get(recording_id=str(BIG)).from_number == "123456789012345678901234"
    third = Recording.objects.get(recording_id=fake_vobiz.account.page(2, 1)[0][0]["recording_id"])
    assert third.conference_name == "\ufffd Zürich" and third.recording_storage_rate is None
    assert third.raw["conference_name"] == "\ufffd Zürich"  # neither database stores a lone surrogate
    assert not Recording.objects.filter(recording_id__startswith="rec-").exists()
    stored = {row.recording_id: row.content_hash for row in Recording.objects.all()}

    again = sync_recordings(SyncOptions(full=True), client=vobiz_client)
    assert again.updated == 0  # read and hashed alike: nothing rewritten
    assert {row.recording_id: row.content_hash for row in Recording.objects.all()} == stored
