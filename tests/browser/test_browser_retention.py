"""A delete rule's page in a real Chromium: what its dry run spares arrives after the page."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from recordings.audit_trail import Actor
from recordings.auditing.holds import place_hold
from recordings.models import Recording
from recordings.retention.rules import create_rule
from recordings.roles import AUDITORS
from tests.conftest import user_in_role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def fact(page, term):
    return page.locator(f"dl.facts dt:text-is('{term}') + dd")


def test_a_dry_run_shows_what_it_spares_once_counted(signed_in, synced, django_user_model):
    auditor = user_in_role(django_user_model, "auditor", AUDITORS)
    actor = Actor(user=auditor, ip_address=None, user_agent="")
    wav = Recording.objects.filter(recording_format="wav").order_by("pk")
    wav.update(add_time=timezone.now() - timedelta(days=200))
    place_hold(actor=actor, reason="dispute", recording=wav.first())
    rule = create_rule(actor=actor, name="Old wav", action="delete", filter_query="recording_format=wav", age_days=90)
    page = signed_in("auditor")

    page.goto(f"/retention/{rule.pk}/")
    expect(fact(page, "To delete")).to_have_text(str(wav.count() - 1))
    expect(fact(page, "On legal hold")).to_have_text("1: kept, not deleted")
    expect(fact(page, "Kept by keep rules")).to_have_text("0")
    expect(page.locator("[data-spared]")).to_have_count(0)


def test_a_session_ended_before_the_spared_figures_leaves_them_not_counted(signed_in, synced, django_user_model):
    """Its fetch follows the redirect to the sign-in page: that page is never put in the list."""
    auditor = user_in_role(django_user_model, "auditor", AUDITORS)
    Recording.objects.filter(recording_format="wav").update(add_time=timezone.now() - timedelta(days=200))
    rule = create_rule(
        actor=Actor(user=auditor, ip_address=None, user_agent=""),
        name="Old wav",
        action="delete",
        filter_query="recording_format=wav",
        age_days=90,
    )
    page = signed_in("auditor")
    page.route(
        f"**/retention/{rule.pk}/spared?*",
        lambda route: route.fulfill(status=302, headers={"Location": f"/accounts/login/?next=/retention/{rule.pk}/"}),
    )

    page.goto(f"/retention/{rule.pk}/")
    expect(fact(page, "On legal hold")).to_have_text("not counted: look at the page again")
    expect(fact(page, "Kept by keep rules")).to_have_text("not counted: look at the page again")
    dry_run = page.locator("section[aria-labelledby=dry-run-heading] dl.facts")
    expect(dry_run.locator("form, input[type=password]")).to_have_count(0)
