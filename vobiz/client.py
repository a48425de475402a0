"""A small client for the parts of the Vobiz REST API the dashboard uses.

Every call retries what retrying can fix (connection errors, timeouts, 429, 5xx, bodies that are
not JSON or are cut short) with exponential backoff and jitter, and raises `VobizError` for what it
cannot. Error messages carry Vobiz's own words and never the auth token.
"""

import datetime
import email.utils
import json
import logging
import random
import re
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict, cast
from urllib.parse import quote

import orjson
import requests
from urllib3.util import Url, parse_url

if TYPE_CHECKING:
    from requests.adapters import _HostParams, _PoolKwargs

logger = logging.getLogger(__name__)

MAX_PAGE_SIZE = 100
RETRY_STATUSES = {429, 500, 502, 503, 504}
MAX_RETRY_AFTER = 60.0


class VobizError(Exception):
    """A request that failed for good. `status` is the HTTP status, or None if none came."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class VobizAuthError(VobizError):
    """401/403: the credentials are wrong or lack permission."""


class VobizNotFound(VobizError):
    """404: the object does not exist (or, for a CDR, the call is still in progress)."""

    def __init__(self, message: str, status: int | None = 404, from_cdr_endpoint: bool = False) -> None:
        super().__init__(message, status)
        # Answered in the CDR endpoint's own shape ({"success": false, ...}): the path was right.
        self.from_cdr_endpoint = from_cdr_endpoint


class VobizBadId(VobizError):
    """An id that could not be a single path segment: refused before any request is made."""


class VobizUnavailable(VobizError):
    """Vobiz could not be reached or kept failing after every retry. `retry_after`: the seconds its
    last answer asked to wait (Retry-After, as asked: work that schedules its own next try honours
    it in full), or None."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, status)
        self.retry_after = retry_after


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None, status: int | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after
        self.status = status


@dataclass(frozen=True)
class MediaTarget:
    """An audio URL that passed `recordings.media.check`: fetch `url` by connecting to `address`."""

    url: Url  # rebuilt from the checked parts; its host is the name TLS checks
    address: str
    with_credentials: bool


class PinnedAddressAdapter(requests.adapters.HTTPAdapter):
    """Connects to the address in the URL, while TLS names (SNI) and checks the certificate
    against the host in the Host header: a media URL is fetched at the address its host was
    checked at, so a name that answers differently on a second look cannot move the connection."""

    def build_connection_pool_key_attributes(
        self,
        request: requests.PreparedRequest,
        verify: bool | str,
        cert: str | tuple[str, str] | None = None,
    ) -> "tuple[_HostParams, _PoolKwargs]":
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        if host_params["scheme"] == "https":
            name = (parse_url("//" + request.headers["Host"]).host or "").strip("[]")
            # urllib3 takes more keys than the stub's TypedDict lists.
            tls_kwargs = cast(dict[str, Any], pool_kwargs)
            tls_kwargs["server_hostname"] = tls_kwargs["assert_hostname"] = name
        return host_params, pool_kwargs


@dataclass
class RecordingPage:
    objects: list[Any]  # as Vobiz sent them: anything may be odd
    offset: int
    total_count: int | None
    has_next: bool


def error_message(response: requests.Response) -> str:
    """Vobiz's own message from any of its error shapes, or a short fallback."""
    try:
        body = response.json()
    except ValueError:
        body = None
    message = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            message = error.get("message") or error.get("code")
        elif error:
            message = str(error)
        message = message or body.get("message") or body.get("detail")
    message = " ".join(str(message or response.reason or "no reason given").split())[:300]
    return f"Vobiz answered {response.status_code}: {message}"


def _cdr_shaped(response: requests.Response) -> bool:
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("success") is False


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date); None when it is
    missing or malformed, and the usual backoff applies."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if parsed.tzinfo is None:  # RFC 9110 dates are GMT
            parsed = parsed.replace(tzinfo=datetime.timezone.utc)
        seconds = parsed.timestamp() - time.time()
    if seconds != seconds or seconds == float("inf"):  # NaN, or never
        return None
    return max(seconds, 0.0)


