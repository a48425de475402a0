"""The person's number found however it is written, in text and in a URL's query string, and only
theirs: another country's number with the same digits is someone else's."""

import pytest

from recordings.requests.numbers import Redactor, keyed_hash, stored_e164, stored_forms

PERSON = "+919845012345"
HASHED = keyed_hash(PERSON)


@pytest.mark.parametrize(
    "text, redacted",
    [
        ("q=98450+12345", f"q={HASHED}"),
        ("from_number=%2B91+98450+12345&page=2", f"from_number={HASHED}&page=2"),
        ("q=%2B919845012345", f"q={HASHED}"),
        ("caller +91 (98450) 12345.", f"caller {HASHED}."),
        ("caller 98450  12345, twice", f"caller {HASHED}, twice"),
        ("0091-98450-12345 or 098450 12345", f"{HASHED} or {HASHED}"),
        ("filtered by q=%2B91%2098450%2012345", f"filtered by q={HASHED}"),
        ("+1 984 501 2345", "+1 984 501 2345"),  # the United States' number with the same digits
        ("98450123456", "98450123456"),  # a longer number
        ("order 19845012345", "order 19845012345"),
    ],
)
def test_text_loses_the_number_in_every_form_and_keeps_others(text, redacted):
    assert Redactor.of(PERSON).text(text) == redacted


def test_a_query_string_is_read_decoded_and_written_again():
    assert Redactor.of(PERSON).json({"filter_query": "q=%39%38450+12345&type=mp3"}) == {
        "filter_query": f"q={HASHED.replace(':', '%3A')}&type=mp3"
    }


@pytest.mark.parametrize(
    "stored, e164",
    [
        ("+919845012345", PERSON),
        ("919845012345", PERSON),
        ("9845012345", PERSON),
        ("09845012345", PERSON),
        ("+19845012345", "+19845012345"),
        ("19845012345", "+19845012345"),
        ("anonymous", None),
    ],
)
def test_a_stored_number_is_read_with_its_country_code(stored, e164, settings):
    settings.PHONE_REGION = "IN"
    assert stored_e164(stored) == e164


def test_the_stored_forms_of_a_number_leave_out_another_countrys_with_its_digits(settings):
    settings.PHONE_REGION = "IN"
    assert stored_forms(PERSON) == sorted(
        d[::-1] for d in ("9845012345", "09845012345", "919845012345", "00919845012345")
    )
    assert "54321054891" not in stored_forms(PERSON)  # +1 984 501 2345
    assert stored_forms("+19845012345") == sorted(d[::-1] for d in ("19845012345", "0019845012345"))
