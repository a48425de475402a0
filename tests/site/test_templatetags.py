"""The template tags every page shows times, badges and links with."""

import re
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from django.template import Context, Template, TemplateSyntaxError
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html

from recordings.formatting import (
    ACTION_COLOURS,
    badge,
    byte_size,
    calendar_day,
    calendar_month,
    count_up_to,
    duration,
    id_link,
    id_url,
    local_time,
    utc_time,
)
from recordings.models import AuditEvent


def render(code, **context):
    return Template("{% load recording_format %}" + code).render(Context(context))


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata", "America/New_York"])
@pytest.mark.parametrize(
    "moment",
    ["2026-03-01T20:00:00.123456Z", "2026-03-08T07:05:09Z", "2026-11-01T05:30:00Z", "2026-11-01T06:30:00Z"],
)
def test_times_read_as_date_format_makes_them(settings, zone, moment):
    # New York's 01:30 on 1 Nov 2026 happens twice: date_format names no zone for it.
    settings.TIME_ZONE = zone
    value = timezone.localtime(datetime.fromisoformat(moment))
    exact = date_format(value, "j M Y H:i:s T").strip()
    expected = '<time datetime="{}" title="{}">{}</time>'
    minute = date_format(value, "j M Y H:i T").strip()
    assert local_time(value) == format_html(expected, value.isoformat(), exact, minute)
    assert local_time(value, "second") == format_html(expected, value.isoformat(), exact, exact)
    assert local_time(value, "day") == format_html(expected, value.isoformat(), exact, date_format(value, "j M Y"))


def test_times_in_templates_in_the_configured_zone(settings):
    settings.TIME_ZONE = "Asia/Kolkata"
    moment = datetime.fromisoformat("2026-03-01T20:00:00Z")
    assert ">2 Mar 2026 01:30 IST</time>" in render("{% local_time moment %}", moment=moment)
    assert render("{% local_time moment %}", moment=None) == "–"
    assert render("{% local_time day 'day' %}", day=date(2026, 3, 2)) == '<time datetime="2026-03-02">2 Mar 2026</time>'
    assert "minutes ago</time>" in render("{% local_time moment 'ago' %}", moment=timezone.now() - timedelta(minutes=5))
    with pytest.raises(TemplateSyntaxError):
        render("{% local_time moment 'weekday' %}", moment=moment)


def test_a_time_without_a_zone_is_shown_as_given():
    assert ">1 Mar 2026 20:00</time>" in local_time(datetime(2026, 3, 1, 20, 0))


def test_badges_escape_what_they_show():
    assert badge("call") == '<span class="badge badge-call">call</span>'
    assert badge("flagged", "Flagged", 'a "note"') == (
        '<span class="badge badge-flagged" title="a &quot;note&quot;">Flagged</span>'
    )
    assert "<b>" not in badge("<b>x</b>")


@pytest.mark.parametrize("value", ["rec-0001_plain", "CA9f3e", "rec 1 & <b>'é'", "..", "%41"])
@pytest.mark.parametrize("name", ["recordings:detail", "recordings:audio", "recordings:call"])
def test_id_urls_are_what_reverse_makes(name, value):
    assert id_url(name, value) == reverse(name, args=[value])


def test_id_urls_follow_the_script_prefix():
    from django.urls import set_script_prefix

    id_url("recordings:detail", "abc")
    set_script_prefix("/dashboard/")
    try:
        assert id_url("recordings:detail", "abc") == "/dashboard/recordings/abc/"
    finally:
        set_script_prefix("/")


def test_id_links_show_the_start_of_the_id():
    link = id_link("recordings:call", "0123456789abcdef")
    assert link == '<a href="/calls/0123456789abcdef/" title="0123456789abcdef">01234567…</a>'
    assert id_link("recordings:call", "") == "–"


def test_durations():
    assert [duration(v) for v in (7880, 4_000_000, None, "")] == ["0:08", "1:06:40", "–", "–"]


def test_every_audit_action_has_its_colour():
    assert set(AuditEvent.Action.values) <= set(ACTION_COLOURS)


def test_no_template_formats_a_date_of_its_own():
    """Every date a page shows goes through local_time, calendar_day or calendar_month."""
    templates = Path(__file__).resolve().parents[2] / "templates"
    own_formats = [
        str(path.relative_to(templates))
        for path in templates.rglob("*.html")
        if re.search(r"\|\s*(date|time)\b", path.read_text())
    ]
    assert own_formats == []


@pytest.mark.parametrize(
    "value, style, shown",
    [
        (date(2026, 12, 1), "", "1 Dec 2026"),
        (date(2026, 12, 1), "weekday", "Tue 1 Dec 2026"),
        (date(2026, 12, 1), "short", "1 Dec"),
        (None, "", "–"),
    ],
)
def test_calendar_days_as_plain_text(value, style, shown):
    assert calendar_day(value, style) == shown


def test_calendar_months_as_plain_text():
    december = date(2025, 12, 1)
    assert (calendar_month(december), calendar_month(december, "long")) == ("Dec 2025", "December 2025")


def test_a_bounded_count_says_more_than_its_limit_past_it(settings):
    settings.LANGUAGE_CODE = "en-us"
    assert (count_up_to(10000, 10000), count_up_to(10001, 10000), count_up_to(0, 10000)) == (
        "10,000",
        "More than 10,000",
        "0",
    )
    rendered = Template("{% load recording_format %}{{ held|count_up_to:limit }}").render(
        Context({"held": 20001, "limit": 20000})
    )
    assert rendered == "More than 20,000"


def test_sizes_to_the_byte_in_code_and_templates(settings):
    settings.LANGUAGE_CODE = "en-us"
    assert (byte_size(1234567), byte_size(1), byte_size(None)) == ("1,234,567 bytes", "1 byte", "–")
    rendered = Template("{% load recording_format %}{{ size|byte_size }}").render(Context({"size": 2048}))
    assert rendered == "2,048 bytes"


def test_utc_times_as_plain_text_whatever_the_zone():
    moment = datetime(2026, 12, 1, 14, 2, 15, tzinfo=timezone.get_fixed_timezone(330))
    assert utc_time(moment) == "1 Dec 2026 08:32:15 UTC"
