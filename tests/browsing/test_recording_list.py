import csv
import io
import re
from datetime import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from recordings.browsing import exports
from recordings.browsing.exports import RECORDING_COLUMNS, csv_response
from recordings.browsing.search import matching_number
from recordings.formatting import phone_e164
from recordings.models import Recording, SyncRun
from tests.factories import make_recording, make_recordings

pytestmark = pytest.mark.django_db


def rows(response):
    return [row.record.recording_id for row in response.context["table"].page.object_list]


def test_anonymous_visitors_are_sent_to_sign_in(client):
    for url in ["/", "/recordings/x/", "/recordings/x/audio", "/calls/x/", "/sync/", "/?_export=csv"]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/?next="), url


def test_empty_database_explains_the_first_sync(support_client):
    response = support_client.get("/")
    assert response.status_code == 200
    assert b"manage.py sync_recordings" in response.content


def test_newest_first_with_count_and_total_duration(support_client):
    old = make_recording(add_time="2026-01-01T10:00:00Z")
    new = make_recording(add_time="2026-06-01T10:00:00Z", recording_duration_ms="3600000.0")
    response = support_client.get("/")
    assert rows(response)[:2] == [new.recording_id, old.recording_id]
    assert response.context["summary"].count == 2
    assert b"1 h 01 m in all" in response.content


@pytest.mark.parametrize(
    "query",
    ["+919812345678", "919812345678", "9812345678", "098123 45678", "+91 98123-45678", "45678", "345678"],
)
def test_search_finds_a_number_however_it_is_written(support_client, query):
    target = make_recording(from_number="919812345678")
    make_recording(from_number="+919800000001", to_number="+918000000002")
    assert rows(support_client.get("/", {"q": query})) == [target.recording_id]


def test_search_by_ids_and_conference_name(support_client):
    target = make_recording(conference_name="Quarterly Review Bridge")
    make_recordings(3)
    assert rows(support_client.get("/", {"q": target.recording_id})) == [target.recording_id]
    assert rows(support_client.get("/", {"q": target.call_uuid})) == [target.recording_id]
    assert rows(support_client.get("/", {"q": target.call_uuid[:13]})) == [target.recording_id]
    assert rows(support_client.get("/", {"q": "quarterly review"})) == [target.recording_id]


def test_each_filter_narrows_the_table(support_client):
    base = make_recording()
    conference = make_recording(recording_type="conference", conference_name="c1")
    wav = make_recording(recording_format="wav")
    to_match = make_recording(to_number="+918055512345")
    long = make_recording(recording_duration_ms="900000.0")
    old = make_recording(add_time="2025-03-02T12:00:00Z")
    get = lambda **params: set(rows(support_client.get("/", params)))  # noqa: E731
    assert get(recording_type="conference") == {conference.recording_id}
    assert get(recording_format="wav") == {wav.recording_id}
    assert get(to_number="55512345") == {to_match.recording_id}
    assert get(from_number="+919876500000") >= {base.recording_id, wav.recording_id}
    assert get(call_uuid=base.call_uuid) == {base.recording_id}
    assert get(min_duration="600") == {long.recording_id}
    assert long.recording_id not in get(max_duration="600")
    assert get(added_before="2025-03-02") == {old.recording_id}
    assert old.recording_id not in get(added_after="2025-03-03")
    assert get(added_after="2025-03-02", added_before="2025-03-02") == {old.recording_id}


def test_dates_are_days_in_the_configured_time_zone(support_client, settings):
    settings.TIME_ZONE = "Asia/Kolkata"
    late_evening_ist = make_recording(add_time="2026-03-01T20:00:00Z")  # 2 March 01:30 in India
    assert rows(support_client.get("/", {"added_after": "2026-03-02"})) == [late_evening_ist.recording_id]


def test_sorting_by_duration_from_and_to(support_client):
    short = make_recording(recording_duration_ms="1000.0", from_number="+911111111111", to_number="+919999999999")
    long = make_recording(recording_duration_ms="9000.0", from_number="+912222222222", to_number="+918888888888")
    assert rows(support_client.get("/", {"sort": "recording_duration_ms"})) == [short.recording_id, long.recording_id]
    assert rows(support_client.get("/", {"sort": "-recording_duration_ms"})) == [long.recording_id, short.recording_id]
    assert rows(support_client.get("/", {"sort": "from_number"})) == [short.recording_id, long.recording_id]
    assert rows(support_client.get("/", {"sort": "to_number"})) == [long.recording_id, short.recording_id]
    assert rows(support_client.get("/", {"sort": "add_time"}))[0] == long.recording_id  # made later, older time


