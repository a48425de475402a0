"""The lock table holds every lock (syncs, deletion batches, the scheduler, tasks), not the sync's
alone: renamed, its rows kept."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("recordings", "0018_task_paths_moved")]

    operations = [migrations.RenameModel(old_name="SyncLock", new_name="Lock")]
