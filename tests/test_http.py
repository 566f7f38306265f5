"""The sans-IO HTTP layer: framing, caps, malformed answers, request bytes."""

from __future__ import annotations

import h11
import pytest

from dockspec._http import ResponseReader, build_request
from dockspec.errors import InvalidResponse
from dockspec.models import Limits
from tests.fakedaemon import http_response
from tests.helpers import feed_three_ways

BODY = b'[{"Id":"abc","Names":["/x"],"Ports":[]}]'


@pytest.mark.parametrize("framing", ["content-length", "chunked", "close"])
def test_reader_reads_every_framing(framing: str) -> None:
    """Content-Length, chunked and close-delimited bodies give the same Response."""
    response = feed_three_ways(http_response(200, BODY, [("Server", "Docker/20.10.24")], framing=framing))
    assert response.status == 200
    assert response.body == BODY
    assert response.header("server") == "Docker/20.10.24"


def test_reader_skips_interim_responses() -> None:
    """A 100 Continue before the answer is skipped."""
    data = b"HTTP/1.1 100 Continue\r\n\r\n" + http_response(204)
    assert feed_three_ways(data).status == 204


def test_reader_returns_non_2xx_as_is() -> None:
    """Status codes are the caller's business; a 3xx is not followed."""
    response = feed_three_ways(http_response(302, b"", [("Location", "http://elsewhere/")]))
    assert response.status == 302
    assert response.header("Location") == "http://elsewhere/"


def test_reader_304_has_no_body() -> None:
    """304 (stop of a stopped container) carries no body even without framing headers."""
    assert feed_three_ways(b"HTTP/1.1 304 Not Modified\r\nServer: Docker/20.10\r\n\r\n").body == b""


@pytest.mark.parametrize(
    "data",
    [
        b"garbage\r\n\r\n",
        b"HTTP/1.1 abc OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nbad header line\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nabc",
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n",
        b"[]",
        b"",
    ],
    ids=["not-http", "bad-status", "bad-header", "bad-chunk-size", "unknown-encoding", "short-body",
         "no-terminal-chunk", "http09", "empty"],
)
def test_reader_rejects_malformed_answers(data: bytes) -> None:
    """Broken framing raises InvalidResponse, never another exception."""
    with pytest.raises(InvalidResponse):
        feed_three_ways(data)


def test_reader_caps_headers() -> None:
    """A header block over the cap is refused before it is complete."""
    limits = Limits(max_header_bytes=1024)
    reader = ResponseReader("GET", limits)
    with pytest.raises(InvalidResponse):
        reader.feed(b"HTTP/1.1 200 OK\r\n" + b"X-Pad: " + b"a" * 4096 + b"\r\n")


def test_reader_caps_announced_body() -> None:
    """A Content-Length over the body cap is refused from the headers alone."""
    reader = ResponseReader("GET", Limits(max_body_bytes=100))
    with pytest.raises(InvalidResponse, match="exceeds"):
        reader.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 5000000000\r\n\r\n")


def test_reader_caps_streamed_body() -> None:
    """A close-delimited body is cut off at the cap."""
    reader = ResponseReader("GET", Limits(max_body_bytes=100))
    reader.feed(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
    with pytest.raises(InvalidResponse, match="cap"):
        for _ in range(10):
            reader.feed(b"x" * 50)


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_build_request_round_trips_through_a_server(method: str) -> None:
    """The request bytes parse as exactly one request with the documented headers."""
    data = build_request(method, "/containers/abc/stop?t=10")
    server = h11.Connection(h11.SERVER)
    server.receive_data(data)
    request = server.next_event()
    assert isinstance(request, h11.Request)
    assert (method.encode(), b"/containers/abc/stop?t=10") == (request.method, request.target)
    headers = dict(request.headers)
    assert headers[b"connection"] == b"close"
    assert (b"0" if method == "POST" else None) == headers.get(b"content-length")
    assert isinstance(server.next_event(), h11.EndOfMessage)
