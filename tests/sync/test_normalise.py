from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from recordings.sync.normalise import UnusableRecording, is_incomplete, normalise

MAIN_SHAPE = {
    "add_time": "2026-05-07 09:45:35.79276+05:30",
    "call_uuid": "11223344-5566-7788-99aa-bbccddeeff00",
    "conference_name": None,
    "from_number": "+919876543210",
    "monthly_recording_storage_amount": 0,
    "recording_duration_ms": "7880.00000",
    "recording_end_ms": "1777696966098.00000",
    "recording_format": "wav",
    "recording_id": "aabbccdd-1234-5678-90ab-cdef12345678",
    "recording_start_ms": "1777696958218.00000",
    "recording_storage_duration": 6,
    "recording_storage_rate": 0.005,
    "recording_type": "trunk",
    "recording_url": "https://recordings.vobiz.ai/example/abc123.mp3",
    "resource_uri": "/v1/Account/MA_XXXXXXXX/Recording/aabbccdd-1234-5678-90ab-cdef12345678/",
    "rounded_recording_duration": 60,
    "to_number": "918012345678",
}


def test_main_shape_is_parsed_field_by_field():
    fields = normalise(MAIN_SHAPE)
    ist = timezone(timedelta(hours=5, minutes=30))
    assert fields["add_time"] == datetime(2026, 5, 7, 9, 45, 35, 792760, tzinfo=ist)
    assert fields["recording_duration_ms"] == 7880
    assert fields["recording_start_ms"] == 1777696958218
    assert fields["recording_end_ms"] == 1777696966098
    assert fields["conference_name"] == ""
    assert fields["recording_storage_rate"] == Decimal("0.005")
    assert fields["monthly_recording_storage_amount"] == Decimal("0")
    assert fields["rounded_recording_duration"] == 60
    assert fields["recording_storage_duration"] == 6
    assert fields["from_digits_reversed"] == "012345678919"
    assert fields["to_digits_reversed"] == "876543210819"
    assert fields["raw"] == MAIN_SHAPE


def test_short_shape_gives_seconds_and_file_format():
    fields = normalise(
        {
            "recording_id": "rec_X1",
            "recording_url": "https://x.vobiz.ai/rec_X1.mp3",
            "duration": 120,
            "file_format": "mp3",
            "add_time": "2026-01-23T10:30:00Z",
        }
    )
    assert fields["recording_duration_ms"] == 120_000
    assert fields["recording_format"] == "mp3"
    assert fields["recording_url"] == "https://x.vobiz.ai/rec_X1.mp3"


def test_recordings_list_shape_maps_its_own_names():
    fields = normalise(
        {
            "recording_id": "rec_2",
            "call_id": "call-9",
            "recording_type": "call",
            "url": "",
            "download_path": "https://media.vobiz.ai/v1/Account/MA_X/Recording/rec_2.mp3",
            "duration": 7.5,
            "created_at": "2026-01-23T10:30:00Z",
            "file_size": 1234,
            "format": "wav",
        }
    )
    assert fields["call_uuid"] == "call-9"
    assert fields["recording_url"].endswith("rec_2.mp3")
    assert fields["recording_duration_ms"] == 7500
    assert fields["add_time"] == datetime(2026, 1, 23, 10, 30, tzinfo=timezone.utc)
    assert fields["recording_format"] == "wav"


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2026-05-07T09:45:35.123456+05:30", datetime(2026, 5, 7, 4, 15, 35, 123456, tzinfo=timezone.utc)),
        ("2026-05-07 04:15:35", datetime(2026, 5, 7, 4, 15, 35, tzinfo=timezone.utc)),
        ("2026-05-07T04:15:35.12345Z", datetime(2026, 5, 7, 4, 15, 35, 123450, tzinfo=timezone.utc)),
    ],
)
def test_timestamp_variants(value, expected):
    assert normalise({**MAIN_SHAPE, "add_time": value})["add_time"] == expected


@pytest.mark.parametrize(
    "obj, reason",
    [
        ("a string", "not an object"),
        ({**MAIN_SHAPE, "recording_id": None}, "recording_id"),
        ({**MAIN_SHAPE, "recording_id": "  "}, "recording_id is empty"),
        ({**MAIN_SHAPE, "recording_id": {"nested": 1}}, "recording_id"),
        ({**MAIN_SHAPE, "recording_url": "https://x/" + "a" * 5000}, "recording_url is longer"),
    ],
)
def test_unusable_objects_say_why(obj, reason):
    with pytest.raises(UnusableRecording, match=reason):
        normalise(obj)


@pytest.mark.parametrize("value", ["abc", "NaN", "1E+999999999", True, {"x": 1}, [], "-"])
def test_unreadable_numbers_become_empty(value):
    fields = normalise({**MAIN_SHAPE, "recording_duration_ms": value, "recording_storage_rate": value})
    assert fields["recording_duration_ms"] is None
    assert fields["recording_storage_rate"] is None


def test_nul_characters_are_dropped_everywhere():
    fields = normalise({**MAIN_SHAPE, "conference_name": "a\x00b", "extra": {"k\x00": ["v\x00"]}})
    assert fields["conference_name"] == "ab"
    assert fields["raw"]["extra"] == {"k": ["v"]}


def test_html_is_kept_verbatim_for_the_templates_to_escape():
    fields = normalise({**MAIN_SHAPE, "conference_name": "<script>alert(1)</script>"})
    assert fields["conference_name"] == "<script>alert(1)</script>"


def test_same_object_same_hash_and_any_change_changes_it():
    assert normalise(MAIN_SHAPE)["content_hash"] == normalise(dict(reversed(MAIN_SHAPE.items())))["content_hash"]
    assert normalise(MAIN_SHAPE)["content_hash"] != normalise({**MAIN_SHAPE, "to_number": "1"})["content_hash"]


@pytest.mark.parametrize("bad_id", ["a/b", "tab\there", "bell\x07", ".", "..", ".hidden", "a\\b", "a\x00b", "c1\x85"])
def test_ids_that_cannot_name_a_page_are_refused(bad_id):
    with pytest.raises(UnusableRecording, match="slash, a backslash, a control character or a leading dot"):
        normalise({**MAIN_SHAPE, "recording_id": bad_id})
    assert normalise({**MAIN_SHAPE, "call_uuid": bad_id})["call_uuid"] == ""


def test_nan_and_infinity_become_null_in_the_stored_object():
    fields = normalise({**MAIN_SHAPE, "recording_storage_rate": float("nan"), "extra": [float("inf")]})
    assert fields["raw"]["recording_storage_rate"] is None and fields["raw"]["extra"] == [None]
    assert fields["recording_storage_rate"] is None


@pytest.mark.parametrize(
    "obj",
    [
        {**MAIN_SHAPE, "add_time": "yesterday"},
        {k: v for k, v in MAIN_SHAPE.items() if k != "add_time"},
        {"recording_id": "rec_1", "recording_url": "https://x/rec_1.mp3", "duration": 120, "file_format": "mp3"},
    ],
)
def test_objects_without_a_usable_time_or_call_are_kept_as_incomplete(obj):
    fields = normalise(obj)
    assert fields["recording_id"] == obj["recording_id"]
    assert is_incomplete(fields)


def test_the_response_api_id_is_no_part_of_the_recording():
    assert normalise({**MAIN_SHAPE, "api_id": "a"}) == normalise({**MAIN_SHAPE, "api_id": "b"}) == normalise(MAIN_SHAPE)
    assert not is_incomplete(normalise(MAIN_SHAPE))
