"""An upstream audio body read as it arrives: what has come goes on, whatever a chunk could hold."""

import gzip
import hashlib
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator

import pytest
import requests

from recordings.auditing.audio_hashes import hashed
from recordings.browsing.media import READ_SIZE, upstream_body

HOLD_SECONDS = 5  # the longest the upstream holds back the rest of a body


class Upstream:
    """An HTTP server on loopback answering one request with `head` and then each of `steps` in
    turn: bytes to send, or an event to wait for (at most HOLD_SECONDS); then it hangs up."""

    def __init__(self, head: bytes, steps: list[bytes | threading.Event]) -> None:
        self.head = head
        self.steps = steps
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/audio.wav"
        self.thread = threading.Thread(target=self.answer, daemon=True)
        self.thread.start()

    def answer(self) -> None:
        connection, _ = self.listener.accept()
        with connection:
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            request = b""
            while b"\r\n\r\n" not in request:
                request += connection.recv(4096)
            connection.sendall(self.head)
            for step in self.steps:
                if isinstance(step, threading.Event):
                    step.wait(HOLD_SECONDS)
                else:
                    connection.sendall(step)

    def close(self) -> None:
        self.thread.join(HOLD_SECONDS * 2)
        self.listener.close()


def head(length: int, *extra: str) -> bytes:
    return head_with(f"Content-Length: {length}", *extra)


def head_with(*extra: str) -> bytes:
    lines = ["HTTP/1.1 200 OK", "Content-Type: audio/wav", *extra, "", ""]
    return "\r\n".join(lines).encode()


def chunked(body: bytes, size: int = 1000) -> bytes:
    """`body` in the chunked framing, `size` bytes a chunk."""
    pieces = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"


Step = bytes | threading.Event


@pytest.fixture
def upstream() -> Iterator[Callable[[bytes, list[Step]], Upstream]]:
    servers: list[Upstream] = []

    def start(head: bytes, steps: list[Step]) -> Upstream:
        servers.append(Upstream(head, steps))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def fetched(server: Upstream) -> requests.Response:
    return requests.get(server.url, stream=True, timeout=HOLD_SECONDS * 2, headers={"Accept-Encoding": "identity"})


def hashed_body(response: requests.Response, noted: list[tuple[str, int]]) -> Iterator[bytes]:
    """The body as the player streams it, each whole file's hash and size appended to `noted`."""
    return hashed(
        upstream_body(response),
        status=response.status_code,
        headers=response.headers,
        on_whole=lambda sha256, size: noted.append((sha256, size)),
    )


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_the_first_bytes_go_on_before_a_chunk_could_fill(upstream, framing):
    body = bytes(range(256)) * 1200  # 300 KiB: more than one read could take
    release = threading.Event()
    if framing == "length":
        server = upstream(head(len(body)), [body[:1000], release, body[1000:]])
    else:  # one chunk of the framing, larger than a read, of which the first 1000 bytes come at once
        framed = chunked(body, len(body))
        cut = framed.index(b"\r\n") + 2 + 1000
        server = upstream(head_with("Transfer-Encoding: chunked"), [framed[:cut], release, framed[cut:]])
    with fetched(server) as response:
        chunks = upstream_body(response)
        started = time.monotonic()
        first = next(chunks)
        # Not kept waiting for the rest, which the upstream holds back until told (or for 5 s).
        assert time.monotonic() - started < HOLD_SECONDS / 2
        release.set()
        rest = b"".join(chunks)
    assert 0 < len(first) <= 1000 and first + rest == body


