from datetime import timedelta

import pytest
from django.utils import timezone

from recordings.audit_trail import Actor
from recordings.models import Recording
from recordings.roles import AUDITORS
from tests.conftest import AUTH_ID, AUTH_TOKEN, user_in_role
from vobiz.fake.data import FakeAccount


@pytest.fixture
def fake_account():
    return FakeAccount(count=40, seed=3, auth_id=AUTH_ID, auth_token=AUTH_TOKEN)


@pytest.fixture
def second_auditor(django_user_model):
    return user_in_role(django_user_model, "bea", AUDITORS)


def actor(user):
    return Actor(user=user, ip_address="127.0.0.1", user_agent="tests")


def age(recordings, days):
    """Make these recordings `days` old."""
    Recording.objects.filter(pk__in=[r.pk for r in recordings]).update(add_time=timezone.now() - timedelta(days=days))


def deletes(server):
    return sorted(r.path.rstrip("/").rsplit("/", 1)[-1] for r in server.requests_log if r.method == "DELETE")
