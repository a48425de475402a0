"""Deleting a filtered view in a real Chromium: the confirmation restates it, and does what it said."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from recordings.audit_trail import Actor
from recordings.auditing.holds import place_hold
from recordings.formatting import money
from recordings.models import DeletionOutcome, Recording
from recordings.roles import AUDITORS
from tests.conftest import user_in_role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def auditor(synced, django_user_model):
    return user_in_role(django_user_model, "auditor", AUDITORS)


def delete_the_view(page):
    page.locator("button[name=scope][value=view][formaction$='/bulk/delete']").click()
    page.wait_for_url("**/bulk/delete")


def fact(page, term):
    return page.locator(f"dl.facts dt:text-is('{term}') + dd")


def test_deleting_a_filtered_view_from_the_filters_to_each_outcome(signed_in, auditor, fake_vobiz):
    wav = Recording.objects.filter(recording_format="wav").order_by("pk")
    wav.update(monthly_recording_storage_amount=Decimal("0.5"))
    held = wav.first()
    place_hold(actor=Actor(user=auditor, ip_address=None, user_agent=""), reason="dispute", recording=held)
    to_delete = wav.count() - 1
    page = signed_in("auditor")

    page.get_by_text("More filters").click()
    page.select_option("select[name=recording_format]", "wav")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("p.summary")).to_contain_text("filtered by Format: WAV")
    delete_the_view(page)

    expect(page.locator("h1")).to_have_text(f"Delete {to_delete} recordings at Vobiz?")
    expect(fact(page, "Filters")).to_have_text("Format: WAV")
    expect(fact(page, "To delete")).to_have_text(str(to_delete))
    expect(fact(page, "Storage freed")).to_contain_text(f"{money(Decimal('0.5') * to_delete)} / month")
    expect(fact(page, "On legal hold")).to_have_text("1: kept, not deleted")
    page.get_by_label("Reason").fill("retention")
    page.get_by_role("button", name=f"Delete {to_delete} at Vobiz").click()

    page.wait_for_url(re.compile(r".*/deletions/\d+/$"))
    expect(fact(page, "Chosen")).to_have_text("Every recording in the view: Format: WAV")
    expect(fact(page, "Deleted")).to_have_text(str(to_delete))
    expect(fact(page, "On hold: kept")).to_have_text("1")
    statuses = dict(DeletionOutcome.objects.values_list("recording_id", "status"))
    assert statuses.pop(held.pk) == DeletionOutcome.Status.HELD
    assert set(statuses.values()) == {DeletionOutcome.Status.DELETED} and len(statuses) == to_delete
    assert fake_vobiz.account.get(held.recording_id) is not None

    # The held one is all that is left of the view: nothing to delete, and no Delete to press (a
    # crafted request gets the page saying why: tests/auditing/test_deletion.py).
    page.goto("/?recording_format=wav")
    expect(page.locator("p.summary")).to_contain_text("1 recording")
    expect(page.locator(".toolbar-actions")).to_contain_text("All on legal hold: nothing to delete")
    expect(page.get_by_role("button", name="Delete…")).to_have_count(0)
    expect(page.get_by_role("button", name="Download ZIP")).to_have_count(2)  # ticked rows, the view

    # A view with no recordings offers no bulk action at all.
    page.goto("/?recording_format=wav&hold=free")
    expect(page.locator("p.summary")).to_contain_text("0 recordings")
    expect(page.locator(".toolbar-actions")).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("Delete|Download ZIP"))).to_have_count(0)
    expect(page.get_by_role("link", name="Export CSV")).to_have_count(0)
