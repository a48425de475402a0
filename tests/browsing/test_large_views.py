"""Views of many recordings: the count above the table (exact up to a bound, "more than" beyond it,
then exact) and pages far into the table (ids first)."""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from recordings.browsing import counting, tables
from recordings.models import Recording, SyncRun
from tests.factories import make_recordings


@pytest.fixture
def small_bound(monkeypatch):
    monkeypatch.setattr(counting, "COUNT_BOUND", 10)


@pytest.fixture
def thirty(db):
    make_recordings(30)
    SyncRun.objects.create(mode="full", status="succeeded", started_at=timezone.now(), pages=1)


def summary_of(response):
    return response.context["summary"]


def test_a_view_within_the_bound_is_counted_exactly(support_client, thirty):
    response = support_client.get("/")
    summary = summary_of(response)
    assert (summary.count, summary.exact, summary.duration_ms) == (30, True, 30 * 65_000)
    assert b"data-count-url" not in response.content
    assert b"Page 1 of 2" in response.content


def test_a_view_beyond_the_bound_says_more_than_and_names_no_last_page(support_client, thirty, small_bound):
    response = support_client.get("/")
    summary = summary_of(response)
    # The bound is at least the rows up to the page shown: 25 on the first page.
    assert (summary.count, summary.exact, summary.duration_ms) == (25, False, None)
    body = response.content.decode()
    assert "More than <strong>25</strong> recordings" in body
    assert 'data-count-url="/count"' in body
    assert "Page 1 of more than 1" in body
    assert 'rel="next"' in body  # the bound knows one row more: the next page exists
    assert len(response.context["table"].page.object_list) == 25


def test_a_deep_page_counts_as_far_as_itself(support_client, thirty, small_bound):
    response = support_client.get("/", {"page": 2})
    summary = summary_of(response)
    assert (summary.count, summary.exact) == (30, True)  # counting to row 50 reached the end
    assert len(response.context["table"].page.object_list) == 5


def test_the_bound_costs_the_same_queries_as_an_exact_count(support_client, thirty, small_bound):
    def queries(params):
        with CaptureQueriesContext(connection) as captured:
            support_client.get("/", params)
        return len(captured)

    assert queries({}) == queries({"page": 2})


def test_more_than_is_kept_until_the_data_changes(support_client, thirty, small_bound):
    def summary_and_counts():
        with CaptureQueriesContext(connection) as captured:
            summary = summary_of(support_client.get("/"))
        return (summary.count, summary.exact), sum(q["sql"].startswith("SELECT COUNT(") for q in captured)

    assert summary_and_counts() == ((25, False), 1)
    assert summary_and_counts() == ((25, False), 0)  # a refresh: from the cache
    Recording.objects.filter(pk__in=list(Recording.objects.values_list("pk", flat=True)[:20])).update(
        gone_at=timezone.now()
    )
    SyncRun.objects.create(mode="full", status="succeeded", started_at=timezone.now(), pages=1, gone=20)
    assert summary_and_counts() == ((10, True), 1)  # the run that found them gone is a new data version


def test_the_exact_count_comes_separately_and_is_then_shown_by_every_page(support_client, thirty, small_bound):
    response = support_client.get("/count", {"recording_format": "mp3"})
    assert response.status_code == 200
    figures = response.json()
    assert figures["count"] == 30
    assert "<strong>30</strong> recordings" in figures["html"] and "in all" in figures["html"]

    with CaptureQueriesContext(connection) as captured:
        summary = summary_of(support_client.get("/", {"recording_format": "mp3"}))
    assert (summary.count, summary.exact) == (30, True)
    assert not any(q["sql"].startswith("SELECT COUNT(") for q in captured)  # from the cache


def test_while_it_counts_again_a_page_shows_the_last_exact_figure_and_when(support_client, thirty, small_bound):
    assert support_client.get("/count").json()["count"] == 30
    make_recordings(2)
    SyncRun.objects.create(mode="full", status="succeeded", started_at=timezone.now(), pages=1, created=2)

    response = support_client.get("/")
    summary = summary_of(response)
    assert (summary.count, summary.exact) == (25, False)
    assert summary.earlier.count == 30 and summary.earlier.exact
    body = response.content.decode()
    assert "More than <strong>25</strong> recordings" in body
    assert "· 30 when counted <time" in body and "before the latest changes" in body
    assert 'data-count-url="/count"' in body  # and it is counted again

    assert support_client.get("/count").json()["count"] == 32
    assert (summary_of(support_client.get("/")).count, summary_of(support_client.get("/")).exact) == (32, True)


