"""Writing retention rules: what waits for a second auditor, the grace period, stale versions, the log."""

from datetime import timedelta

import pytest
from django.utils import timezone

from recordings.models import AuditEvent, RetentionRule
from recordings.retention import rules
from recordings.retention.matching import Definition, clean_query
from recordings.retention.rules import RuleRefused, widens
from tests.retention.conftest import actor

pytestmark = pytest.mark.django_db
DELETE, KEEP, RETIRED = "delete", "keep", "retired"


def define(action=DELETE, query="", age=90):
    return Definition(action=action, filter_query=query, age_days=age)


@pytest.mark.parametrize(
    ("old", "new", "wider"),
    [
        (None, define(), True),  # a new delete rule
        (None, define(KEEP), False),  # a new keep rule keeps more
        (define(age=90), define(age=30), True),
        (define(age=90), define(age=120), False),
        (define(query="recording_type=call"), define(query="recording_type=trunk"), True),
        (define(query="recording_type=call"), define(query="recording_type=call&recording_format=wav"), True),
        (define(KEEP), define(DELETE), True),
        (define(DELETE), define(KEEP), False),
        (define(DELETE), define(RETIRED), False),
        (define(KEEP, age=365), define(KEEP, age=30), True),  # keeps less
        (define(KEEP, age=365), define(KEEP, age=3650), False),
        (define(KEEP), define(RETIRED), True),  # keeps nothing any more
    ],
)
def test_a_change_waits_when_it_could_delete_more(old, new, wider):
    assert widens(old, new) is wider


def test_a_new_delete_rule_waits_and_its_author_cannot_approve_it(auditor_user, second_auditor):
    rule = rules.create_rule(
        actor=actor(auditor_user), name="Trunk", action=DELETE, filter_query="recording_type=trunk", age_days=90
    )
    assert rule.awaits_since is not None and rule.effective is None
    with pytest.raises(RuleRefused, match="second auditor"):
        rules.approve_rule(actor=actor(auditor_user), rule_id=rule.pk, version=rule.version)
    rule = rules.approve_rule(actor=actor(second_auditor), rule_id=rule.pk, version=rule.version)
    assert rule.effective == {"action": DELETE, "filter_query": "recording_type=trunk", "age_days": 90}
    assert rule.approved_by == second_auditor and rule.awaits_since is None


def test_an_approval_names_the_version_it_saw(auditor_user, second_auditor):
    rule = rules.create_rule(actor=actor(auditor_user), name="Old", action=DELETE, filter_query="", age_days=365)
    seen = rule.version
    rules.change_rule(
        actor=actor(auditor_user),
        rule_id=rule.pk,
        version=seen,
        name="Old",
        action=DELETE,
        filter_query="",
        age_days=7,
    )
    with pytest.raises(RuleRefused, match="changed since"):
        rules.approve_rule(actor=actor(second_auditor), rule_id=rule.pk, version=seen)
    assert RetentionRule.objects.get(pk=rule.pk).effective is None


def test_a_narrowing_change_applies_at_once_and_a_widening_one_keeps_the_approved_definition(
    auditor_user, second_auditor
):
    rule = rules.create_rule(actor=actor(auditor_user), name="Old", action=DELETE, filter_query="", age_days=90)
    rule = rules.approve_rule(actor=actor(second_auditor), rule_id=rule.pk, version=rule.version)
    rule = rules.change_rule(
        actor=actor(auditor_user),
        rule_id=rule.pk,
        version=rule.version,
        name="Older",
        action=DELETE,
        filter_query="",
        age_days=180,
    )
    assert rule.awaits_since is None and rule.effective["age_days"] == 180
    rule = rules.change_rule(
        actor=actor(auditor_user),
        rule_id=rule.pk,
        version=rule.version,
        name="Older",
        action=DELETE,
        filter_query="",
        age_days=30,
    )
    assert rule.awaits_since is not None
    assert rule.effective["age_days"] == 180  # what runs meanwhile


def test_a_waiting_change_applies_unopposed_after_the_grace_period(auditor_user, settings):
    settings.RETENTION_GRACE_DAYS = 7
    rule = rules.create_rule(actor=actor(auditor_user), name="Old", action=DELETE, filter_query="", age_days=90)
    assert rules.apply_unopposed(now=timezone.now() + timedelta(days=6)) == []
    assert rules.apply_unopposed(now=timezone.now() + timedelta(days=7, minutes=1)) == [rule]
    rule.refresh_from_db()
    assert rule.effective is not None and rule.approved_by is None
    event = AuditEvent.objects.filter(action=AuditEvent.Action.RULE_APPROVE).get()
    assert "no second auditor approved it within 7 days" in event.note


def test_every_change_is_logged_with_the_definition_before_and_after(auditor_user, second_auditor):
    rule = rules.create_rule(
        actor=actor(auditor_user), name="Trunk", action=DELETE, filter_query="recording_type=trunk", age_days=90
    )
    rules.change_rule(
        actor=actor(auditor_user),
        rule_id=rule.pk,
        version=rule.version,
        name="Trunk",
        action=DELETE,
        filter_query="recording_type=call",
        age_days=60,
    )
    rules.set_paused(actor=actor(second_auditor), paused=True)
    notes = list(AuditEvent.objects.order_by("id").values_list("action", "username", "note"))
    assert [(action, user) for action, user, _ in notes] == [
        ("rule_set", "ada"),
        ("rule_set", "ada"),
        ("retention_pause", "bea"),
    ]
    assert "Before: none. After: delete older than 90 days, view “recording_type=trunk”" in notes[0][2]
    assert (
        "Before: delete older than 90 days, view “recording_type=trunk”. "
        "After: delete older than 60 days, view “recording_type=call”." in notes[1][2]
    )


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("q=98765", "Search can't be part of a rule"),
        ("transcript=card", "Words said can't be part of a rule"),
        ("recording_typ=trunk", "no filter named “recording_typ”"),
        ("recording_type=fax", "not valid"),
        ("min_duration=abc", "not valid"),
    ],
)
def test_a_rule_refuses_a_view_it_cannot_stand_on(auditor_user, query, problem):
    with pytest.raises(RuleRefused, match=problem):
        rules.create_rule(actor=actor(auditor_user), name="x", action=DELETE, filter_query=query, age_days=9)
    assert not RetentionRule.objects.exists()


def test_a_rule_keeps_only_the_filters_of_the_view():
    assert clean_query("?recording_type=trunk&sort=-add_time&page=3&per_page=100&from_number=&q=") == (
        "recording_type=trunk"
    )


def test_renaming_a_rule_does_not_let_its_author_approve_it(auditor_user, second_auditor):
    rule = rules.create_rule(actor=actor(auditor_user), name="Old", action=DELETE, filter_query="", age_days=90)
    rule = rules.change_rule(
        actor=actor(second_auditor),
        rule_id=rule.pk,
        version=rule.version,
        name="Old calls",
        action=DELETE,
        filter_query="",
        age_days=90,
    )
    assert rule.awaits_since is not None and rule.defined_by == auditor_user
    with pytest.raises(RuleRefused, match="you wrote this definition"):
        rules.approve_rule(actor=actor(auditor_user), rule_id=rule.pk, version=rule.version)
    assert rules.approve_rule(actor=actor(second_auditor), rule_id=rule.pk, version=rule.version).effective
