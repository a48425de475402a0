"""Times in the viewer's zone: the browser's, remembered per user, TIME_ZONE until one is known.

The zone is kept on the user (ViewerPreference) and copied into the session at sign-in, so that
activating it costs no query on a request. The browser reports its zone from static/js/
time_zone.js; a zone the user picked on /preferences/ stays until they pick "follow my browser".
Zones are kept and compared by their current IANA name (Asia/Kolkata, whichever older alias such
as Asia/Calcutta the browser reports).
"""

import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache

from babel.core import get_global
from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from recordings.models import ViewerPreference

SESSION_KEY = "viewer_time_zone"


@lru_cache(maxsize=1)
def known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def is_known(name: str) -> bool:
    return name in known_zones()


def canonical(name: str) -> str:
    """The zone's current name: Asia/Kolkata for Asia/Calcutta (which Chromium still reports),
    Europe/Kyiv for Europe/Kiev, Etc/UTC for UTC. From Babel's CLDR table of aliases."""
    current = get_global("zone_aliases").get(name, name)
    return current if is_known(current) else name


def is_canonical(name: str) -> bool:
    return canonical(name) == name


def same_clock(first: str, second: str) -> bool:
    """Whether two zones show the same times this year: UTC and Etc/UTC, Asia/Kolkata and its
    old name Asia/Calcutta. A page needs showing again only when its times would change."""
    if first == second:
        return True
    now = timezone.now()
    instants = [now + timedelta(days=days) for days in range(0, 366, 30)]
    a, b = zoneinfo.ZoneInfo(first), zoneinfo.ZoneInfo(second)
    return all(instant.astimezone(a).utcoffset() == instant.astimezone(b).utcoffset() for instant in instants)


@dataclass(frozen=True)
class ViewerZone:
    kept: str  # the user's zone as kept: blank until one is known
    follow_browser: bool = True

    @property
    def name(self) -> str:
        """The zone the pages use, by its current name: the user's, or TIME_ZONE (as it is now)
        without one."""
        return canonical(self.kept if is_known(self.kept) else settings.TIME_ZONE)


class ZonedRequest(HttpRequest):
    """A request ViewerTimeZoneMiddleware has been through: what views that read the zone take."""

    viewer_zone: ViewerZone


def zone_of(user: User) -> ViewerZone:
    preference = ViewerPreference.objects.filter(user=user).first()
    return ViewerZone(preference.time_zone, preference.follow_browser) if preference else ViewerZone("")


def remember_in_session(session: SessionBase, zone: ViewerZone) -> None:
    session[SESSION_KEY] = [zone.kept, zone.follow_browser]


def from_session(session: SessionBase) -> ViewerZone | None:
    kept = session.get(SESSION_KEY)
    if not isinstance(kept, list) or len(kept) != 2:
        return None
    return ViewerZone(str(kept[0]), bool(kept[1]))


def set_time_zone(*, user: User, name: str, follow_browser: bool) -> ViewerZone:
    """Keep `name` as the user's zone (a known IANA name: checked by the caller), by its current name."""
    name = canonical(name)
    ViewerPreference.objects.update_or_create(user=user, defaults={"time_zone": name, "follow_browser": follow_browser})
    return ViewerZone(name, follow_browser)


def report_browser_zone(*, user: User, current: ViewerZone, name: str) -> ViewerZone:
    """The browser's zone becomes the user's, unless they chose another."""
    if not current.follow_browser or canonical(name) == current.kept:
        return current
    return set_time_zone(user=user, name=name, follow_browser=True)


def load_at_sign_in(sender: type[User], request: HttpRequest | None, user: User, **kwargs: object) -> None:
    """Connected to user_logged_in: the user's zone goes into the new session."""
    if request is not None and hasattr(request, "session"):
        remember_in_session(request.session, zone_of(user))


class ViewerTimeZoneMiddleware:
    """Activates the viewer's zone for the request: every page's times, and the dates a filter
    names, are then in it. Listed after AuthenticationMiddleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: ZonedRequest) -> HttpResponse:
        zone = None
        if request.user.is_authenticated:
            zone = from_session(request.session)
            if zone is None:  # a session from before zones were kept: read once, then kept
                zone = zone_of(request.user)
                remember_in_session(request.session, zone)
        request.viewer_zone = zone or ViewerZone("")
        timezone.activate(zoneinfo.ZoneInfo(request.viewer_zone.name))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


@dataclass(frozen=True)
class DayRange:
    label: str
    first: date
    last: date  # included


def quick_ranges(today: date | None = None) -> list[DayRange]:
    """Today, Yesterday and the last 7 days (today included), as days in the active zone."""
    today = today or timezone.localdate()
    yesterday = today - timedelta(days=1)
    return [
        DayRange("Today", today, today),
        DayRange("Yesterday", yesterday, yesterday),
        DayRange("Last 7 days", today - timedelta(days=6), today),
    ]


def start_of_local_day(day: date) -> datetime:
    """The first moment of `day` in the configured time zone: where "added from" a day starts."""
    return timezone.make_aware(datetime.combine(day, time.min))
