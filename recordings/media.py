"""Streams a recording's audio from Vobiz through the dashboard.

Vobiz's audio URLs need the account's credentials, so a browser cannot fetch them itself. The
credentials go only to hosts in VOBIZ_MEDIA_HOSTS (and the API host); a URL on any other host, not
http(s), or leading into our own network is refused, so a synced `recording_url` cannot be used to
reach internal services (server-side request forgery).
"""

import fnmatch
import ipaddress
import socket
from urllib.parse import urljoin, urlsplit

from django.conf import settings

from .vobiz import INTERACTIVE, VobizError, client_from_settings

MAX_REDIRECTS = 3
CHUNK_SIZE = 64 * 1024
CONTENT_TYPES = {"mp3": "audio/mpeg", "wav": "audio/wav"}
PASSED_HEADERS = ("Content-Length", "Content-Range", "Accept-Ranges", "Last-Modified", "ETag")


class MediaRefused(Exception):
    """The URL may not be fetched; the message says why in words a user can read."""


def allowed_host_patterns():
    return [*settings.VOBIZ_MEDIA_HOSTS, urlsplit(settings.VOBIZ_API_URL).hostname or ""]


def host_is_allowed(host):
    host = (host or "").lower().rstrip(".")
    return any(pattern and fnmatch.fnmatchcase(host, pattern.lower()) for pattern in allowed_host_patterns())


def host_is_named_exactly(host):
    """Listed as itself, not only through a wildcard: an operator chose to trust its address."""
    return host.lower() in {pattern.lower() for pattern in allowed_host_patterns()}


def is_internal(address):
    ip = ipaddress.ip_address(address)
    return not ip.is_global or ip.is_multicast


def check_url(url):
    """MediaRefused unless the credentials may be sent to `url`."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise MediaRefused("the recording's address is not an http(s) URL")
    host = parts.hostname
    if not host_is_allowed(host):
        raise MediaRefused(f"the recording's host {host} is not one of VOBIZ_MEDIA_HOSTS")
    if host_is_named_exactly(host):
        return
    # Matched through a wildcard: make sure its name does not lead into our own network.
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, parts.port or 443, type=socket.SOCK_STREAM)}
    except (socket.gaierror, UnicodeError):
        raise MediaRefused(f"the recording's host {host} cannot be found") from None
    if any(is_internal(address) for address in addresses):
        raise MediaRefused(f"the recording's host {host} is inside the network")


def open_audio(url, range_header=None, client=None):
    """The upstream response for `url`, following redirects only to URLs that pass the checks.

    Raises MediaRefused or VobizError. The caller closes the response.
    """
    for _ in range(MAX_REDIRECTS + 1):
        check_url(url)
        client = client or client_from_settings(INTERACTIVE)
        response = client.open_media(url, range_header)
        if response.status_code not in (301, 302, 303, 307, 308):
            return response
        location = response.headers.get("Location")
        response.close()
        if not location:
            raise VobizError("Vobiz redirected the audio without saying where", status=response.status_code)
        url = urljoin(url, location)
    raise VobizError("Vobiz redirected the audio too many times")


def content_type(recording, upstream_type):
    upstream_type = (upstream_type or "").split(";")[0].strip().lower()
    if upstream_type.startswith("audio/"):
        return upstream_type
    return CONTENT_TYPES.get(recording.recording_format.lower(), "application/octet-stream")


def download_name(recording):
    """e.g. 2026-05-07_0945_919876543210_to_918012345678_aabbccdd.mp3"""
    parts = []
    if recording.add_time:
        parts.append(recording.add_time.strftime("%Y-%m-%d_%H%M"))
    for number in (recording.from_number, recording.to_number):
        digits = "".join(c for c in number if c.isdigit())
        if digits:
            parts.append(digits)
    if len(parts) == 3:
        parts.insert(2, "to")
    parts.append("".join(c for c in recording.recording_id if c.isalnum() or c in "-_")[:40])
    extension = recording.recording_format.lower() if recording.recording_format.lower() in CONTENT_TYPES else "audio"
    return "_".join(parts) + "." + extension
