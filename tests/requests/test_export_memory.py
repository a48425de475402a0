"""The person's copy streams in bounded memory, however many recordings it holds."""

import tracemalloc
import zipfile

import pytest
from django.utils import timezone

from recordings.audit_trail import Actor
from recordings.requests import services
from tests.conftest import AUTH_ID, AUTH_TOKEN
from vobiz.fake.data import FakeAccount

pytestmark = pytest.mark.django_db
PERSONS_RECORDINGS = 100


@pytest.fixture
def fake_account() -> FakeAccount:
    account = FakeAccount(count=120, seed=8, auth_id=AUTH_ID, auth_token=AUTH_TOKEN, max_audio_seconds=10)
    for position in range(PERSONS_RECORDINGS):
        account.set_override(position, {"from_number": "+919845012345"})
    return account


def test_the_copy_of_100_recordings_streams_in_bounded_memory(synced, auditor_client, auditor_user, tmp_path):
    made = services.open_request(
        actor=Actor(user=auditor_user, ip_address=None, user_agent=""),
        number="9845012345",
        kind="access",
        reference="T",
        due_on=timezone.localdate(),
        time_zone="UTC",
    )
    # The fake server (in this process) renders each audio file once: first, before memory is measured.
    b"".join(auditor_client.post(f"/requests/{made.pk}/copy.zip").streaming_content)
    tracemalloc.start()
    try:
        response = auditor_client.post(f"/requests/{made.pk}/copy.zip")
        total = 0
        with open(tmp_path / "copy.zip", "wb") as out:
            for chunk in response.streaming_content:
                out.write(chunk)
                total += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(
        f"\ncopy of {PERSONS_RECORDINGS}: {total / 2**20:.1f} MiB streamed, peak traced memory {peak / 2**20:.2f} MiB"
    )
    with zipfile.ZipFile(tmp_path / "copy.zip") as archive:
        assert sum(name.startswith("audio/") for name in archive.namelist()) == PERSONS_RECORDINGS
    assert total > 4 * 2**20
    # A chunk at a time, and a little of each recording's metadata (at most export.MAX_RECORDINGS).
    assert peak < total / 6 and peak < 2 * 2**20
