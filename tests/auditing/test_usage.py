"""The usage page: recordings per day, totals by type and format, storage and the oldest recordings."""

import itertools
import re
import xml.etree.ElementTree as ET
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from recordings.auditing.usage import Day, cost_by_month, daily_chart, nice_step, per_day
from recordings.formatting import calendar_month
from recordings.models import Recording
from tests.factories import make_recording, make_recordings

pytestmark = pytest.mark.django_db


def days_ago(n, hour=12):
    """An add_time at `hour` o'clock local time, `n` days before today."""
    day = timezone.localdate() - timedelta(days=n)
    return timezone.make_aware(datetime.combine(day, time(hour))).isoformat()


def chart_svg(response):
    match = re.search(r'<svg class="usage-chart".*?</svg>', response.content.decode(), re.DOTALL)
    assert match, "no chart on the page"
    return ET.fromstring(match.group())


def bars(svg):
    """(tooltip, bar) for each day drawn."""
    days = [group for group in svg.iter("g") if group.get("class") == "day"]
    return [(day.find("title").text, day.find("rect[@class='bar']")) for day in days]


def remove(recording, **when):
    Recording.objects.filter(pk=recording.pk).update(**when)


def test_only_auditors_see_the_page(client, support_user, auditor_user):
    client.force_login(support_user)
    assert client.get("/usage/").status_code == 403
    client.force_login(auditor_user)
    assert client.get("/usage/").status_code == 200
    assert client.post("/usage/").status_code == 405
    client.logout()
    response = client.get("/usage/")
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


def test_without_recordings_in_the_period_an_empty_state_replaces_the_chart(auditor_client):
    make_recording(add_time=days_ago(40))
    response = auditor_client.get("/usage/")
    content = response.content.decode()
    assert "No recordings in the last 30 days" in content
    assert "<svg" not in content
    assert response.context["chart"] is None
    assert "<svg" in auditor_client.get("/usage/?days=90").content.decode()


def test_one_busy_day_is_one_full_height_bar_among_empty_days(auditor_client):
    for _ in range(3):
        make_recording(add_time=days_ago(0))
    response = auditor_client.get("/usage/")
    svg = chart_svg(response)
    assert svg.get("role") == "img" and "3 recordings" in svg.get("aria-label")
    drawn = bars(svg)
    assert len(drawn) == 30
    title, bar = drawn[-1]
    chart = response.context["chart"]
    assert title.endswith(": 3 recordings, 3 m")  # 3 × 65 s
    assert title.startswith(timezone.localdate().strftime("%a %-d %b %Y"))
    assert float(bar.get("height")) == chart.plot_height
    assert all(float(bar.get("height")) == 0 and title.endswith(": 0 recordings, 0 s") for title, bar in drawn[:-1])
    assert "<details" in response.content.decode()


def test_many_days_count_each_day_and_keep_the_empty_ones(auditor_client):
    for n, count in ((0, 2), (10, 5), (45, 1), (100, 7)):
        make_recordings(count, add_time=days_ago(n), recording_duration_ms="90000.0")
    remove(make_recording(add_time=days_ago(0)), deleted_at=timezone.now())
    remove(make_recording(add_time=days_ago(0)), gone_at=timezone.now())

    response = auditor_client.get("/usage/")
    daily = {day.day: day for day in response.context["daily"]}
    today = timezone.localdate()
    assert len(bars(chart_svg(response))) == 30 and len(daily) == 30
    assert min(daily) == today - timedelta(days=29) and max(daily) == today
    assert daily[today].count == 2 and daily[today].duration_ms == 180_000
    assert daily[today - timedelta(days=10)].count == 5 and daily[today - timedelta(days=10)].hours == 0.125
    assert daily[today - timedelta(days=1)] == Day(today - timedelta(days=1), 0, 0)
    assert response.context["period_count"] == 7

    response = auditor_client.get("/usage/?days=90")
    assert len(bars(chart_svg(response))) == 90
    assert response.context["period_count"] == 8  # not the one from 100 days ago
    assert response.context["busiest"].day == today - timedelta(days=10)