@pytest.mark.parametrize(
    "params",
    [
        {"added_after": "yesterday"},
        {"added_before": "0001-01-01"},
        {"added_before": "9999-12-31"},
        {"min_duration": "abc"},
        {"max_duration": "-5"},
        {"min_duration": "1e400"},
        {"recording_type": "<script>"},
        {"page": "abc"},
        {"page": "-1"},
        {"page": "99999999999999999999"},
        {"per_page": "1000000"},
        {"sort": "nonsense"},
        {"sort": "raw"},
        {"q": "\x00"},
        {"q": "+" * 500},
        {"from_number": "abc"},
    ],
)
def test_bad_parameters_never_break_the_page(support_client, params):
    make_recordings(3)
    response = support_client.get("/", params)
    assert response.status_code == 200


def test_invalid_filter_shows_a_form_error_and_keeps_the_valid_ones(support_client):
    wav = make_recording(recording_format="wav")
    make_recording()
    response = support_client.get("/", {"added_after": "not-a-date", "recording_format": "wav"})
    assert response.context["filter"].form.errors["added_after"]
    assert b"field-error" in response.content
    assert rows(response) == [wav.recording_id]


def test_a_page_past_the_end_shows_the_last_page(support_client):
    make_recordings(30)
    response = support_client.get("/", {"page": 50, "per_page": 25})
    assert response.status_code == 200
    assert response.context["table"].page.number == 2
    assert len(rows(response)) == 5


@pytest.mark.parametrize("per_page", [25, 50, 100])
def test_page_size_choices(support_client, per_page):
    make_recordings(120)
    assert len(rows(support_client.get("/", {"per_page": per_page}))) == per_page


def test_query_count_does_not_grow_with_page_size(support_client):
    make_recordings(120)
    SyncRun.objects.create(mode="full", status="succeeded", started_at=timezone.now(), pages=2)
    counts = []
    for per_page in (25, 100, 25, 100):
        with CaptureQueriesContext(connection) as queries:
            assert support_client.get("/", {"per_page": per_page}).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1] + 1  # the first view counts the matches; later ones reuse it
    assert counts[1] == counts[2] == counts[3]
    assert counts[0] <= 12


def test_rows_link_the_call_and_carry_a_play_button_that_fetches_nothing(support_client):
    recording = make_recording(recording_duration_ms=126_000)
    content = support_client.get("/").content.decode()
    assert f'href="/calls/{recording.call_uuid}/"' in content
    assert f'data-audio="/recordings/{recording.recording_id}/audio"' in content
    assert "0:00 / 2:06" in content  # the stored duration, before any audio is fetched
    assert "<audio" not in content.split('<template id="player-template">')[0]
    assert content.count('<template id="player-template">') == 1


@pytest.mark.parametrize("recording_id", ["rec-0001_plain", "rec 1 & <b>'é'", "a..b"])
def test_rows_link_their_recording_and_call_whatever_the_id(auditor_client, recording_id):
    recording = make_recording(recording_id=recording_id, call_uuid=f"{recording_id}-call")
    content = auditor_client.get("/").content.decode()
    for name, value in [
        ("recordings:detail", recording_id),
        ("recordings:call", recording.call_uuid),
        ("recordings:audio", recording_id),
    ]:
        assert f'="{escape(reverse(name, args=[value]))}"' in content
    assert f'value="{escape(recording_id)}"' in content  # the row's checkbox


def test_csv_export_streams_the_filtered_rows(support_client):
    make_recordings(40, recording_format="wav")
    make_recordings(5, recording_format="mp3", conference_name='=HYPERLINK("x")')
    response = support_client.get("/", {"recording_format": "mp3", "_export": "csv"})
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    table = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(table) == 5
    assert {row["recording_format"] for row in table} == {"mp3"}
    assert table[0]["conference_name"].startswith("'=")  # not a formula in a spreadsheet