# What no id of Vobiz's may hold, since ids become path segments (here, and in the dashboard's own
# URLs): a slash or backslash, a control character (Unicode's Cc), or a leading dot, which makes
# "." and ".." that HTTP libraries and servers resolve as the path's own segments.
UNSAFE_ID = re.compile(r"\A\.|[/\\\x00-\x1f\x7f-\x9f]")
# decode_json's check for a run of 19 digits, as short as an integer orjson reads as a float gets
# (-2**63 - 1): every digit made "0", then one `in`. 46 µs for a page of 100 recordings (76 kB),
# where re.search(rb"\d{19}") took 970 µs and orjson.loads 126 µs (2026-12-07, load 3-5).
DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"0" * 9)
LONG_DIGIT_RUN = b"0" * 19


def is_safe_id(value: str) -> bool:
    """Whether `value` can be an id: not empty, and none of UNSAFE_ID."""
    return bool(value) and not UNSAFE_ID.search(value)


def id_segment(value: str, name: str) -> str:
    """`value` as one path segment of a request; VobizBadId when it cannot be one."""
    if not is_safe_id(value):
        raise VobizBadId(
            f"The {name} {value[:40]!r} was refused: an empty id, or one with a slash, a backslash, a"
            " control character or a leading dot, is never sent to Vobiz."
        )
    return quote(value, safe="")


# The CDR page's example writes `account` in lower case, its text `Account`: the casing that last
# answered, per API base and account, so that only the first CDR request of a process tries both.
_cdr_account_segment: dict[tuple[str, str], str] = {}
_cdr_account_segment_lock = threading.Lock()
ACCOUNT_SEGMENTS = ("Account", "account")