def test_a_figure_whose_entry_only_lapsed_is_not_called_older_than_the_changes(support_client, thirty, small_bound):
    assert support_client.get("/count").json()["count"] == 30
    version = summary_of(support_client.get("/")).version
    cache.delete(counting.summary_key({}, version))  # its SUMMARY_SECONDS passed; the data did not change

    response = support_client.get("/")
    summary = summary_of(response)
    assert (summary.count, summary.exact, summary.earlier.count) == (25, False, 30)
    body = response.content.decode()
    assert "· 30 when counted <time" in body and "before the latest changes" not in body


def test_a_view_never_counted_exactly_shows_no_earlier_figure(support_client, thirty, small_bound):
    assert support_client.get("/count", {"recording_format": "mp3"}).json()["count"] == 30
    response = support_client.get("/")  # another view: its own figures, none yet
    assert summary_of(response).earlier is None
    assert "when counted" not in response.content.decode()


def test_the_exact_count_follows_the_filters(support_client, thirty):
    make_recordings(3, recording_format="wav")
    assert support_client.get("/count", {"recording_format": "wav"}).json()["count"] == 3
    assert support_client.get("/count", {"recording_format": "nonsense"}).json()["count"] == 33  # invalid: ignored


def test_the_exact_count_of_every_present_recording_walks_the_covering_index(support_client, thirty):
    Recording.objects.filter(pk__in=Recording.objects.order_by("pk")[:4].values("pk")).update(deleted_at=timezone.now())
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # statistics, as on a real database: without them it guesses otherwise
    with CaptureQueriesContext(connection) as captured:
        figures = support_client.get("/count").json()
    assert figures["count"] == 26
    if connection.vendor == "sqlite":  # its planner would scan the table for the count
        (count_sql,) = [q["sql"] for q in captured if q["sql"].startswith("SELECT COUNT(")]
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN QUERY PLAN " + count_sql)
            plan = " ".join(row[3] for row in cursor.fetchall())
        assert "USING INDEX rec_present_time_idx" in plan


def test_the_count_needs_a_sign_in(client, thirty):
    response = client.get("/count")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.parametrize("params", [{}, {"sort": "recording_duration_ms"}, {"sort": "-add_time", "per_page": 50}])
def test_a_far_page_read_ids_first_shows_the_same_rows_in_the_same_order(support_client, monkeypatch, params):
    make_recordings(60)
    for n, recording in enumerate(Recording.objects.order_by("id")):
        recording.recording_duration_ms = (n * 7919) % 60 * 1000  # durations out of id order
        recording.save()
    page_2 = {**params, "page": 2}

    def ids(response):
        return [record.recording_id for record in response.context["table"].page_records]

    expected = ids(support_client.get("/", page_2))
    monkeypatch.setattr(tables, "INDEX_ONLY_OFFSET", 0)
    with CaptureQueriesContext(connection) as captured:
        response = support_client.get("/", page_2)
    assert ids(response) == expected and len(expected) > 0
    offset_queries = [q["sql"] for q in captured if "OFFSET" in q["sql"]]
    assert len(offset_queries) == 1 and offset_queries[0].startswith('SELECT "recordings_recording"."id" AS "pk"')


def test_a_cached_count_of_days_is_each_zones_own(support_client, auditor_user):
    """The same dates are other hours in another zone: a count kept for one viewer is not another's."""
    from django.test import Client

    make_recordings(1, add_time="2026-03-01 20:00:00+00:00")  # 2 March in India, 1 March in UTC
    SyncRun.objects.create(mode="full", status="succeeded", started_at=timezone.now(), pages=1)
    march_2 = {"added_after": "2026-03-02", "added_before": "2026-03-02"}
    assert summary_of(support_client.get("/", march_2)).count == 0
    in_india = Client()
    in_india.force_login(auditor_user)
    in_india.post("/preferences/time-zone", {"time_zone": "Asia/Kolkata"})
    assert summary_of(in_india.get("/", march_2)).count == 1


def test_a_time_of_day_counts_to_a_lower_bound_no_index_serves(support_client, thirty, monkeypatch):
    monkeypatch.setattr(counting, "TIME_OF_DAY_COUNT_BOUND", 5)
    whole_day = {"time_from": "00:00", "time_until": "23:59"}
    summary = summary_of(support_client.get("/", whole_day))
    assert (summary.count, summary.exact) == (25, False)  # as far as its page, then /count
    assert support_client.get("/count", whole_day).json()["count"] == 30
    assert summary_of(support_client.get("/")).exact  # other views count to COUNT_BOUND
