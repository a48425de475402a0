"""Settings for the test suite: the production settings with a throwaway secret and fast hashing."""

import os
import tempfile

os.environ.setdefault("DJANGO_SECRET_KEY", "test-suite-secret-key-not-for-production")

from vobiz_dashboard.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405

# A file, not memory, so that tests can run manage.py in a child process against it; one per
# test run, so that runs side by side do not share it.
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": os.path.join(tempfile.gettempdir(), f"vobiz-dashboard-tests-{os.getpid()}.sqlite3")
    }

# Tasks run where they are enqueued, so their effects are there when the request returns; tests of
# the queue itself choose a real backend.
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend", "QUEUES": ["default"]}}
