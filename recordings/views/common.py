"""What several views need from a request: who acts, and a form's errors in one sentence."""

from django.contrib.auth.models import User
from django.forms import BaseForm

from recordings.audit_trail import Actor, client_ip
from recordings.time_zones import ZonedRequest


class SignedInRequest(ZonedRequest):
    """The request a view behind listener_required or auditor_required takes: no anonymous user
    has their permissions, so its user is signed in."""

    user: User


def actor_of(request: SignedInRequest) -> Actor:
    """Who acts in this request, as the services take it for the audit log and deletion batches."""
    return Actor(user=request.user, ip_address=client_ip(request), user_agent=request.headers.get("User-Agent", ""))


def form_errors(*forms: BaseForm) -> str:
    """Every error of the forms, in one sentence for a message."""
    return " ".join(str(error) for form in forms for errors in form.errors.values() for error in errors)
