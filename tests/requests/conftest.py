"""A fake account where one person, +91 98450 12345, is caller or callee of a few recordings, in the
forms Vobiz writes numbers in."""

import pytest

from recordings.audit_trail import Actor
from recordings.roles import AUDITORS
from tests.conftest import AUTH_ID, AUTH_TOKEN, user_in_role
from vobiz.fake.data import FakeAccount

PERSON = "+919845012345"
# Positions in the newest-first list, and how each writes the person's number.
PERSON_AS = {2: {"from_number": "+919845012345"}, 5: {"to_number": "919845012345"}, 9: {"from_number": "9845012345"}}


@pytest.fixture
def fake_account() -> FakeAccount:
    account = FakeAccount(count=30, seed=5, auth_id=AUTH_ID, auth_token=AUTH_TOKEN, max_audio_seconds=2)
    for position, fields in PERSON_AS.items():
        account.set_override(position, fields)
    return account


@pytest.fixture
def second_auditor(django_user_model):
    return user_in_role(django_user_model, "bea", AUDITORS)


@pytest.fixture
def actor(auditor_user) -> Actor:
    return Actor(user=auditor_user, ip_address="203.0.113.9", user_agent="Firefox/140")


@pytest.fixture
def approver(second_auditor) -> Actor:
    return Actor(user=second_auditor, ip_address="203.0.113.10", user_agent="Firefox/140")
