"""What several views need from a request: who acts, and a form's errors in one sentence."""

from django.forms import BaseForm
from django.http import HttpRequest

from recordings.audit_trail import Actor, client_ip


def actor_of(request: HttpRequest) -> Actor:
    """Who acts in this request, as the services take it for the audit log and deletion batches."""
    return Actor(user=request.user, ip_address=client_ip(request), user_agent=request.headers.get("User-Agent", ""))


def form_errors(form: BaseForm) -> str:
    return " ".join(error for errors in form.errors.values() for error in errors)
