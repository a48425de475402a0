"""A fake Vobiz API over real HTTP, for the demo, the tests and the benchmarks.

It serves what the product uses of the API (see /work/shared/vobiz-api.md): listing, retrieving and
deleting recordings, a call's CDR, and the recordings' audio with Range support. Latency and faults
(errors, HTML proxy pages, rate limits, stalls, truncated bodies) can be switched on at run time, and
so can redirects of the audio (see `media_redirect`): to a second path on the same host, to an
outside storage host serving pre-signed URLs that need no credentials, or to any Location at all.
Two kinds of slowness Vobiz may show can be played too: a lag between a recording's callback and
the API knowing the recording (`api_lag`), and an outage (`start_outage`). The audio can also
trickle, at `audio_bandwidth` bytes a second, as over a slow link (for the audio benchmark).
"""

import hashlib
import hmac
import json
import math
import random
import re
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.message import Message
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from vobiz.fake import audio
from vobiz.fake.data import FakeAccount

FAULT_KINDS = (
    "500",
    "502",
    "503",
    "504",
    "429",
    "429-no-retry-after",
    "429-retry-after-date",
    "429-retry-after-malformed",
    "stall",
    "truncated",
    "not-json",
    "401",
)
DEFAULT_FAILURE_KINDS = ("500", "502", "503", "504", "429")
MAX_LIMIT = 100
DEFAULT_LIMIT = 20


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str
    query: dict[str, str]
    time: float
    fault: str | None  # the injected fault it got, if any
    headers: dict[str, str] = field(default_factory=dict)  # without X-Auth-Token


@dataclass(frozen=True)
class RawJson:
    """A value the fake writes into its JSON answers as `text`, verbatim: what json.dumps never
    writes but a real API may (1e400, -0, 1E+2, a number of 30 digits as it was typed), set with
    FakeAccount.set_override. The text is not checked: a test can send invalid JSON too."""

    text: str


@dataclass
class _Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] | None = None


@dataclass
class _Fault:
    kind: str
    remaining: int
    path_contains: str | None


