"""Phone numbers shown in international format, whatever way Vobiz wrote them."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from recordings.formatting import phone
from recordings.models import CallDetail
from tests.factories import make_recording


@pytest.mark.parametrize("written", ["+919876543210", "919876543210", "09876543210", "9876543210", "+91 98765-43210"])
def test_an_indian_number_written_any_way_reads_the_same(written):
    assert phone(written) == "+91 98765 43210"


def test_numbers_of_other_countries_keep_their_own_country_code():
    assert phone("+442079460958") == "+44 20 7946 0958"
    assert phone("+14155550123") == "+1 415-555-0123"


@pytest.mark.parametrize("written", ["anonymous", "sip:alice@example.com", "12", "", None, '<img src=x onerror="1">'])
def test_what_is_not_a_phone_number_is_shown_as_it_came(written):
    assert phone(written) == written


def test_the_default_region_reads_numbers_without_a_country_code(settings):
    settings.PHONE_REGION = "GB"
    assert phone("02079460958") == "+44 20 7946 0958"
    assert phone("+919876543210") == "+91 98765 43210"


def test_an_unknown_region_is_refused_at_start_with_a_clear_message(monkeypatch):
    import importlib

    import vobiz_dashboard.settings as project_settings

    monkeypatch.setenv("PHONE_REGION", "Narnia")
    monkeypatch.setenv("DJANGO_DEBUG", "1")
    with pytest.raises(ImproperlyConfigured, match="PHONE_REGION"):
        importlib.reload(project_settings)
    monkeypatch.setenv("PHONE_REGION", "in")
    assert importlib.reload(project_settings).PHONE_REGION == "IN"


@pytest.mark.django_db
def test_table_recording_and_call_pages_show_international_numbers(support_client):
    recording = make_recording(from_number="919876543210", to_number="+918012345678")
    CallDetail.objects.create(
        call_uuid=recording.call_uuid,
        data={"caller_id_number": "09876543210", "destination_number": "8012345678"},
        fetched_at=recording.add_time,
    )
    for url in ("/", f"/recordings/{recording.recording_id}/", f"/calls/{recording.call_uuid}/"):
        page = support_client.get(url).content.decode()
        assert "+91 98765 43210" in page and "+91 80123 45678" in page, url
        assert ">919876543210<" not in page


@pytest.mark.django_db
def test_the_csv_export_writes_every_number_in_e164_however_vobiz_wrote_it(support_client):
    make_recording(from_number="919876543210", to_number="+917745080818")
    make_recording(from_number="09876543211", to_number="sip:desk@example.com")
    text = b"".join(support_client.get("/", {"_export": "csv"}).streaming_content).decode()
    assert ",+919876543210,+917745080818," in text and ",+919876543211,sip:desk@example.com," in text
    assert "98765 43210" not in text and ",919876543210," not in text


@pytest.mark.django_db
@pytest.mark.parametrize("typed", ["+91 98765 43210", "98765 43210", "09876543210", "43210"])
def test_searching_by_the_number_as_shown_finds_it(support_client, typed):
    recording = make_recording(from_number="919876543210")
    make_recording(from_number="+918000000001", to_number="+918000000002")
    page = support_client.get("/", {"q": typed}).content.decode()
    assert recording.recording_id in page
    assert "+91 80000 00001" not in page
