"""Idle sign-out without a session write on every request."""

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

REFRESHED_AT = "_refreshed_at"  # when the session's expiry was last pushed back, in Unix seconds


def now_seconds() -> int:
    return int(timezone.now().timestamp())


class SessionRefreshMiddleware:
    """Pushes a session's expiry back at most every SESSION_REFRESH_SECONDS.

    SESSION_SAVE_EVERY_REQUEST would do it on every request: three queries a page (a transaction
    and its UPDATE). Marking the session modified makes SessionMiddleware save it, which sets its
    expiry to SESSION_COOKIE_AGE from now and sends the cookie again. A session then ends between
    SESSION_COOKIE_AGE minus the refresh interval and SESSION_COOKIE_AGE after its last request:
    early, never late. Listed right after SessionMiddleware, whose response phase runs after this one's.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        session = request.session
        now = now_seconds()
        due = now - session.get(REFRESHED_AT, 0) >= settings.SESSION_REFRESH_SECONDS
        # A session saved anyway (a message, say) is refreshed too: noting it costs nothing.
        if (due or session.modified) and not session.is_empty():
            session[REFRESHED_AT] = now
        return response


def note_refresh_at_sign_in(sender: type[User], request: HttpRequest | None, user: User, **kwargs: object) -> None:
    """Signing in saves a new session, expiring SESSION_COOKIE_AGE from now: the first refresh.

    Connected to user_logged_in (RecordingsConfig.ready), so that sessions made without a request
    through the middleware, as the test client's force_login makes them, need no write on their first.
    """
    if request is not None and hasattr(request, "session"):
        request.session[REFRESHED_AT] = now_seconds()