def test_days_are_days_in_the_configured_time_zone(settings):
    evening = timezone.now().date() - timedelta(days=2)  # a UTC date: now() is in UTC
    make_recording(add_time=f"{evening.isoformat()}T20:00:00Z")  # 01:30 the next morning in India

    [utc_day] = [day.day for day in per_day(30) if day.count]
    settings.TIME_ZONE = "Asia/Kolkata"
    [india_day] = [day.day for day in per_day(30) if day.count]
    assert (utc_day, india_day) == (evening, evening + timedelta(days=1))


def test_totals_by_type_and_format_and_storage_count_only_recordings_still_at_vobiz(auditor_client):
    stored = {
        "recording_storage_duration": 10,
        "recording_storage_rate": "0.005",
        "monthly_recording_storage_amount": "0.25",
    }
    make_recording(recording_type="call", recording_format="mp3", recording_duration_ms="60000.0", **stored)
    make_recording(recording_type="call", recording_format="wav", recording_duration_ms="120000.0", **stored)
    make_recording(
        recording_type="conference",
        recording_format="mp3",
        recording_duration_ms="3600000.0",
        recording_storage_duration=30,
        recording_storage_rate="0.010",
        monthly_recording_storage_amount="1.50",
    )
    remove(make_recording(recording_type="trunk", recording_storage_duration=999), deleted_at=timezone.now())
    remove(make_recording(recording_type="trunk", recording_format="wav"), gone_at=timezone.now())

    response = auditor_client.get("/usage/")
    breakdowns = response.context["breakdowns"]
    assert breakdowns["type"] == [
        {"value": "call", "count": 2, "duration_ms": 180_000},
        {"value": "conference", "count": 1, "duration_ms": 3_600_000},
    ]
    assert breakdowns["format"] == [
        {"value": "mp3", "count": 2, "duration_ms": 3_660_000},
        {"value": "wav", "count": 1, "duration_ms": 120_000},
    ]
    storage = response.context["storage"]
    assert storage["count"] == 3 and storage["storage_days"] == 50
    assert storage["amount"] == Decimal("2.00")
    assert abs(storage["average_rate"] - Decimal("0.02") / 3) < Decimal("0.000001")
    content = response.content.decode()
    assert "50 days" in content and "trunk" not in content
    assert "<dt>Storage cost</dt><dd>₹2.00 / month</dd>" in content
    assert "<dt>Average storage rate</dt><dd>₹0.0067</dd>" in content
    assert "amounts in INR" in content
    assert 'Storage <span class="muted">(all time)</span>' in content
    assert 'By type <span class="muted">(all time)</span>' in content


def test_amounts_are_in_the_configured_currency(auditor_client, settings):
    settings.BILLING_CURRENCY = "USD"
    make_recording(monthly_recording_storage_amount="1234.5")
    content = auditor_client.get("/usage/").content.decode()
    assert "$1,234.50 / month" in content and "₹" not in content