def csv_text(client, params=()):
    response = client.get("/", {**dict(params), "_export": "csv"})
    return b"".join(response.streaming_content).decode()


def test_csv_export_writes_every_value_exactly(support_client):
    older = make_recording(
        add_time="2026-03-01T20:00:00Z", conference_name='=HYPERLINK("x")', recording_storage_rate="0.0125"
    )
    newer = make_recording(add_time="2026-03-02T08:30:00.25+05:30")
    Recording.objects.filter(pk=newer.pk).update(  # empty values, and text that must be quoted or guarded
        to_number="-cmd",
        conference_name='say "hi",\nthen -1',
        recording_duration_ms=None,
        rounded_recording_duration=None,
        recording_storage_duration=None,
        recording_storage_rate=None,
        monthly_recording_storage_amount=None,
    )
    assert csv_text(support_client) == (
        "recording_id,call_uuid,add_time,from_number,to_number,recording_type,recording_format,recording_duration_ms,"
        "rounded_recording_duration,conference_name,recording_storage_duration,recording_storage_rate,"
        "monthly_recording_storage_amount,recording_url,audio_size,audio_sha256\r\n"
        f"{newer.recording_id},{newer.call_uuid},2026-03-02T03:00:00.250000+00:00,+919876500000,'-cmd,call,mp3,,,"
        f'"say ""hi"",\nthen -1",,,,{newer.recording_url},,\r\n'
        f"{older.recording_id},{older.call_uuid},2026-03-01T20:00:00+00:00,+919876500000,+918012300000,call,mp3,65000,"
        f'120,"\'=HYPERLINK(""x"")",3,0.012500,0.000000,{older.recording_url},,\r\n'
    )


def test_csv_export_of_no_rows_is_the_header(support_client):
    make_recordings(3)
    # Digits-free number search matches nothing without asking the database (EmptyResultSet).
    header = [column.rsplit("__", 1)[-1] for column in RECORDING_COLUMNS]
    assert csv_text(support_client, {"from_number": "abc"}) == ",".join(header) + "\r\n"


def test_csv_export_streams_batches_with_every_row_once_in_order(support_client, monkeypatch):
    monkeypatch.setattr(exports, "BATCH_SIZE", 3)
    make_recordings(10)
    response = support_client.get("/", {"_export": "csv"})
    chunks = list(response.streaming_content)
    assert len(chunks) == 1 + 4  # the header, then 3 + 3 + 3 + 1 rows
    table = csv.DictReader(io.StringIO(b"".join(chunks).decode()))
    assert [row["recording_id"] for row in table] == list(
        Recording.objects.order_by("-add_time", "-id").values_list("recording_id", flat=True)
    )


def test_csv_export_query_count_does_not_grow_with_rows(support_client, monkeypatch):
    monkeypatch.setattr(exports, "BATCH_SIZE", 3)
    counts = []
    for total in (2, 20):
        make_recordings(total - Recording.objects.count())
        with CaptureQueriesContext(connection) as queries:
            assert csv_text(support_client).count("\r\n") == 1 + total
        counts.append(len(queries))
    assert counts[0] == counts[1]


TRICKY_TEXT = (
    ["a,b", 'say "hi"', "two\nlines", "cr\rhere", "ऑडियो, हिंदी"]  # quoted
    + ["-x", "+x", "@sum(A1)", "\tx", "\rx", "=x", "=", "-", "=1+1", "+1+cmd|' /C calc'!A0"]  # guarded
    + ["-1", "+91 98", " =x", "'=x", ""]  # as they are
)


def guarded(value):
    # The guard against spreadsheet formulas, written the plain way, to hold the export to it.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?|\+[\d ().-]*\d", value, re.ASCII):
            return "'" + value
    return value