class VobizClient:
    def __init__(
        self,
        auth_id: str,
        auth_token: str,
        base_url: str = "https://api.vobiz.ai/api/v1",
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        max_attempts: int = 6,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        pool_size: int = 16,
    ) -> None:
        if not auth_id or not auth_token:
            raise VobizError("VOBIZ_AUTH_ID and VOBIZ_AUTH_TOKEN must both be set.")
        self.auth_id = auth_id
        self.base_url = base_url.rstrip("/")
        self.timeout = (connect_timeout, read_timeout)
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.session = requests.Session()
        # Retries are ours (they must also cover bad bodies); the adapter only pools connections.
        adapter = requests.adapters.HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.auth_headers = {"X-Auth-ID": auth_id, "X-Auth-Token": auth_token}
        self.session.headers.update({"Content-Type": "application/json", "Accept": "application/json"})
        self.media_session = requests.Session()
        # A proxy from the environment would connect by name, not to the address that was checked.
        self.media_session.trust_env = False
        media_adapter = PinnedAddressAdapter(pool_connections=pool_size, pool_maxsize=pool_size)
        self.media_session.mount("http://", media_adapter)
        self.media_session.mount("https://", media_adapter)

    def close(self) -> None:
        self.session.close()
        self.media_session.close()

    def __enter__(self) -> "VobizClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the endpoints ------------------------------------------------------------------------

    def list_recordings(
        self,
        offset: int = 0,
        limit: int = MAX_PAGE_SIZE,
        call_uuid: str | None = None,
        recording_type: str | None = None,
    ) -> RecordingPage:
        params: dict[str, str | int] = {"limit": min(limit, MAX_PAGE_SIZE), "offset": offset}
        if call_uuid:
            params["call_uuid"] = call_uuid
        if recording_type:
            params["recording_type"] = recording_type
        body = self._request_json("GET", self._account_path("Recording"), params=params)
        return parse_recording_page(body, offset)

    def get_recording(self, recording_id: str) -> Any:
        """One recording object, without the response's `api_id` (new on every answer, it is
        no part of the recording)."""
        body = self._request_json("GET", self._account_path("Recording", recording_id))
        if isinstance(body, dict) and isinstance(body.get("objects"), list):
            if not body["objects"]:
                raise VobizNotFound("Vobiz answered with no recording.", status=404)
            body = body["objects"][0]
        if isinstance(body, dict):
            body.pop("api_id", None)
        return body

    def delete_recording(self, recording_id: str) -> None:
        self._request("DELETE", self._account_path("Recording", recording_id))

    def get_cdr(self, call_uuid: str) -> dict[str, Any]:
        """The call's CDR. On a 401 or 404 from one casing of the account segment, the other is
        tried once; the one that answers is remembered. A 404 in the CDR endpoint's own shape
        (an unknown call, or one still in progress) shows the casing was right."""
        key = (self.base_url, self.auth_id)
        preferred = _cdr_account_segment.get(key)
        segments = [preferred] if preferred else list(ACCOUNT_SEGMENTS)
        urls = {segment: self._account_path("cdr", call_uuid, segment=segment, slash=False) for segment in segments}
        first_error: VobizError | None = None
        for segment, url in urls.items():
            try:
                body = self._request_json("GET", url)
            except (VobizAuthError, VobizNotFound) as exc:
                if isinstance(exc, VobizNotFound) and exc.from_cdr_endpoint:
                    self._remember_cdr_segment(key, segment)  # the call is unknown, not the path
                    raise
                if exc.status not in (401, 404):
                    raise
                first_error = first_error or exc
                continue
            self._remember_cdr_segment(key, segment)
            data = body.get("data") if isinstance(body, dict) else None
            if not isinstance(data, dict):
                raise VobizError("Vobiz answered with a call record of an unknown shape.")
            return data
        assert first_error is not None
        raise first_error

    def open_media(self, target: MediaTarget, range_header: str | None = None) -> requests.Response:
        """A streaming response for an audio file at a URL `recordings.media.check` passed, with
        the credentials when it says so."""
        url = target.url
        if not url.netloc:
            raise VobizError("The recording's URL names no host.")  # media.check refuses these first
        # Identity: the bytes as stored, whose length is the file's, for the hash of a whole body.
        headers = {"Accept": "*/*", "Accept-Encoding": "identity", "Host": url.netloc}
        if target.with_credentials:
            headers.update(self.auth_headers)
        if range_header:
            headers["Range"] = range_header
        address = f"[{target.address}]" if ":" in target.address else target.address
        # Redirects are returned, not followed: each Location must pass the checks first.
        return self._request(
            "GET",
            url._replace(host=address).url,
            session=self.media_session,
            headers=headers,
            stream=True,
            allow_redirects=False,
            ok_statuses=(200, 206, 301, 302, 303, 307, 308, 416),
        )

    # -- plumbing -----------------------------------------------------------------------------

    @staticmethod
    def _remember_cdr_segment(key: tuple[str, str], segment: str) -> None:
        with _cdr_account_segment_lock:
            _cdr_account_segment[key] = segment

    def _account_path(
        self, resource: str, object_id: str | None = None, *, segment: str = "Account", slash: bool = True
    ) -> str:
        """Every request's URL: the account's `resource`, or one object of it, each id checked
        (VobizBadId before any request is made) and quoted as one segment."""
        parts = [self.base_url, segment, id_segment(self.auth_id, "auth id"), resource]
        if object_id is not None:
            parts.append(id_segment(object_id, f"{resource} id"))
        return "/".join(parts) + ("/" if slash else "")

    def _request_json(self, method: str, url: str, **kwargs: Any) -> Any:
        return self._request(method, url, parse_json=True, **kwargs)

    def _request(
        self,
        method: str,
        url: str,
        *,
        parse_json: bool = False,
        ok_statuses: tuple[int, ...] | None = None,
        headers: dict[str, str] | None = None,
        stream: bool = False,
        session: requests.Session | None = None,
        **kwargs: Any,
    ) -> Any:
        headers = headers or self.auth_headers
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._attempt(method, url, parse_json, ok_statuses, headers, stream, session, **kwargs)
            except _Retryable as retry:
                if attempt >= self.max_attempts:
                    raise VobizUnavailable(
                        f"Vobiz did not answer usably after {attempt} attempt{'s' if attempt > 1 else ''}: {retry}",
                        status=retry.status,
                        retry_after=retry.retry_after,
                    ) from None
                delay = retry.retry_after
                if delay is not None:
                    delay = min(delay, MAX_RETRY_AFTER)  # sleep no longer in-process; the error says what was asked
                else:
                    delay = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))
                    delay = random.uniform(delay / 2, delay)  # jitter spreads out parallel workers
                logger.warning("Vobiz %s %s: %s; retrying in %.1fs", method, _path_of(url), retry, delay)
                time.sleep(delay)

    def _attempt(
        self,
        method: str,
        url: str,
        parse_json: bool,
        ok_statuses: tuple[int, ...] | None,
        headers: dict[str, str],
        stream: bool,
        session: requests.Session | None,
        **kwargs: Any,
    ) -> Any:
        session = session or self.session
        try:
            response = session.request(method, url, headers=headers, timeout=self.timeout, stream=stream, **kwargs)
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
            raise _Retryable(type(exc).__name__) from None
        except requests.RequestException as exc:
            raise VobizError(f"Request to Vobiz failed: {type(exc).__name__}") from None

        status = response.status_code
        if status in RETRY_STATUSES:
            response.close()
            # Vobiz may say when to come back when rate limiting or down for maintenance (RFC 9110).
            retry_after = parse_retry_after(response.headers.get("Retry-After")) if status in (429, 503) else None
            raise _Retryable(f"HTTP {status}", retry_after=retry_after, status=status)
        if ok_statuses and status in ok_statuses:
            return response
        if status >= 400:
            message = error_message(response)
            if status in (401, 403):
                raise VobizAuthError(message, status=status)
            if status == 404:
                raise VobizNotFound(message, status=status, from_cdr_endpoint=_cdr_shaped(response))
            raise VobizError(message, status=status)
        if not parse_json:
            return response
        try:
            return decode_json(response.content)
        except (requests.RequestException, ValueError):
            # Cut-short bodies surface here too: either way the answer is unusable, try again.
            raise _Retryable("the answer was not complete JSON") from None


