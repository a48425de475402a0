from typing import Any

from django.core.management.base import BaseCommand, CommandError

from recordings.auditing.integrity import check_audit_log


class Command(BaseCommand):
    help = (
        "Seal new events, walk the audit log's hash chain and check each event's HMAC, and list the events "
        "that were edited, removed, moved, inserted or backdated, and a head behind the last verified one "
        "(exit status 1). Redactions named by a later redaction event are reported, not failed. On "
        "success prints the chain's head (last event's seq, time and hash), also logged, to keep elsewhere."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        check = check_audit_log()
        if not check.ok:
            raise CommandError(f"the audit log's chain is broken: {check.problem}")
        redacted = f", {check.redacted} redacted (each named by a redaction)" if check.redacted else ""
        self.stdout.write(f"Audit log verified: {check.events} events{redacted}.")
        if check.head_seq is None or check.head_at is None:
            self.stdout.write("The log is empty.")
        else:
            self.stdout.write(f"Head: seq {check.head_seq} at {check.head_at.isoformat()} hash {check.head_hash}")
