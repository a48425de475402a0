from django.apps import AppConfig


class RecordingsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "recordings"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in
        from django.db.models.signals import post_migrate, post_save

        from recordings.models import TranscriptionSlot, UsageSlot, UsageTotal
        from recordings.sessions import note_refresh_at_sign_in
        from recordings.time_zones import load_at_sign_in
        from recordings.usage_summary import after_load, after_migrate

        user_logged_in.connect(note_refresh_at_sign_in, dispatch_uid="note_refresh_at_sign_in")
        user_logged_in.connect(load_at_sign_in, dispatch_uid="load_time_zone_at_sign_in")
        post_migrate.connect(after_migrate, sender=self, dispatch_uid="usage_summary_after_migrate")
        for summary in (UsageTotal, UsageSlot, TranscriptionSlot):
            post_save.connect(after_load, sender=summary, dispatch_uid=f"usage_summary_after_load_{summary.__name__}")
