"""A data-subject request walked in a real Chromium, from opening it to closing it: two auditors,
the copy downloaded, the erasure approved by the second, carried out, and the proof on the page."""

import hashlib
import zipfile
from collections import Counter

import pytest
from playwright.sync_api import expect

from recordings.formatting import phone
from recordings.models import Recording, SubjectRequest
from recordings.roles import AUDITORS
from tests.conftest import user_in_role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def fact(page, term):
    return page.locator(f"dl.facts dt:text-is('{term}') + dd").first


def test_a_request_from_opening_to_closing(synced, signed_in, django_user_model, fake_vobiz, tmp_path):
    user_in_role(django_user_model, "ada", AUDITORS)
    user_in_role(django_user_model, "bea", AUDITORS)
    # A customer's number: one that appears on few recordings (the account's own numbers are on many).
    sides = Counter(n.lstrip("+") for r in Recording.objects.all() for n in (r.from_number, r.to_number))
    number, count = min(((n, c) for n, c in sides.items() if n.isdigit()), key=lambda item: item[1])

    opener = signed_in("ada")
    opener.get_by_role("link", name="Requests").click()
    opener.get_by_label("Phone number").fill(number)
    opener.get_by_label("The person asks for").select_option("both")
    opener.get_by_label("Reference").fill("T-2024")
    opener.get_by_label("Times in the copy in").select_option("Asia/Kolkata")
    opener.get_by_role("button", name="Open the request").click()
    made = SubjectRequest.objects.get()
    opener.wait_for_url(f"**/requests/{made.pk}/")
    expect(opener.locator("h1")).to_contain_text("Open")
    expect(opener.locator("#found-heading")).to_have_text(f"{count} recording{'s' if count > 1 else ''}")
    expect(fact(opener, "Number")).to_have_text(phone(number))
    expect(opener.get_by_role("link", name="Approve the erasure")).to_have_count(0)  # the copy first

    with opener.expect_download() as download:
        opener.get_by_role("button", name="Download the copy (ZIP)").click()
    path = tmp_path / "copy.zip"
    download.value.save_as(path)
    assert zipfile.ZipFile(path).testzip() is None
    opener.reload()
    expect(opener.locator("h1")).to_contain_text("Exported")
    expect(fact(opener, "Exported")).to_contain_text(hashlib.sha256(path.read_bytes()).hexdigest())
    expect(opener.get_by_text("A second auditor approves the erasure.")).to_be_visible()
    expect(opener.get_by_role("link", name="Approve the erasure")).to_have_count(0)

    approver = signed_in("bea")
    approver.goto(f"/requests/{made.pk}/")
    approver.get_by_role("link", name="Approve the erasure").click()
    expect(approver.locator("h1")).to_contain_text(f"Delete {count} recording")  # the bulk deletion's words
    expect(fact(approver, "To delete")).to_have_text(str(count))
    expect(fact(approver, "Storage freed")).to_be_visible()
    approver.get_by_role("button", name=f"Approve the erasure: delete {count} at Vobiz").click()
    expect(approver.locator("h1")).to_contain_text("Erasure approved")
    expect(fact(approver, "Erasure approved")).to_contain_text("by bea")
    approver.get_by_role("button", name="Erase the number here").click()
    expect(approver.locator("h1")).to_contain_text("Erased")
    expect(fact(approver, "Number")).to_contain_text("not kept: dsr:")
    expect(fact(approver, "Deleted at Vobiz")).to_have_text(str(count))
    approver.get_by_role("button", name="Close the request").click()
    expect(approver.locator("h1")).to_contain_text("Closed")
    expect(approver.get_by_role("link", name="Approve the erasure")).to_have_count(0)

    made.refresh_from_db()
    assert made.status == SubjectRequest.Status.CLOSED and made.number == ""
    assert made.opened_by_name == "ada" and made.approved_by_name == "bea"
    assert not Recording.objects.filter(from_number__endswith=number).exists()
    assert not Recording.objects.filter(to_number__endswith=number).exists()
