"""Streams a recording's audio from Vobiz through the dashboard.

Vobiz's audio URLs need the account's credentials, so a browser cannot fetch them itself. The
credentials go only to hosts in VOBIZ_MEDIA_HOSTS (and the API host). Each URL (the synced
`recording_url`, then each redirect's `Location`) is read once, by urllib3's `parse_url`, the parser
requests fetches with; text that parsers read differently (backslashes, a user name, whitespace,
control characters) is refused, and what is fetched is the URL rebuilt from the checked parts, at
the address that was checked, so a name that answers differently on a second look (DNS rebinding)
cannot move the connection. A URL leading into our own network is refused (server-side request
forgery), unless an operator named its host in VOBIZ_MEDIA_HOSTS.

A redirect off the allowed hosts (pre-signed storage URLs are common) is followed without the
credentials, only to public addresses, and never picks them up again.
"""

import fnmatch
import ipaddress
import socket
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from datetime import tzinfo
from urllib.parse import urljoin

import requests
from django.conf import settings
from django.utils import timezone
from urllib3.exceptions import DecodeError, LocationParseError, ProtocolError, ReadTimeoutError, SSLError
from urllib3.util import Url, parse_url

from recordings.models import Recording
from vobiz.client import MediaTarget, VobizClient, VobizError

MAX_REDIRECTS = 3
# The most one read of an upstream body takes: it returns what has arrived, up to this much. On
# loopback, reads of up to 256 KiB cost the proxy 10-12% less CPU per GiB than `iter_content` in
# 64 KiB chunks (0.88-0.90x, 60 rounds on each database); in shorter runs reads of up to 128 KiB
# did no better and of up to 1 MiB worse, probably as a chunk that large no longer stays in the
# CPU's cache from its read to its hash and write (docs/performance.md, "The audio hash").
READ_SIZE = 256 * 1024
CONTENT_TYPES = {"mp3": "audio/mpeg", "wav": "audio/wav"}
PASSED_HEADERS = ("Content-Length", "Content-Range", "Accept-Ranges", "Last-Modified", "ETag")
REDIRECT_STATUSES = (301, 302, 303, 307, 308)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Iterable[str]]


class MediaRefused(Exception):
    """The URL may not be fetched; the message says why in words a user can read."""


def allowed_host_patterns() -> list[str]:
    api_host = parse_url(settings.VOBIZ_API_URL).host or ""
    return [*settings.VOBIZ_MEDIA_HOSTS, api_host]


def host_is_allowed(host: str) -> bool:
    return any(pattern and fnmatch.fnmatchcase(host, pattern.lower()) for pattern in allowed_host_patterns())


def host_is_named_exactly(host: str) -> bool:
    """Listed as itself, not only through a wildcard: an operator chose to trust its address."""
    return host in {pattern.lower() for pattern in allowed_host_patterns()}


def is_public(address: IPAddress) -> bool:
    """May a fetch connect here without an operator having named the host? Tests stand loopback
    addresses in for public hosts by replacing this; production refuses everything internal."""
    return address.is_global and not address.is_multicast


def resolve_host(host: str, port: int) -> list[str]:
    # str(): the address is text already, but the sockaddr's type also allows the (int, bytes) that a
    # Python built without IPv6 support gives.
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


def bad_character(url: str) -> str | None:
    """What in `url` parsers disagree about, in words, or None."""
    for character in url:
        if character == "\\":
            return "a backslash"
        if character.isspace():
            return "whitespace"
        if unicodedata.category(character) == "Cc":
            return "a control character"
    return None


