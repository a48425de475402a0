"""Work that must not hold a request open: a thread of the web process.

Each job records its own progress in the database (a SyncRun, a DeletionBatch), so a page can
show it running and then its result, and a job cut short by a restart shows what it did.
"""

import logging
import threading

from django.conf import settings
from django.db import connections

logger = logging.getLogger(__name__)


def run_in_background(name, function, *args):
    if settings.RUN_JOBS_INLINE:  # the tests' setting: the job's effects are there when the call returns
        function(*args)
        return

    def run():
        try:
            function(*args)
        except Exception:
            logger.exception("background job %s failed", name)
        finally:
            connections.close_all()

    threading.Thread(target=run, name=name, daemon=True).start()
