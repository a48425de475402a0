"""recordings.formatting: the one way each value is shown or read, and the template tags that are only its names."""

import pytest
from django.template import Context, Template
from pytest_django.fixtures import Settings

from recordings.formatting import duration, hours_minutes, moment, moment_ms


@pytest.mark.parametrize(
    "written, milliseconds",
    [
        ("83", 83_000),
        (" 83 ", 83_000),
        ("83.", 83_000),
        ("83.5", 83_500),
        ("83.9", 83_900),
        ("1.001", 1_001),
        ("83.12345", 83_123),  # past milliseconds is cut off, not rounded up into the next second
        ("1:23", 83_000),
        ("0:30", 30_000),
        ("1:02:03", 3_723_000),
        ("1:02:03.250", 3_723_250),
        ("120:00", 7_200_000),
    ],
)
def test_a_moment_as_people_write_it(written: str, milliseconds: int) -> None:
    assert moment_ms(written) == milliseconds


@pytest.mark.parametrize("written", ["", "abc", "-5", "nan", "inf", "1e999", "1:60:00:00", "1:2:3:4", "1,5", ":30"])
def test_what_is_no_moment(written: str) -> None:
    assert moment_ms(written) is None


@pytest.mark.parametrize("milliseconds", [0, 999, 62_500, 3_723_000, 35_999_000])
def test_a_moment_shown_reads_back_as_its_whole_second(milliseconds: int) -> None:
    assert moment_ms(moment(milliseconds)) == milliseconds // 1000 * 1000


def test_moments_and_durations() -> None:
    assert moment(62_600) == "1:02"  # whole seconds gone by, as the player counts
    assert duration(62_600) == "1:03"  # rounded, as a length is
    assert moment(3_723_999) == duration(3_723_000) == "1:02:03"
    assert hours_minutes(43_440_000) == "12 h 04 m"
    assert hours_minutes(420_000) == "7 m"
    assert hours_minutes(45_000) == "45 s"


def test_the_template_tags_are_the_same_functions(settings: Settings) -> None:
    settings.BILLING_CURRENCY = "INR"
    settings.PHONE_REGION = "IN"
    code = (
        "{% load moments recording_format money phone_numbers %}"
        "{{ at|moment }} {{ length|duration }} {{ total|hours_minutes }} {{ cost|money:'precise' }} {{ number|phone }}"
    )
    shown = Template(code).render(
        Context({"at": 62_500, "length": 7_880, "total": 45_000, "cost": "0.0054", "number": "09876543210"})
    )
    assert shown == "1:02 0:08 45 s ₹0.0054 +91 98765 43210"
