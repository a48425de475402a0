"""Who may do what: anonymous visitors, support staff and auditors against every page and action."""

import pytest
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.utils import timezone

from recordings.auth import RoleBackend
from recordings.models import DeletionBatch, LegalHold
from recordings.roles import AUDITORS, SUPPORT, role_group
from tests.conftest import user_in_role
from tests.factories import make_recording

pytestmark = pytest.mark.django_db

ANONYMOUS, SUPPORT_ROLE, AUDITOR_ROLE = "anonymous", "support", "auditor"
LOGIN = "login"  # a redirect to the sign-in page


@pytest.fixture
def world(settings, django_user_model):
    settings.VOBIZ_AUTH_ID = ""  # no Vobiz here: pages that would call it say so instead
    recording = make_recording()
    auditor = user_in_role(django_user_model, "auditor", AUDITORS)
    hold = LegalHold.objects.create(call_uuid="held-call", reason="r", placed_by=auditor, placed_at=timezone.now())
    batch = DeletionBatch.objects.create(
        requested_by=auditor, requested_at=timezone.now(), reason="r", finished_at=timezone.now()
    )
    return {"id": recording.recording_id, "call": recording.call_uuid, "hold": hold.pk, "batch": batch.pk}


# (method, url, data, expected for anonymous, support, auditor)
MATRIX = [
    ("get", "/", {}, LOGIN, 200, 200),
    ("get", "/?_export=csv", {}, LOGIN, 200, 200),
    ("get", "/recordings/{id}/", {}, LOGIN, 200, 200),
    ("get", "/recordings/{id}/audio", {}, LOGIN, 403, 403),  # 403: its URL is not on an allowed host
    ("get", "/calls/{call}/", {}, LOGIN, 200, 200),
    ("post", "/calls/{call}/", {}, LOGIN, 302, 302),
    ("get", "/sync/", {}, LOGIN, 200, 200),
    ("get", "/audit/", {}, LOGIN, 403, 200),
    ("get", "/audit/?_export=csv", {}, LOGIN, 403, 200),
    ("get", "/usage/", {}, LOGIN, 403, 200),
    ("post", "/recordings/{id}/review", {"state": "reviewed"}, LOGIN, 403, 302),
    ("post", "/recordings/{id}/hold", {"reason": "x"}, LOGIN, 403, 302),
    ("post", "/calls/{call}/hold", {"reason": "x"}, LOGIN, 403, 302),
    ("post", "/holds/{hold}/lift", {"reason": "x"}, LOGIN, 403, 302),
    ("get", "/recordings/{id}/delete", {}, LOGIN, 403, 200),
    ("post", "/recordings/{id}/delete", {}, LOGIN, 403, 200),  # no reason: the form asks for one
    ("post", "/bulk/delete", {"selected": "{id}"}, LOGIN, 403, 200),
    ("get", "/deletions/{batch}/", {}, LOGIN, 403, 200),
    ("post", "/deletions/{batch}/retry", {}, LOGIN, 403, 302),
    ("post", "/recordings/download.zip", {}, LOGIN, 403, 302),  # nothing selected: back to the list
    ("post", "/sync/now", {}, LOGIN, 403, 302),
    ("get", "/retention/", {}, LOGIN, 403, 200),
    ("post", "/retention/", {"name": "x", "action": "delete", "age_days": "9"}, LOGIN, 403, 302),
    ("post", "/retention/pause", {"paused": "1"}, LOGIN, 403, 302),
    ("get", "/admin/", {}, 302, 302, 302),  # the admin has its own sign-in, for staff
    ("get", "/accounts/login/", {}, 200, 200, 200),
]


ROLES = [ANONYMOUS, SUPPORT_ROLE, AUDITOR_ROLE]
CASES = [
    (role, method, url, data, outcomes[i]) for method, url, data, *outcomes in MATRIX for i, role in enumerate(ROLES)
]


@pytest.mark.parametrize("role, method, url, data, want", CASES, ids=[f"{r} {m} {u}" for r, m, u, _, _ in CASES])
def test_permission_matrix(client, django_user_model, world, role, method, url, data, want):
    if role != ANONYMOUS:
        group = SUPPORT if role == SUPPORT_ROLE else AUDITORS
        client.force_login(user_in_role(django_user_model, f"{role}-user", group))
    data = {key: value.format(**world) for key, value in data.items()}
    response = getattr(client, method)(url.format(**world), data)
    if want == LOGIN:
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")
    else:
        assert response.status_code == want


def test_a_user_without_a_role_sees_nothing(client, django_user_model, world):
    client.force_login(django_user_model.objects.create_user("nobody", password="pw"))
    response = client.get("/")
    assert response.status_code == 403
    assert b"no role yet" in response.content
    assert client.get(f"/recordings/{world['id']}/").status_code == 403


def test_support_never_sees_audit_controls(support_client, world):
    page = support_client.get(f"/recordings/{world['id']}/").content.decode()
    assert "History" not in page and "Legal hold" not in page and "Delete at Vobiz" not in page
    listing = support_client.get("/").content.decode()
    assert 'name="selected"' not in listing and "Audit log" not in listing


@pytest.mark.parametrize(
    "groups, own, extra, queries",
    [
        ([], [], {}, 1),
        ([SUPPORT], [], {}, 1),
        ([SUPPORT, AUDITORS], [], {}, 1),
        ([SUPPORT], ["audit", "view_recording"], {}, 1),
        ([], ["listen"], {}, 1),
        ([AUDITORS], [], {"is_active": False}, 0),
        ([], [], {"is_superuser": True}, 2),  # ModelBackend's own: User.has_perm never asks for superusers
    ],
)
def test_role_backend_reads_the_same_permissions_as_django_in_one_query(
    django_user_model, django_assert_num_queries, groups, own, extra, queries
):
    user = django_user_model.objects.create_user("mixed", password="pw", **extra)
    user.groups.add(*(role_group(name) for name in groups))
    user.user_permissions.add(*Permission.objects.filter(codename__in=own))
    expected = ModelBackend().get_all_permissions(django_user_model.objects.get(pk=user.pk))
    fresh = django_user_model.objects.get(pk=user.pk)
    with django_assert_num_queries(queries):
        assert RoleBackend().get_all_permissions(fresh) == expected
        assert RoleBackend().get_all_permissions(fresh) == expected  # cached for the request
