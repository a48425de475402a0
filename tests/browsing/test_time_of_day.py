"""The time-of-day filter: recordings added between two times of any day, in the viewer's zone,
across midnight, and right on both sides of a change to or from summer time."""

from datetime import UTC, datetime

import pytest

from recordings.time_zones import set_time_zone
from tests.factories import make_recording

pytestmark = pytest.mark.django_db


def at(*parts: int) -> str:
    return datetime(*parts, tzinfo=UTC).isoformat()


@pytest.fixture
def in_zone(support_client, support_user):
    def use(zone: str):
        set_time_zone(user=support_user, name=zone, follow_browser=False)
        support_client.force_login(support_user)  # the zone goes into the session at sign-in
        return support_client

    return use


def shown(client, query: str) -> set[str]:
    response = client.get(f"/?{query}")
    assert response.status_code == 200
    # The rows the page showed, read while the viewer's zone was in force.
    return {row.record.recording_id for row in response.context["table"].page.object_list}


def test_between_two_times_from_included_until_not(in_zone) -> None:
    for hour, minute in [(13, 59), (14, 0), (17, 59), (18, 0)]:
        make_recording(recording_id=f"r{hour}{minute:02d}", add_time=at(2026, 11, 3, hour, minute))
    client = in_zone("UTC")
    assert shown(client, "time_from=14:00&time_until=18:00") == {"r1400", "r1759"}
    assert shown(client, "time_from=17:00") == {"r1759", "r1800"}
    assert shown(client, "time_until=14:00") == {"r1359"}


def test_across_midnight(in_zone) -> None:
    for hour in (21, 22, 23, 0, 1, 2, 3):
        make_recording(recording_id=f"r{hour:02d}", add_time=at(2026, 11, 3 if hour > 12 else 4, hour, 30))
    assert shown(in_zone("UTC"), "time_from=22:00&time_until=02:00") == {"r22", "r23", "r00", "r01"}


def test_in_the_viewers_zone_with_its_half_hour_offset(in_zone) -> None:
    make_recording(recording_id="ist-1430", add_time=at(2026, 11, 3, 9, 0))  # 14:30 in India
    make_recording(recording_id="ist-1300", add_time=at(2026, 11, 3, 7, 30))  # 13:00 in India
    assert shown(in_zone("Asia/Kolkata"), "time_from=14:00&time_until=18:00") == {"ist-1430"}
    assert shown(in_zone("UTC"), "time_from=14:00&time_until=18:00") == set()


def test_summer_time_each_day_by_its_own_offset(in_zone) -> None:
    # London: 14:30 is 13:30 UTC in summer and 14:30 UTC in winter; around the change on 29 March
    # 2026 (01:00 UTC) the same UTC hour falls on either side of the range.
    make_recording(recording_id="summer-1430", add_time=at(2026, 7, 1, 13, 30))
    make_recording(recording_id="summer-1530", add_time=at(2026, 7, 1, 14, 30))
    make_recording(recording_id="winter-1430", add_time=at(2026, 1, 15, 14, 30))
    make_recording(recording_id="winter-1330", add_time=at(2026, 1, 15, 13, 30))
    make_recording(recording_id="before-change-0030", add_time=at(2026, 3, 29, 0, 30))  # 00:30 GMT
    make_recording(recording_id="after-change-0230", add_time=at(2026, 3, 29, 1, 30))  # 02:30 BST
    client = in_zone("Europe/London")
    assert shown(client, "time_from=14:00&time_until=15:00") == {"summer-1430", "winter-1430"}
    assert shown(client, "time_from=00:00&time_until=01:00") == {"before-change-0030"}
    assert shown(client, "time_from=02:00&time_until=03:00") == {"after-change-0230"}


def test_a_time_that_is_not_one_is_the_forms_error_not_a_crash(in_zone) -> None:
    make_recording(recording_id="any", add_time=at(2026, 11, 3, 10, 0))
    response = in_zone("UTC").get("/?time_from=25:99&time_until=x")
    assert response.status_code == 200
    assert response.context["filter"].form.errors.keys() == {"time_from", "time_until"}


def test_the_view_restates_the_times(in_zone) -> None:
    make_recording(recording_id="any", add_time=at(2026, 11, 3, 15, 0))
    page = in_zone("UTC").get("/?time_from=14:00&time_until=18:00").content.decode()
    assert "Time of day from: <strong>14:00</strong>" in page
    assert "Time of day until: <strong>18:00</strong>" in page


@pytest.mark.parametrize(
    "zone, change",
    [
        ("Europe/London", datetime(2026, 10, 25, 1, 0, tzinfo=UTC)),
        ("America/New_York", datetime(2026, 3, 8, 7, 0, tzinfo=UTC)),
        ("Australia/Sydney", datetime(2026, 4, 4, 16, 0, tzinfo=UTC)),
        ("Asia/Kolkata", datetime(2026, 4, 4, 16, 0, tzinfo=UTC)),
    ],
)
def test_every_moment_around_a_clock_change_is_read_on_its_own_offset(in_zone, zone, change) -> None:
    from datetime import time, timedelta
    from zoneinfo import ZoneInfo

    from recordings.models import Recording
    from tests.factories import make_recordings

    moments = [change + timedelta(minutes=20 * n) for n in range(-80, 80)]
    make_recordings(len(moments))
    for recording, moment in zip(Recording.objects.order_by("id"), moments, strict=True):
        Recording.objects.filter(pk=recording.pk).update(add_time=moment)
    local = ZoneInfo(zone)
    for start, end in [(time(1), time(3)), (time(22), time(2, 30))]:
        expected = {
            moment
            for moment in moments
            if (start <= moment.astimezone(local).time() < end)
            or (start > end and (moment.astimezone(local).time() >= start or moment.astimezone(local).time() < end))
        }
        response = in_zone(zone).get(f"/?time_from={start:%H:%M}&time_until={end:%H:%M}&per_page=100")
        table = response.context["table"]
        assert table.paginator.count == len(expected)
        shown = {row.record.add_time for row in table.page.object_list}
        assert shown <= expected and len(shown) == min(100, len(expected))


def test_the_same_time_twice_is_the_forms_error(in_zone) -> None:
    make_recording(recording_id="any", add_time=at(2026, 11, 3, 14, 0))
    response = in_zone("UTC").get("/?time_from=14:00&time_until=14:00")
    assert response.status_code == 200
    assert response.context["filter"].form.errors == {"time_until": ["Choose two different times."]}
    assert "Choose two different times." in response.content.decode()