def parse(url: str) -> Url:
    """`url` read by urllib3 and rebuilt from its checked parts; MediaRefused if it is not plain."""
    if not isinstance(url, str) or not url:
        raise MediaRefused("the recording has no audio address")
    if why := bad_character(url):
        raise MediaRefused(f"the recording's address holds {why}")
    try:
        parts = parse_url(url)
    except LocationParseError:
        raise MediaRefused("the recording's address is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.host:
        raise MediaRefused("the recording's address is not an http(s) URL")
    if parts.auth is not None:
        raise MediaRefused("the recording's address carries a user name or password")
    if parts.port == 0:
        raise MediaRefused("the recording's address is not a valid URL")
    return Url(scheme=parts.scheme, host=parts.host, port=parts.port, path=parts.path or "/", query=parts.query)


def check(
    url: str, *, redirected: bool = False, with_credentials: bool = True, resolve: Resolver = resolve_host
) -> MediaTarget:
    """Where and how `url` may be fetched; MediaRefused if it may not.

    A recording's own URL must be on the allowed hosts; a redirect may leave them, without the
    credentials. `with_credentials` False (a redirect chain that has left them) keeps them off.
    """
    parts = parse(url)
    assert parts.host is not None, "parse refuses a URL without a host"
    host = parts.host.strip("[]").rstrip(".")
    allowed = host_is_allowed(host)
    if not allowed and not redirected:
        raise MediaRefused(f"the recording's host {host} is not one of VOBIZ_MEDIA_HOSTS")
    try:
        addresses = [
            ipaddress.ip_address(address.split("%")[0])
            for address in resolve(host, parts.port or (443 if parts.scheme == "https" else 80))
        ]
    except (OSError, UnicodeError, ValueError):
        raise MediaRefused(f"the recording's host {host} cannot be found") from None
    if not addresses:
        raise MediaRefused(f"the recording's host {host} cannot be found")
    with_credentials = with_credentials and allowed
    trusted = with_credentials and host_is_named_exactly(host)
    if not trusted and not all(is_public(address) for address in addresses):
        raise MediaRefused(f"the recording's host {host} is inside the network")
    return MediaTarget(url=parts, address=str(addresses[0]), with_credentials=with_credentials)


def redirect_target(target: MediaTarget, location: str | None) -> MediaTarget:
    if not location:
        raise VobizError("Vobiz redirected the audio without saying where")
    if why := bad_character(location):
        raise MediaRefused(f"the audio was redirected to an address holding {why}")
    # urljoin only resolves a relative Location; the result is read again by `check`, so what is
    # fetched is still what urllib3 reads and the checks passed.
    return check(urljoin(target.url.url, location), redirected=True, with_credentials=target.with_credentials)


def open_audio(target: MediaTarget, range_header: str | None = None, *, client: VobizClient) -> requests.Response:
    """The upstream response for a URL that passed `check`, following redirects only to URLs that
    pass it too.

    Raises MediaRefused or VobizError. The caller closes the response, and the client.
    """
    for _ in range(MAX_REDIRECTS + 1):
        response = client.open_media(target, range_header)
        if response.status_code not in REDIRECT_STATUSES:
            return response
        response.close()
        target = redirect_target(target, response.headers.get("Location"))
    raise VobizError("Vobiz redirected the audio too many times")


def upstream_body(upstream: requests.Response) -> Iterator[bytes]:
    """An upstream body as it arrives, decoded as `iter_content` decodes it, and its errors raised
    as the same requests exceptions.

    Each chunk is what one read of the connection returned, up to READ_SIZE: the first bytes go on
    as soon as they come, not once a fixed chunk has filled (`iter_content(n)` on a body of known
    length waits for n bytes, and on a slow link 64 KiB take a second), and a fast link gives
    fewer, larger chunks.

    `read1` leaves a chunked body's framing to http.client, which unframes it only when its
    Transfer-Encoding is exactly `chunked`; urllib3 (and so `iter_content`) also takes `chunked `,
    `gzip, chunked` or a second Transfer-Encoding line for chunked. Such a body is read as
    `iter_content` reads it, by urllib3's own parser, a whole chunk of the framing (up to READ_SIZE)
    at a time, rather than passed on with its framing in it.
    """
    raw = upstream.raw
    # http.client's test: the first Transfer-Encoding line, whole, is `chunked` in any case.
    unframed_by_http_client = [value.lower() for value in raw.headers.getlist("Transfer-Encoding")[:1]] == ["chunked"]
    try:
        if raw.chunked and not unframed_by_http_client:
            yield from raw.stream(READ_SIZE, decode_content=True)
        else:
            while chunk := raw.read1(READ_SIZE, decode_content=True):
                yield chunk
    except ProtocolError as exc:  # e.g. the connection closed before the announced length
        raise requests.exceptions.ChunkedEncodingError(exc) from exc
    except DecodeError as exc:
        raise requests.exceptions.ContentDecodingError(exc) from exc
    except ReadTimeoutError as exc:
        raise requests.exceptions.ConnectionError(exc) from exc
    except SSLError as exc:
        raise requests.exceptions.SSLError(exc) from exc


class StreamBody:
    """Chunks as a response's streaming content, with what to do when the response is done:
    Django closes it, read to the end or not, and it closes the chunks and calls each closer."""

    def __init__(self, chunks: Iterable[bytes], *closers: Callable[[], None]) -> None:
        self.chunks = chunks
        self.closers = closers

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.chunks)

    def close(self) -> None:
        try:
            if hasattr(self.chunks, "close"):
                self.chunks.close()
        finally:
            for closer in self.closers:
                closer()


def content_type(recording: Recording, upstream_type: str | None) -> str:
    upstream_type = (upstream_type or "").split(";")[0].strip().lower()
    if upstream_type.startswith("audio/"):
        return upstream_type
    return CONTENT_TYPES.get(recording.recording_format.lower(), "application/octet-stream")


def download_name(recording: Recording, zone: tzinfo | None = None) -> str:
    """e.g. 2026-05-07_0945+0530_919876543210_to_918012345678_aabbccdd.mp3: the time in `zone`,
    else the active one (the viewer's)."""
    parts = []
    if recording.add_time:
        parts.append(timezone.localtime(recording.add_time, zone).strftime("%Y-%m-%d_%H%M%z"))
    for number in (recording.from_number, recording.to_number):
        digits = "".join(c for c in number if c.isdigit())
        if digits:
            parts.append(digits)
    if len(parts) == 3:
        parts.insert(2, "to")
    parts.append("".join(c for c in recording.recording_id if c.isalnum() or c in "-_")[:40])
    extension = recording.recording_format.lower() if recording.recording_format.lower() in CONTENT_TYPES else "audio"
    return "_".join(parts) + "." + extension