def decode_json(body: bytes) -> Any:
    """A JSON body, decoded by orjson: a page of 100 recordings in a third of the standard
    library's time. orjson reads an integer past 64 bits as a float, without an error: a body with
    a run of 19 digits (as short as such an integer gets, -2**63 - 1) is read by the standard
    library, exactly. So is what orjson refuses and the standard library reads (NaN or Infinity,
    1e400, a byte order mark, lone surrogates); what neither reads raises ValueError."""
    if LONG_DIGIT_RUN not in body.translate(DIGITS_AS_ZERO):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    return json.loads(body)


class Patience(TypedDict, total=False):
    """How long a client waits and how often it tries again: keyword arguments of `VobizClient`."""

    connect_timeout: float
    read_timeout: float
    max_attempts: int
    backoff_base: float
    backoff_max: float


# How patient a client is: a sync can wait; a person on a page cannot.
BACKGROUND: Patience = {}
INTERACTIVE: Patience = {"connect_timeout": 3, "read_timeout": 20, "max_attempts": 2, "backoff_base": 0.2}
# One try, for work that schedules its own next try rather than sleep in a worker: short timeouts,
# so that a Vobiz that hangs holds a worker for seconds, and the next try comes soon.
ONE_TRY: Patience = {"connect_timeout": 3, "read_timeout": 5, "max_attempts": 1}


def parse_recording_page(body: Any, offset: int) -> RecordingPage:
    if not isinstance(body, dict):
        raise VobizError("Vobiz answered the recording list with something that is not an object.")
    objects = body.get("objects")
    if objects is None:
        objects = body.get("recordings")  # an older documented shape
    if not isinstance(objects, list):
        raise VobizError("Vobiz answered the recording list without a list of recordings.")
    meta = body.get("meta")
    if not isinstance(meta, dict):
        meta = {}
    total_sent = meta.get("total_count", body.get("total_count"))
    total: int | None
    try:
        total = int(total_sent) if total_sent is not None else None
    except (TypeError, ValueError):
        total = None
    if "next" in meta:
        has_next = bool(meta["next"])
    elif total is not None:
        has_next = offset + len(objects) < total
    else:
        has_next = bool(objects)
    return RecordingPage(objects=objects, offset=offset, total_count=total, has_next=has_next)


def _path_of(url: str) -> str:
    return url.split("?", 1)[0]