class FakeVobizServer:
    """Serves `account` on host:port (port 0 picks a free one) once started.

    Attributes meant to be changed while it runs: latency, max_page_size, stall_seconds, rate_limit_retry_after,
    failure_rate, failure_kinds and media_redirect, and what the docs allow but do not promise:
    - arrivals_per_page: recordings added to the account after every list page served;
    - short_shape_every / recordings_shape_every: one object in N served in the docs' short shape
      (`recording_id`, `recording_url`, `duration`, `file_format`), one list page in N served in the
      older `recordings` shape; retrieving such a recording by id answers in the main shape;
    - cdr_account_segment: the casing of `Account` the CDR endpoint answers on (the CDR page's own
      example writes `account`); the other casing gets 401, as a wrong-case path does;
    - api_lag: seconds after a recording is added (its callback's moment) that the API still lists
      it not and answers 404 for it (the account's own `api_lag`; 0 sets it known at once).
    `start_outage` and `end_outage` make every API request answer 503 for a while.
    The account's own options cover the order (oldest_first), repeated ids and the clock.
    """

    def __init__(
        self,
        account: FakeAccount | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
        max_page_size: int = MAX_LIMIT,
        *,
        seed: int = 0,
        verbose: bool = False,
        api_lag: float = 0.0,
    ) -> None:
        self.account = account if account is not None else FakeAccount()
        self.account.api_lag = api_lag
        self.latency = latency
        self.max_page_size = max_page_size  # Vobiz may serve fewer than `limit` asks for
        self.stall_seconds = 3.0
        self.rate_limit_retry_after = 1.0  # the Retry-After of fault "429", in seconds
        self.failure_rate = 0.0
        self.failure_kinds = list(DEFAULT_FAILURE_KINDS)
        self.arrivals_per_page = 0
        self.short_shape_every = 0
        self.recordings_shape_every = 0
        self.cdr_account_segment = "Account"
        self.audio_bandwidth: float | None = None  # bytes a second the audio's bodies are sent at
        self.byte_order_mark = False  # JSON answers start with a UTF-8 byte order mark
        self._list_pages_served = 0
        # The longest whole list a page has shown (its total_count): with pages served in parallel,
        # more than one page's arrivals can come after the last page's snapshot, so what a sync
        # could have seen is the oldest this many recordings, not "all but the last arrivals".
        self.longest_list_served = 0
        self.verbose = verbose
        # None: the audio is served at its URL. "allowed": it redirects to /storage/ on this host
        # (credentials needed there too). "outside": to the outside storage (start_outside_storage).
        # Anything else is sent as the Location itself, hostile forms included.
        self.media_redirect: str | None = None
        self.outside_storage: OutsideStorage | None = None
        self.requests_log: list[LoggedRequest] = []
        self._faults: list[_Fault] = []
        self._outage_until = 0.0  # time.monotonic() when the outage ends (0: none)
        self._outage_retry_after: float | None = None
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._stopping = threading.Event()
        self._httpd = _HTTPServer((host, port), _Handler)
        self._httpd.fake = self
        self._thread: threading.Thread | None = None
        self.port: int = self._httpd.server_address[1]
        self.base_url = f"http://{host}:{self.port}/api/v1"
        self.account.media_base_url = f"http://{host}:{self.port}/media"

    # ---- lifecycle --------------------------------------------------------------------------

    def start(self) -> "FakeVobizServer":
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-vobiz:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes requests sleeping for latency or a stall
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
        self._httpd.server_close()
        if self.outside_storage is not None:
            self.outside_storage.stop()

    def start_outside_storage(self, host: str = "127.0.0.3", redirect_to: str | None = None) -> "OutsideStorage":
        """A storage host off Vobiz's (on `host`, any free port) serving the audio at pre-signed
        URLs; `redirect_to` makes it redirect there instead. Stopped with this server."""
        self.outside_storage = OutsideStorage(self, host, redirect_to).start()
        return self.outside_storage

    def __enter__(self) -> "FakeVobizServer":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ---- faults and log ---------------------------------------------------------------------

    def inject(self, kind: str, times: int = 1, path_contains: str | None = None) -> None:
        """Answer the next `times` matching requests with fault `kind` (see FAULT_KINDS).

        Without path_contains, API requests match (not audio downloads); with it, any request
        whose path and query contain that text (e.g. "offset=400").
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {FAULT_KINDS}")
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._faults.append(_Fault(kind, times, path_contains))

    @property
    def api_lag(self) -> float:
        return self.account.api_lag

    @api_lag.setter
    def api_lag(self, seconds: float) -> None:
        self.account.api_lag = seconds

    def start_outage(self, seconds: float | None = None, retry_after: float | None = None) -> None:
        """Answer every API request (not audio) 503 for `seconds`, or until `end_outage` when None;
        with a Retry-After header of `retry_after` seconds when given."""
        with self._lock:
            self._outage_until = math.inf if seconds is None else time.monotonic() + seconds
            self._outage_retry_after = retry_after

    def end_outage(self) -> None:
        with self._lock:
            self._outage_until = 0.0

    @property
    def in_outage(self) -> bool:
        return time.monotonic() < self._outage_until

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def reset_log(self) -> None:
        with self._lock:
            self.requests_log.clear()
            self.longest_list_served = 0

    def _take_fault(self, target: str) -> str | None:
        """`target` is the request's path and query, which path_contains is matched against."""
        is_api = target.startswith("/api/")
        with self._lock:
            if is_api and time.monotonic() < self._outage_until:
                return "outage"
            for fault in self._faults:
                if is_api if fault.path_contains is None else fault.path_contains in target:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return fault.kind
            if is_api and self.failure_rate and self._rng.random() < self.failure_rate:
                return self._rng.choice(self.failure_kinds)
        return None

    # ---- request handling -------------------------------------------------------------------

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        url = urlsplit(handler.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        fault = self._take_fault(handler.path)
        with self._lock:
            self.requests_log.append(
                LoggedRequest(handler.command, url.path, query, time.time(), fault, _logged_headers(handler.headers))
            )
        length = int(handler.headers.get("Content-Length") or 0)
        if length:
            handler.rfile.read(length)  # unread bodies would corrupt the next keep-alive request
        if self.latency:
            self._stopping.wait(self.latency)
        if fault == "stall":
            self._stopping.wait(self.stall_seconds)
        if fault == "outage":
            retry_after = self._outage_retry_after
            headers = {"Retry-After": str(math.ceil(retry_after))} if retry_after is not None else None
            response = _general_error(503, "SERVICE_UNAVAILABLE", "Service temporarily unavailable", headers)
        elif fault == "429":
            headers = {"Retry-After": str(math.ceil(self.rate_limit_retry_after))}
            response = _general_error(429, "RATE_LIMIT_EXCEEDED", "Too many requests", headers)
        elif fault in _FAULT_RESPONSES:
            response = _FAULT_RESPONSES[fault]()
        else:
            try:
                response = self._dispatch(handler.command, url.path, query, handler.headers)
            except Exception:  # a bug here, or an override json cannot encode: still answer
                traceback.print_exc()
                response = _general_error(500, "INTERNAL_ERROR", "An internal error occurred")
        if self.byte_order_mark and (response.headers or {}).get("Content-Type") == "application/json":
            response = _Response(response.status, b"\xef\xbb\xbf" + response.body, response.headers)
        bandwidth = self.audio_bandwidth if url.path.startswith(("/media/", "/storage/")) else None
        _send(handler, response, truncate=fault == "truncated", bandwidth=bandwidth)

    def _dispatch(self, method: str, path: str, query: dict[str, str], headers: Message) -> "_Response":
        for pattern, methods, view in _ROUTES:
            match = pattern.fullmatch(path)
            if match:
                break
        else:
            # Vobiz answers a wrong-case path with 401; treat every path we don't serve the same.
            return _general_error(401, "UNAUTHORIZED", "Authentication credentials were missing or invalid")
        if not self._authorised(headers, match["auth_id"]):
            return _general_error(401, "UNAUTHORIZED", "Authentication credentials were missing or invalid")
        if method not in methods:
            return _general_error(405, "METHOD_NOT_ALLOWED", f"{method} is not allowed here")
        args = {k: v for k, v in match.groupdict().items() if k != "auth_id"}
        return view(self, method, query, headers, **args)

    def _authorised(self, headers: Message, path_auth_id: str) -> bool:
        account = self.account
        return headers.get("X-Auth-ID") == account.auth_id == path_auth_id and hmac.compare_digest(
            (headers.get("X-Auth-Token") or "").encode(), account.auth_token.encode()
        )

    # ---- views ------------------------------------------------------------------------------

    def _list_recordings(self, method: str, query: dict[str, str], headers: Message) -> _Response:
        try:
            limit = _int_param(query, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
            offset = _int_param(query, "offset", 0, 0, None)
        except ValueError as error:
            return _json(400, {"api_id": _request_id(), "error": str(error)})
        served = min(limit, self.max_page_size)
        filters = {k: query[k] for k in ("call_uuid", "recording_type") if query.get(k)}
        objects, total = self.account.page(offset, served, **filters)
        with self._lock:
            self._list_pages_served += 1
            page_number = self._list_pages_served
            if not filters:
                self.longest_list_served = max(self.longest_list_served, total)
        if self.arrivals_per_page:
            self.account.add_recordings(self.arrivals_per_page)  # seen by the next page, not this one

        def link(at: int) -> str:  # Vobiz's links leave out the base URL's /api prefix
            params = urlencode({"limit": served, "offset": at, **filters})
            return f"/v1/Account/{self.account.auth_id}/Recording/?{params}"

        meta = {
            "limit": served,
            "next": link(offset + served) if offset + served < total else None,
            "offset": offset,
            "previous": link(max(0, offset - served)) if offset > 0 else None,
            "total_count": total,
        }
        if self.recordings_shape_every and page_number % self.recordings_shape_every == 0:
            return _json(200, {"api_id": _request_id(), "meta": meta, "recordings": [_older_shape(o) for o in objects]})
        if self.short_shape_every:
            objects = [_short_shape(o) if _shape_choice(o, self.short_shape_every) else o for o in objects]
        return _json(200, {"api_id": _request_id(), "meta": meta, "objects": objects})

    def _recording(self, method: str, query: dict[str, str], headers: Message, recording_id: str) -> _Response:
        if method == "DELETE":
            if self.account.delete(recording_id):
                return _Response(204)
        else:
            obj = self.account.get(recording_id)
            if obj is not None:
                return _json(200, {"api_id": _request_id(), **obj})
        return _json(404, {"api_id": _request_id(), "error": "Recording not found"})

    def _cdr(
        self, method: str, query: dict[str, str], headers: Message, call_uuid: str, account_segment: str
    ) -> _Response:
        if account_segment != self.cdr_account_segment:
            return _general_error(401, "UNAUTHORIZED", "Authentication credentials were missing or invalid")
        cdr = self.account.cdr(call_uuid)
        if cdr is None:
            return _json(
                404, {"success": False, "error": "CDR not found (unknown call, or the call is still in progress)"}
            )
        return _json(200, {"data": cdr, "success": True})

    def _media(
        self, method: str, query: dict[str, str], headers: Message, area: str, recording_id: str, extension: str
    ) -> _Response:
        spec = self.account.audio_spec(recording_id)
        if spec is None or spec[0] != extension:
            return _general_error(404, "NOT_FOUND", "Recording not found")
        redirect = self.media_redirect if area == "media" else None
        if redirect == "allowed":
            redirect = f"/storage/{self.account.auth_id}/Recording/{recording_id}.{extension}"
        elif redirect == "outside":
            assert self.outside_storage is not None, "start_outside_storage first"
            redirect = self.outside_storage.signed_url(recording_id, extension)
        if redirect is not None:
            return _Response(302, b"", {"Location": redirect})
        return _audio_response(audio.render(*spec), extension, headers.get("Range"))


class OutsideStorage:
    """A storage host off Vobiz's, as pre-signed URLs point at: no credentials needed, a valid
    unexpired signature is. Keeps the headers of every request it gets in `received`."""

    LIFETIME = 300

    def __init__(self, fake: FakeVobizServer, host: str, redirect_to: str | None = None) -> None:
        self.fake = fake
        self.redirect_to = redirect_to
        self.received: list[dict[str, str]] = []
        self._secret = uuid.uuid4().bytes
        self._httpd = _HTTPServer((host, 0), _StorageHandler)
        self._httpd.storage = self
        self.base_url = f"http://{host}:{self._httpd.server_address[1]}"

    def start(self) -> "OutsideStorage":
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _signature(self, path: str, expires: int) -> str:
        return hmac.new(self._secret, f"{path}|{expires}".encode(), hashlib.sha256).hexdigest()

    def signed_url(self, recording_id: str, extension: str) -> str:
        path = f"/bucket/{recording_id}.{extension}"
        expires = int(time.time()) + self.LIFETIME
        return f"{self.base_url}{path}?{urlencode({'expires': expires, 'signature': self._signature(path, expires)})}"

    def serve(self, handler: BaseHTTPRequestHandler) -> _Response:
        self.received.append(dict(handler.headers))
        url = urlsplit(handler.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if self.redirect_to:
            return _Response(302, b"", {"Location": self.redirect_to})
        match = re.fullmatch(r"/bucket/(?P<recording_id>[^/.]+)\.(?P<extension>mp3|wav)", url.path)
        expires = query.get("expires", "")
        signed = expires.isdigit() and hmac.compare_digest(
            query.get("signature", ""), self._signature(url.path, int(expires))
        )
        if not match or not signed or int(expires) < time.time():
            return _Response(403, b"<Error><Code>AccessDenied</Code></Error>", {"Content-Type": "application/xml"})
        spec = self.fake.account.audio_spec(match["recording_id"])
        if spec is None or spec[0] != match["extension"]:
            return _Response(404, b"<Error><Code>NoSuchKey</Code></Error>", {"Content-Type": "application/xml"})
        return _audio_response(audio.render(*spec), match["extension"], handler.headers.get("Range"))


class _StorageHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_HTTPServer"

    def do_GET(self) -> None:
        _send(self, self.server.storage.serve(self), bandwidth=self.server.storage.fake.audio_bandwidth)

    do_HEAD = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _audio_response(body: bytes, extension: str, range_header: str | None) -> _Response:
    """The audio, or the part a single `bytes=` range asks for."""
    base_headers = {"Content-Type": audio.CONTENT_TYPES[extension], "Accept-Ranges": "bytes"}
    try:
        span = _parse_range(range_header, len(body))
    except _RangeNotSatisfiable:
        return _Response(416, b"", {**base_headers, "Content-Range": f"bytes */{len(body)}"})
    if span is None:
        return _Response(200, body, base_headers)
    first, last = span
    return _Response(
        206, body[first : last + 1], {**base_headers, "Content-Range": f"bytes {first}-{last}/{len(body)}"}
    )


_ID = r"(?P<auth_id>[^/]+)"
_View = Callable[..., _Response]  # (server, method, query, headers, **the path's named groups)
_ROUTES: tuple[tuple[re.Pattern[str], tuple[str, ...], _View], ...] = (
    (re.compile(rf"/api/v1/Account/{_ID}/Recording/?"), ("GET",), FakeVobizServer._list_recordings),
    (
        re.compile(rf"/api/v1/Account/{_ID}/Recording/(?P<recording_id>[^/]+)/?"),
        ("GET", "DELETE"),
        FakeVobizServer._recording,
    ),
    (
        re.compile(rf"/api/v1/(?P<account_segment>Account|account)/{_ID}/cdr/(?P<call_uuid>[^/]+)/?"),
        ("GET",),
        FakeVobizServer._cdr,
    ),
    (
        re.compile(rf"/(?P<area>media|storage)/{_ID}/Recording/(?P<recording_id>[^/.]+)\.(?P<extension>mp3|wav)"),
        ("GET", "HEAD"),
        FakeVobizServer._media,
    ),
)


class _HTTPServer(ThreadingHTTPServer):  # one daemon thread per connection
    # What its handler serves: the API's server sets `fake`, the outside storage's `storage`.
    fake: FakeVobizServer
    storage: OutsideStorage

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # clients hanging up are normal
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as clients with a session expect
    disable_nagle_algorithm = True  # headers and body go out in two writes; don't wait 40 ms between
    server_version = "FakeVobiz/1.0"
    server: _HTTPServer

    def do_GET(self) -> None:
        self.server.fake._serve(self)

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.fake.verbose:
            super().log_message(format, *args)


def _send(
    handler: BaseHTTPRequestHandler, response: _Response, truncate: bool = False, bandwidth: float | None = None
) -> None:
    """Write the response; a truncated one promises the full Content-Length, sends half and hangs up.
    With a bandwidth (bytes a second), the body goes out in small writes paced to it."""
    body = response.body
    try:
        handler.send_response(response.status)
        for name, value in (response.headers or {}).items():
            handler.send_header(name, value)
        if response.status != 204:
            handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if handler.command == "HEAD":
            return
        if truncate:
            body = body[: len(body) // 2]
            handler.close_connection = True
        if bandwidth:
            _trickle(handler, body, bandwidth)
        else:
            handler.wfile.write(body)
    except ConnectionError:  # the client gave up (e.g. its read timeout during a stall)
        handler.close_connection = True


def _trickle(handler: BaseHTTPRequestHandler, body: bytes, bandwidth: float) -> None:
    """`body` written in pieces of a hundredth of a second's worth, each when the bandwidth allows."""
    piece = max(1, int(bandwidth / 100))
    started = time.monotonic()
    for offset in range(0, len(body), piece):
        time.sleep(max(0.0, started + offset / bandwidth - time.monotonic()))
        handler.wfile.write(body[offset : offset + piece])


def _logged_headers(headers: Message) -> dict[str, str]:
    """A request's headers for the log, which tests print: the token never goes in it."""
    return {name: value for name, value in headers.items() if name.lower() != "x-auth-token"}


def _json(status: int, payload: Any, headers: dict[str, str] | None = None) -> _Response:
    """A JSON answer, as Python's json writes it (NaN, Infinity, integers of any size, lone surrogates
    escaped), with each RawJson's text in its place."""
    raw: list[str] = []

    def placeholder(value: object) -> str:
        if not isinstance(value, RawJson):
            raise TypeError(f"{type(value).__name__} is not JSON")
        raw.append(value.text)
        return f"\x00raw{len(raw) - 1}\x00"

    text = json.dumps(payload, default=placeholder)
    for number, value in enumerate(raw):
        text = text.replace(f'"\\u0000raw{number}\\u0000"', value, 1)
    return _Response(status, text.encode(), {"Content-Type": "application/json", **(headers or {})})


def _shape_choice(obj: dict[str, Any], every: int) -> bool:
    """Whether this recording is one of the one in `every` served in an older shape (by its id,
    so the same recording keeps its shape from page to page)."""
    return int(hashlib.md5(str(obj.get("recording_id")).encode()).hexdigest()[:8], 16) % every == 0


def _short_shape(obj: dict[str, Any]) -> dict[str, Any]:
    seconds = round(float(obj["recording_duration_ms"]) / 1000)
    return {
        "recording_id": obj["recording_id"],
        "recording_url": obj["recording_url"],
        "duration": seconds,
        "file_format": obj["recording_format"],
    }


def _older_shape(obj: dict[str, Any]) -> dict[str, Any]:
    """The docs' `recordings` list item: call_id, url, duration in seconds, created_at in UTC."""
    created = datetime.fromisoformat(obj["add_time"]).astimezone(timezone.utc)
    return {
        "recording_id": obj["recording_id"],
        "call_id": obj["call_uuid"],
        "recording_type": obj["recording_type"],
        "url": obj["recording_url"],
        "download_path": obj["resource_uri"],
        "duration": round(float(obj["recording_duration_ms"]) / 1000),
        "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "file_size": int(float(obj["recording_duration_ms"])) * 16,
        "format": obj["recording_format"],
    }


def _request_id() -> str:
    return str(uuid.uuid4())


def _general_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> _Response:
    return _json(
        status,
        {
            "status": "error",
            "error": {"code": code, "message": message, "details": None},
            "timestamp": datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "requestId": _request_id(),
        },
        headers,
    )


def _proxy_page(status: int, reason: str) -> _Response:
    html = (
        f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    )
    return _Response(status, html.encode(), {"Content-Type": "text/html"})


_MAINTENANCE_PAGE = (
    b"<!DOCTYPE html><html><head><title>Vobiz</title></head>"
    b"<body><h1>We'll be right back</h1><p>Scheduled maintenance.</p></body></html>"
)

# Faults answered without touching the account ("stall" and "truncated" answer normally, late or cut).
_FAULT_RESPONSES: dict[str, Callable[[], _Response]] = {
    "500": lambda: _general_error(500, "INTERNAL_ERROR", "An internal error occurred"),
    "502": lambda: _proxy_page(502, "Bad Gateway"),
    "503": lambda: _general_error(503, "SERVICE_UNAVAILABLE", "Service temporarily unavailable"),
    "504": lambda: _proxy_page(504, "Gateway Time-out"),
    "429-no-retry-after": lambda: _general_error(429, "RATE_LIMIT_EXCEEDED", "Too many requests"),
    "429-retry-after-date": lambda: _general_error(
        429, "RATE_LIMIT_EXCEEDED", "Too many requests", {"Retry-After": formatdate(time.time() + 1, usegmt=True)}
    ),
    "429-retry-after-malformed": lambda: _general_error(
        429, "RATE_LIMIT_EXCEEDED", "Too many requests", {"Retry-After": "in a moment"}
    ),
    "not-json": lambda: _Response(200, _MAINTENANCE_PAGE, {"Content-Type": "text/html"}),
    "401": lambda: _general_error(401, "UNAUTHORIZED", "Authentication credentials were missing or invalid"),
}


def _int_param(query: dict[str, str], name: str, default: int, low: int, high: int | None) -> int:
    text = query.get(name)
    if text is None or text == "":
        return default
    value: int | None
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ValueError(f"{name} must be an integer {bounds}")
    return value


class _RangeNotSatisfiable(Exception):
    pass


def _parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) byte positions of a single `bytes=` range, or None to serve the whole body.

    Malformed or multi-part ranges are ignored, as RFC 9110 allows.
    """
    match = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", header or "")
    if not match or match[1] == match[2] == "":
        return None
    if match[1] == "":  # bytes=-n: the last n bytes
        suffix = int(match[2])
        if suffix == 0 or size == 0:
            raise _RangeNotSatisfiable
        return max(0, size - suffix), size - 1
    first = int(match[1])
    last = int(match[2]) if match[2] else size - 1
    if match[2] and last < first:
        return None
    if first >= size:
        raise _RangeNotSatisfiable
    return first, min(last, size - 1)
