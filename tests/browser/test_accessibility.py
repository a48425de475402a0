"""axe-core on every page, in a real Chromium: no serious or critical finding anywhere."""

from decimal import Decimal

import pytest
from django.utils import timezone

from recordings.audit_trail import Actor
from recordings.models import AuditEvent, DeletionBatch, DeletionOutcome, Recording
from recordings.review.notes import add_note
from recordings.review.samples import create_sample
from recordings.roles import AUDITORS, SUPPORT
from tests.conftest import user_in_role

axe_playwright = pytest.importorskip("axe_playwright_python.sync_playwright")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
BLOCKING = {"serious", "critical"}


@pytest.fixture(scope="module")
def axe():
    return axe_playwright.Axe()


def findings(axe, page):
    """The serious and critical axe findings of the page as shown, one line each."""
    results = axe.run(page)
    return [
        f"{violation['id']} ({violation['impact']}) at {node['target']}: {node['html'][:160]}"
        for violation in results.response["violations"]
        if violation["impact"] in BLOCKING
        for node in violation["nodes"]
    ]


def assert_none(found):
    """`found`: each page's findings. Every finding listed, a line each, if there is one."""
    listed = [f"{path}: {line}" for path, lines in found.items() for line in lines]
    assert not listed, "\n".join(listed)


@pytest.fixture
def pages(synced, django_user_model):
    """Every page of the dashboard an auditor sees, with the data each needs."""
    auditor = user_in_role(django_user_model, "auditor", AUDITORS)
    recording = Recording.objects.order_by("-add_time")[2]
    AuditEvent.objects.create(at=timezone.now(), user=auditor, username="auditor", action="play", recording=recording)
    batch = DeletionBatch.objects.create(requested_by=auditor, requested_at=timezone.now(), reason="retention")
    DeletionOutcome.objects.create(batch=batch, recording=recording, status=DeletionOutcome.Status.FAILED)
    actor = Actor(user=auditor, ip_address=None, user_agent="")
    add_note(actor=actor, recording=recording, at_ms=5000, text="Greeting")
    sample = create_sample(
        actor=actor,
        name="Quality sample",
        criteria={},
        recordings=Recording.objects.all(),
        percent=Decimal(5),
        per_caller=0,
        seed=1,
    )
    return [
        "/",
        "/?q=no-such-call",  # an empty view
        "/?added_after=not-a-date",  # a form error
        "/?page=2",  # both pagination links enabled
        f"/recordings/{recording.recording_id}/",
        f"/recordings/{recording.recording_id}/delete",
        f"/calls/{recording.call_uuid}/",
        "/sync/",
        "/audit/",
        "/usage/",
        f"/deletions/{batch.pk}/",
        "/review/",
        f"/review/{sample.pk}/",
        f"/review/{sample.pk}/1/",
        "/notes/",
        "/notes/?q=nothing-like-it",
    ]


def test_no_page_has_a_serious_or_critical_finding(signed_in, axe, pages):
    page = signed_in("auditor")
    found = {}
    for path in pages:
        response = page.goto(path)
        assert response.status == 200, path
        found[path] = findings(axe, page)
    # The confirmation of a bulk deletion, reached from the table's "Delete…" for the whole view.
    page.goto("/?recording_type=conference")
    page.locator("button[name=scope][formaction$='/bulk/delete']").click()
    page.wait_for_url("**/bulk/delete")
    found["/bulk/delete"] = findings(axe, page)
    assert_none(found)


def test_the_sign_in_page_and_a_support_users_pages_have_none(open_page, signed_in, axe, pages, django_user_model):
    login = open_page()
    login.goto("/accounts/login/")
    assert findings(axe, login) == []

    user_in_role(django_user_model, "support", SUPPORT)
    page = signed_in("support")
    found = {}
    for path in pages[:7]:
        page.goto(path)
        found[path] = findings(axe, page)
    page.goto("/usage/")  # refused: the 403 page
    found["403"] = findings(axe, page)
    assert_none(found)