def test_a_body_sent_in_odd_pieces_comes_whole_in_chunks_no_larger_than_a_read(upstream):
    body = hashlib.sha256(b"seed").digest() * (3 * READ_SIZE // 32 + 5)  # three reads' worth and more
    cuts = [0, 1, 4096, 4097, READ_SIZE + 4097, 2 * READ_SIZE + 1, len(body)]
    pieces: list[Step] = [body[a:b] for a, b in zip(cuts, cuts[1:])]
    server = upstream(head(len(body)), pieces)
    noted = []
    with fetched(server) as response:
        chunks = list(hashed_body(response, noted))
    assert b"".join(chunks) == body
    assert all(0 < len(chunk) <= READ_SIZE for chunk in chunks)
    assert noted == [(hashlib.sha256(body).hexdigest(), len(body))]


def test_a_body_cut_short_fails_as_iter_content_fails_and_is_not_hashed(upstream):
    server = upstream(head(1000), [b"x" * 500])
    noted = []
    with fetched(server) as response:
        chunks = hashed_body(response, noted)
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            b"".join(chunks)
    assert noted == []


def test_an_encoded_body_is_decoded_as_iter_content_decodes_it(upstream):
    audio = b"RIFF" + bytes(range(256)) * 400
    encoded = gzip.compress(audio)
    servers = [upstream(head(len(encoded), "Content-Encoding: gzip"), [encoded]) for _ in range(2)]
    with fetched(servers[0]) as response:
        ours = b"".join(upstream_body(response))
    with fetched(servers[1]) as response:
        theirs = b"".join(response.iter_content(64 * 1024))
    assert ours == theirs == audio


AUDIO = bytes(range(256)) * (3 * READ_SIZE // 256 + 7)  # more than three reads' worth


def both_ways(upstream: Callable[[bytes, list[Step]], Upstream], answer: bytes) -> tuple[list[bytes], bytes]:
    """The same answer read by `upstream_body` (its chunks) and by `iter_content`."""
    with fetched(upstream(answer, [])) as response:
        ours = list(upstream_body(response))
    with fetched(upstream(answer, [])) as response:
        theirs = b"".join(response.iter_content(64 * 1024))
    return ours, theirs


@pytest.mark.parametrize(
    "encoding, encode",
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("gzip", lambda audio: gzip.compress(audio[:1000]) + gzip.compress(audio[1000:])),  # two members
    ],
)
@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_an_encoded_body_larger_than_a_read_is_decoded_as_iter_content_decodes_it(upstream, encoding, encode, framing):
    encoded = encode(AUDIO)
    if framing == "length":
        answer = head(len(encoded), f"Content-Encoding: {encoding}") + encoded
    else:
        answer = head_with(f"Content-Encoding: {encoding}", "Transfer-Encoding: chunked") + chunked(encoded)
    ours, theirs = both_ways(upstream, answer)
    assert b"".join(ours) == theirs == AUDIO
    assert all(0 < len(chunk) <= READ_SIZE for chunk in ours)


# http.client unframes a chunked body only when its (first) Transfer-Encoding is `chunked`; urllib3,
# whose parser `iter_content` uses, when `chunked` is any of the listed codings.
ODD_SPELLINGS = [
    ["Transfer-Encoding: chunked "],
    ["Transfer-Encoding: identity, chunked"],
    ["Transfer-Encoding: gzip, chunked"],
    ["Transfer-Encoding: identity", "Transfer-Encoding: chunked"],
]


@pytest.mark.parametrize(
    "spelling", [["Transfer-Encoding: chunked"], ["Transfer-Encoding: Chunked"], *ODD_SPELLINGS], ids=" / ".join
)
def test_a_chunked_body_however_spelled_is_unframed_as_iter_content_unframes_it(upstream, spelling):
    answer = head_with(*spelling, "Connection: close") + chunked(AUDIO, 70_000)
    ours, theirs = both_ways(upstream, answer)
    assert b"".join(ours) == theirs == AUDIO
    assert all(0 < len(chunk) <= READ_SIZE for chunk in ours)


@pytest.mark.parametrize("spelling", ODD_SPELLINGS, ids=" / ".join)
def test_a_body_with_both_a_transfer_encoding_and_a_length_is_unframed_but_not_hashed(upstream, spelling):
    framed = chunked(AUDIO)
    answer = head(len(framed), *spelling) + framed
    ours, theirs = both_ways(upstream, answer)
    assert b"".join(ours) == theirs == AUDIO
    noted = []
    with fetched(upstream(answer, [])) as response:
        for _ in hashed_body(response, noted):
            pass
    assert noted == []


@pytest.mark.parametrize("spelling", ["chunked", "gzip, chunked"])
def test_a_chunked_body_cut_short_fails_as_iter_content_fails_and_is_not_hashed(upstream, spelling):
    framed = chunked(AUDIO)
    # Announced whole through its range, so that only the cut keeps it from being hashed.
    answer = head_with(f"Transfer-Encoding: {spelling}", f"Content-Range: bytes 0-{len(AUDIO) - 1}/{len(AUDIO)}")
    noted = []
    with fetched(upstream(answer.replace(b"200 OK", b"206 Partial Content"), [framed[: len(framed) // 2]])) as response:
        chunks = hashed_body(response, noted)
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            b"".join(chunks)
    assert noted == []