def csv_writer_export(queryset, columns):
    """The export as first written: csv.writer over values_list(), each value formatted and guarded:
    times in the active zone, numbers in E.164."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([column.rsplit("__", 1)[-1] for column in columns])
    for values in queryset.values_list(*columns):
        writer.writerow(
            [
                guarded(
                    timezone.localtime(v).isoformat()
                    if isinstance(v, datetime)
                    else phone_e164(v)
                    if column.endswith("_number")
                    else v
                )
                for column, v in zip(columns, values)
            ]
        )
    return out.getvalue()


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata"])
@pytest.mark.parametrize("columns", [RECORDING_COLUMNS, ["conference_name"], ["add_time", "from_number"]])
def test_csv_export_writes_what_csv_writer_would(columns, monkeypatch, zone):
    monkeypatch.setattr(exports, "BATCH_SIZE", 4)  # some batches with a formula or a quote, some without
    recordings = make_recordings(len(TRICKY_TEXT))
    for recording, text in zip(recordings, TRICKY_TEXT):
        Recording.objects.filter(pk=recording.pk).update(conference_name=text, from_number=text[::-1])
    Recording.objects.filter(pk=recordings[-1].pk).update(add_time=None, rounded_recording_duration=None)
    Recording.objects.filter(pk=recordings[0].pk).update(from_number="919795564144")
    queryset = Recording.objects.order_by("-add_time", "-id")
    with timezone.override(zone):
        response = csv_response(queryset, columns)
    streamed = b"".join(response.streaming_content).decode()  # after the view: in the zone it had
    with timezone.override(zone):
        assert streamed == csv_writer_export(queryset, columns)


def test_csv_export_writes_times_in_the_viewers_zone_and_numbers_in_e164(support_client):
    recording = make_recording(add_time="2026-03-01T20:00:00Z", from_number="919795564144")
    support_client.post("/preferences/time-zone", {"time_zone": "Asia/Kolkata"})
    response = support_client.get("/", {"_export": "csv"})
    assert re.search(r'filename="recordings_2\d{3}-\d\d-\d\d_\d{4}\+0530\.csv"', response["Content-Disposition"])
    [row] = csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()))
    assert row["recording_id"] == recording.recording_id
    assert row["add_time"] == "2026-03-02T01:30:00+05:30"
    assert (row["from_number"], row["to_number"]) == ("+919795564144", "+918012300000")


def test_times_show_in_the_configured_zone_with_the_zone_named(support_client, settings):
    settings.TIME_ZONE = "Asia/Kolkata"
    make_recording(add_time="2026-03-01T20:00:00Z")
    assert b"2 Mar 2026 01:30 IST" in support_client.get("/").content


def test_html_in_synced_fields_is_escaped(support_client):
    make_recording(
        from_number="<script>alert(1)</script>",
        conference_name="<img src=x onerror=alert(2)>",
        recording_type="<b>x</b>",
    )
    content = support_client.get("/").content.decode()
    assert "<script>alert(1)" not in content and "&lt;script&gt;alert(1)" in content
    assert "<b>x</b>" not in content


def test_the_count_is_cached_per_filter_and_follows_the_data(support_client):
    make_recordings(30)
    SyncRun.objects.create(mode="full", status="succeeded", started_at=timezone.now(), pages=1)

    def counts_made(params):
        with CaptureQueriesContext(connection) as queries:
            summary = support_client.get("/", params).context["summary"]
        return summary.count, sum(q["sql"].startswith("SELECT COUNT(") for q in queries)

    assert counts_made({"per_page": 25}) == (30, 1)
    assert counts_made({"per_page": 25, "page": 2}) == (30, 0)  # a page turn reuses it
    assert counts_made({"recording_format": "wav"}) == (0, 1)  # another filter, another count
    make_recordings(5)
    SyncRun.objects.create(mode="incremental", status="succeeded", started_at=timezone.now(), pages=1)
    assert counts_made({"per_page": 25}) == (35, 1)  # the data moved: counted again


def test_number_ranges_end_where_the_digits_do():
    from recordings.browsing.search import next_prefix

    assert next_prefix("4321") == "4322"
    assert next_prefix("4329") == "433"
    assert next_prefix("999") == ""
    make_recording(from_number="+919999999999")
    make_recording(from_number="+919999999998")
    assert Recording.objects.filter(matching_number("from", "99999")).count() == 1


@pytest.mark.parametrize(
    "number",
    ["+919876543210", "+4402079460000", "+442079460000", "+390612345678", "+78123456789", "+12345", "919876543210"],
)
def test_a_number_already_in_e164_is_written_as_parsing_would_write_it(number):
    assert exports.phone_cells([number, number]) == [phone_e164(number)] * 2
