"""What several views need from a request: who acts, and a form's errors in one sentence."""

from recordings.auditing.trail import client_ip


def requester(request) -> dict:
    """Who acts, as the services take it for an audit entry or a deletion batch."""
    return {
        "user": request.user,
        "ip_address": client_ip(request),
        "user_agent": request.headers.get("User-Agent", ""),
    }


def form_errors(form) -> str:
    return " ".join(error for errors in form.errors.values() for error in errors)
