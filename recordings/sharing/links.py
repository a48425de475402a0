"""Links to one recording for someone without an account.

A link holds a random 128-bit token. Only its SHA-256 is stored, so the token is shown once, when
the link is made, and a copy of the database opens nothing. A link works until it expires (at most
MAX_HOURS after it was made) or is revoked; a recording deleted at Vobiz, or gone from it, is shared
by none of its links. Every open of the page and every playback is in the audit log, with the link
and the visitor's address.
"""

import hashlib
import ipaddress
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.core.cache import cache
from django.db.models import F, QuerySet
from django.utils import timezone

from recordings.audit_trail import Action, Actor, record_for, serves_first_byte
from recordings.models import Recording, ShareLink

DEFAULT_HOURS = 24
MAX_HOURS = 7 * 24
TOKEN_BYTES = 16  # 128 bits
# What token_urlsafe(TOKEN_BYTES) writes: anything else is refused before a query.
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{22}")

# Requests (the page and its audio's Range requests) one link, or one address, may make in a window.
PER_LINK = (300, timedelta(hours=1))
PER_ADDRESS = (120, timedelta(minutes=10))


class ShareRefused(Exception):
    """The link cannot be made; the message says why."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class MadeLink:
    link: ShareLink
    token: str  # shown once: only its hash is kept


def make_link(
    *, actor: Actor, recording: Recording, note: str, hours: int, start_ms: int | None, show_numbers: bool
) -> MadeLink:
    """A new link to `recording`, for whom `note` says, working for `hours` (1 to MAX_HOURS)."""
    if recording.deleted_at or recording.gone_at:
        raise ShareRefused("a recording deleted at Vobiz, or gone from it, cannot be shared")
    if not 1 <= hours <= MAX_HOURS:
        raise ShareRefused(f"a link works for 1 to {MAX_HOURS} hours")
    note = note.strip()
    if not note:
        raise ShareRefused("say for whom the link is")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    now = timezone.now()
    link = ShareLink.objects.create(
        recording=recording,
        token_hash=token_hash(token),
        note=note,
        start_ms=start_ms,
        show_numbers=show_numbers,
        created_by=actor.user,
        username=actor.username,
        created_at=now,
        expires_at=now + timedelta(hours=hours),
    )
    record_for(actor, Action.SHARE, recording, note=described(link))
    return MadeLink(link, token)


def revoke(*, actor: Actor, link: ShareLink) -> bool:
    """Stop `link` working from now on; False if it was revoked already."""
    revoked = ShareLink.objects.filter(pk=link.pk, revoked_at=None).update(
        revoked_at=timezone.now(), revoked_by=actor.user
    )
    if revoked:
        link.refresh_from_db()
        record_for(actor, Action.SHARE_REVOKE, link.recording, note=described(link))
    return bool(revoked)


def described(link: ShareLink) -> str:
    """How the audit log names a link."""
    return f"Share link {link.pk} for {link.note}"


# ---------- selectors ----------


def working_link(token: str) -> ShareLink | None:
    """The link `token` opens, if it still works: known, not expired, not revoked, and its
    recording still at Vobiz. None otherwise, whichever the reason."""
    if not TOKEN_SHAPE.fullmatch(token):
        return None
    return (
        ShareLink.objects.select_related("recording")
        .filter(
            token_hash=token_hash(token),
            revoked_at=None,
            expires_at__gt=timezone.now(),
            recording__deleted_at=None,
            recording__gone_at=None,
        )
        .first()
    )


def links_of(recording: Recording) -> QuerySet[ShareLink]:
    """The recording's links, newest first, working or not."""
    return recording.share_links.all()


# ---------- what visitors do ----------


def record_open(*, link: ShareLink, actor: Actor) -> None:
    """A visitor opened the link's page."""
    ShareLink.objects.filter(pk=link.pk).update(opens=F("opens") + 1, last_opened_at=timezone.now())
    record_for(actor, Action.SHARE_OPEN, link.recording, note=described(link))


def record_play(*, link: ShareLink, actor: Actor, status: int, content_range: str | None) -> bool:
    """A visitor's player fetched audio: logged when the response hands out the file's start (once
    per playback, not per Range request of it). Whether it was logged."""
    if not serves_first_byte(status, content_range):
        return False
    record_for(actor, Action.SHARE_PLAY, link.recording, note=described(link))
    return True


def within_limits(*, token: str, address: str | None) -> bool:
    """Whether one more request for `token` from `address` is within the limits per link and per
    address; counted either way, in Django's cache (fixed windows)."""
    return counted(f"share:link:{token_hash(token)}", *PER_LINK) & counted(
        f"share:address:{address_key(address)}", *PER_ADDRESS
    )


def address_key(address: str | None) -> str:
    """What the per-address limit counts by: an IPv4 address, or an IPv6 address's /64 network (one
    subscriber's, whose interface half they choose freely)."""
    try:
        parsed = ipaddress.ip_address(address or "")
    except ValueError:
        return address or ""
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network((parsed, 64), strict=False))
    return str(parsed)


def counted(key: str, limit: int, window: timedelta) -> bool:
    """Count one more under `key` in the current window; whether the count is still within `limit`."""
    seconds = int(window.total_seconds())
    key = f"{key}:{int(timezone.now().timestamp()) // seconds}"
    cache.add(key, 0, seconds)
    try:
        return cache.incr(key) <= limit
    except ValueError:  # expired between add and incr: a new window
        cache.add(key, 1, seconds)
        return True