def month_ago(months, day=15):
    """An add_time on `day` of the month `months` before this one, at noon local time."""
    today = timezone.localdate()
    index = today.year * 12 + today.month - 1 - months
    return timezone.make_aware(datetime(index // 12, index % 12 + 1, day, 12)).isoformat()


def test_storage_cost_by_month_recorded_counts_what_is_still_at_vobiz(auditor_client):
    make_recordings(3, add_time=month_ago(0, day=1), monthly_recording_storage_amount="0.5")
    make_recordings(2, add_time=month_ago(4), monthly_recording_storage_amount="1.25")
    make_recording(add_time=month_ago(20), monthly_recording_storage_amount="7")  # before the chart
    remove(make_recording(add_time=month_ago(4), monthly_recording_storage_amount="100"), deleted_at=timezone.now())

    response = auditor_client.get("/usage/")
    monthly = response.context["monthly"]
    assert len(monthly) == 12 and monthly[-1].month == timezone.localdate().replace(day=1)
    assert [(month.count, month.amount) for month in monthly if month.count] == [
        (2, Decimal("2.5")),
        (3, Decimal("1.5")),
    ]
    assert monthly[-5].count == 2 and monthly[-1].count == 3
    earlier = response.context["earlier"]
    assert (earlier.month, earlier.count, earlier.amount) == (monthly[0].month, 1, Decimal("7"))
    svg = ET.fromstring(
        re.search(r'<svg class="usage-chart cost-chart".*?</svg>', response.content.decode(), re.DOTALL).group()
    )
    titles = [group.find("title").text for group in svg.iter("g") if group.get("class") == "day"]
    assert len(titles) == 13  # the earlier bar, then the 12 months
    first = calendar_month(monthly[0].month, "long")
    assert titles[0] == f"Added before {first} (or undated): ₹7.00 / month for 1 recording"
    assert titles[-5].endswith(": ₹2.50 / month for 2 recordings")
    labels = [text.text for text in svg.iter("text") if text.get("class") == "tick-date"]
    assert labels[0] == "Earlier" and labels[1:] == [calendar_month(month.month) for month in monthly]
    content = response.content.decode()
    assert "<strong>₹11.00</strong> / month for all recordings still at Vobiz (all time)" in content
    last = calendar_month(monthly[-1].month)
    assert (
        f"The first bar is the 1 recording added before {calendar_month(monthly[0].month)}, then one for each of the"
        f" last 12 months, to {last}: together they make the all-time total." in " ".join(content.split())
    )
    assert f'<tr><td>Before {first} (or undated)</td><td class="num">1</td><td class="num">₹7.00</td></tr>' in content
    assert '<tr><th scope="row">All time</th><td class="num">6</td><td class="num">₹11.00</td></tr>' in content


def test_the_cost_bars_add_up_to_the_all_time_total(auditor_client):
    """The bars' amounts, earlier one included, make the all-time figure the page states."""
    make_recordings(2, add_time=month_ago(13), monthly_recording_storage_amount="3.10")  # 13 months back
    make_recordings(4, add_time=month_ago(2), monthly_recording_storage_amount="0.333")
    make_recording(add_time=None, monthly_recording_storage_amount="1")
    response = auditor_client.get("/usage/")
    bars = [bar.item for bar in response.context["monthly_chart"].bars]
    assert bars[0].earlier and bars[0].count == 3
    assert sum(bar.amount for bar in bars) == response.context["storage"]["amount"] == Decimal("8.532")
    assert sum(bar.count for bar in bars) == response.context["storage"]["count"] == 7


def test_without_recordings_before_the_charted_months_there_is_no_earlier_bar(auditor_client):
    make_recordings(2, add_time=month_ago(1), monthly_recording_storage_amount="1")
    response = auditor_client.get("/usage/")
    assert response.context["earlier"] is None
    assert len(response.context["monthly_chart"].bars) == 12
    first, last = (
        calendar_month(month.month) for month in (response.context["monthly"][0], response.context["monthly"][-1])
    )
    assert f"One bar for each of the last 12 months, {first} to {last}: together" in response.content.decode()
    assert "The first bar" not in response.content.decode()


def test_months_are_months_in_the_viewers_time_zone():
    with timezone.override("Asia/Kolkata"):
        first = timezone.localdate().replace(day=1)
        # 20:00 UTC on the day before: 01:30 on the first of the month in India, last month in UTC.
        make_recording(
            add_time=f"{(first - timedelta(days=1)).isoformat()}T20:00:00Z", monthly_recording_storage_amount="1"
        )
        india = {month.month: month.count for month in cost_by_month()}
    utc = {month.month: month.count for month in cost_by_month()}
    assert india[first] == 1
    assert utc[(first - timedelta(days=1)).replace(day=1)] == 1 and utc.get(first, 0) == 0


def test_without_any_storage_cost_the_chart_says_so(auditor_client):
    make_recording(add_time=days_ago(1))
    content = auditor_client.get("/usage/").content.decode()
    assert "<strong>No storage cost</strong>" in content and "cost-chart" not in content


def test_the_oldest_recordings_still_at_vobiz_come_first_and_link_to_their_pages(auditor_client):
    recordings = [make_recording(add_time=days_ago(n)) for n in range(200, 188, -1)]  # oldest first
    remove(make_recording(add_time=days_ago(300)), deleted_at=timezone.now())
    remove(make_recording(add_time=days_ago(301)), gone_at=timezone.now())

    response = auditor_client.get("/usage/")
    assert response.context["oldest"] == recordings[:10]
    content = response.content.decode()
    links = re.findall(r'href="/recordings/([^/"]+)/"', content)
    assert links == [r.recording_id for r in recordings[:10]]


@pytest.mark.parametrize("days", ["abc", "7", "", "30.0", "-90"])
def test_any_other_period_falls_back_to_30_days(auditor_client, days):
    make_recording(add_time=days_ago(1))
    response = auditor_client.get("/usage/", {"days": days})
    assert response.status_code == 200
    assert response.context["days"] == 30 and len(response.context["daily"]) == 30


def test_the_page_makes_the_same_number_of_queries_however_many_recordings(auditor_client):
    def queries():
        with CaptureQueriesContext(connection) as context:
            assert auditor_client.get("/usage/?days=90").status_code == 200
        return len(context)

    def add(count):
        for n in range(count // 10):
            make_recordings(10, add_time=days_ago(n * 7 % 120), recording_type=("call", "conference", "trunk")[n % 3])

    add(10)
    few = queries()
    add(190)
    assert Recording.objects.count() == 200
    assert queries() == few


# ---------- chart geometry ----------


@pytest.mark.parametrize(
    "raw, whole, step",
    [
        (0, False, 1),
        (0.3, True, 1),
        (3, True, 5),
        (7, True, 10),
        (22, True, 25),
        (2.2, True, 5),
        (0.03, False, 0.05),
        (0.2, False, 0.2),
        (1.2, False, 2),
        (130, False, 200),
    ],
)
def test_steps_are_round(raw, whole, step):
    assert nice_step(raw, whole) == step


def days(*counts, duration_ms=60_000):
    first = date(2026, 3, 1)
    return [Day(first + timedelta(days=n), count, count * duration_ms) for n, count in enumerate(counts)]


def test_the_top_of_the_scale_is_full_height_and_zero_is_no_bar():
    chart = daily_chart(days(40, 0, 10, 20, duration_ms=72_000))  # 40 recordings make 0.8 h
    full, empty, quarter, half = chart.bars
    assert (full.y, full.height) == (chart.top, chart.plot_height)
    assert (empty.y, empty.height) == (chart.bottom, 0)
    assert quarter.height == chart.plot_height / 4 and half.height == chart.plot_height / 2
    assert (full.line_y, empty.line_y) == (chart.top, chart.bottom)
    assert [tick.bar for tick in chart.ticks] == ["0", "10", "20", "30", "40"]
    assert [tick.line for tick in chart.ticks] == ["0", "0.2", "0.4", "0.6", "0.8"]
    assert [tick.y for tick in chart.ticks] == [chart.bottom - n * chart.plot_height / 4 for n in range(5)]


def test_ticks_stay_round_whatever_the_data():
    for maximum in (1, 3, 7, 12, 99, 1234):
        chart = daily_chart(days(maximum, 1, duration_ms=47_000))
        counts = [int(tick.bar) for tick in chart.ticks]
        step = counts[1]
        assert counts == [n * step for n in range(len(counts))] and counts[-1] >= maximum
        assert re.fullmatch(r"[125]0*|250*", str(step))
        hours = [float(tick.line) for tick in chart.ticks]
        assert hours[-1] >= maximum * 47_000 / 3_600_000
        assert not any(re.search(r"0000|9999", tick.line) for tick in chart.ticks)  # no 0.30000000000000004


def test_one_day_and_no_recordings_draw_without_dividing_by_zero():
    [bar] = daily_chart(days(1)).bars
    assert bar.labelled and bar.height > 0
    quiet = daily_chart(days(0, 0, 0))
    assert all(bar.height == 0 for bar in quiet.bars) and int(quiet.ticks[-1].bar) >= 1


def test_dates_are_named_every_week_counted_back_from_the_last_day():
    for length, every in ((30, 7), (90, 14), (7, 1), (12, 2)):
        labelled = [n for n, bar in enumerate(daily_chart(days(*[1] * length)).bars) if bar.labelled]
        assert labelled[-1] == length - 1
        assert {b - a for a, b in itertools.pairwise(labelled)} <= {every}


def test_while_a_first_import_keeps_the_figures_from_its_rows_the_page_says_so(auditor_client):
    from recordings import usage_summary

    notice = "These figures leave out what a first import is storing"
    make_recording(add_time=days_ago(1))
    assert notice not in auditor_client.get("/usage/").content.decode()
    usage_summary.uninstall(connection)  # as a first import on SQLite runs, or one that was killed left it
    make_recording(add_time=days_ago(1))
    response = auditor_client.get("/usage/")
    assert notice in response.content.decode() and response.context["period_count"] == 1
    assert usage_summary.ensure_installed(connection)
    response = auditor_client.get("/usage/")
    assert notice not in response.content.decode() and response.context["period_count"] == 2
    assert not usage_summary.ensure_installed(connection)
