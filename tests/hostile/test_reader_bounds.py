"""What one answer may cost: memory per body byte, and time past the deadline.

These pin the two bugs the hostile daemons found in the reader and the pump:
a body of tiny chunks cost a Python object per chunk (22x its size), and a
received block was parsed whole however long that took past the deadline.
"""

from __future__ import annotations

import time
import tracemalloc

import pytest

from dockspec._http import ResponseReader
from dockspec._io.exchange import exchange
from dockspec.errors import InvalidResponse
from dockspec.models import Endpoint, Limits
from dockspec.spec import builtin_spec
from tests.hostile.daemon import Conn, after_request, hostile_daemon

CAP = 128 * 1024
CHUNKED_HEAD = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"


@pytest.mark.parametrize("reads", ["one read", "byte by byte"])
@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 200 OK\r\nX-Pad: " + b"a" * 2000 + b"\r\nContent-Length: 0\r\n\r\n",
        (b"HTTP/1.1 100 Continue\r\nX-Pad: " + b"a" * 100 + b"\r\n\r\n") * 20 + b"HTTP/1.1 204 No Content\r\n\r\n",
    ],
    ids=["one-block", "interim-blocks"],
)
def test_header_cap_holds_whatever_the_reads(head: bytes, reads: str) -> None:
    """A header block over the cap is refused even when it arrives whole in one read."""
    reader = ResponseReader("GET", Limits(max_header_bytes=1024))
    pieces = [head] if reads == "one read" else [head[i : i + 1] for i in range(len(head))]
    with pytest.raises(InvalidResponse, match="cap"):
        for piece in pieces:
            assert reader.feed(piece) is None


@pytest.mark.parametrize("chunk", [b"2\r\nab\r\n", b"10\r\n" + b"a" * 16 + b"\r\n"])
def test_tiny_chunks_cost_their_size_not_an_object_each(chunk: bytes) -> None:
    """Up to the body cap, the reader holds about the body, whatever its chunking."""
    reader = ResponseReader("GET", Limits(max_body_bytes=CAP))
    reader.feed(CHUNKED_HEAD)
    block = chunk * (65536 // len(chunk))
    tracemalloc.start()
    try:
        with pytest.raises(InvalidResponse, match="cap"):
            for _ in range(10 * CAP // 16):
                reader.feed(block)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * CAP


@pytest.mark.parametrize("framing", ["content-length", "chunked", "close"])
def test_a_whole_body_costs_its_size_once(framing: str) -> None:
    """Reading a body just under the cap holds it once (no copy at the end), whatever its framing."""
    size = 4 * 1024 * 1024
    reader = ResponseReader("GET", Limits(max_body_bytes=size))
    if framing == "content-length":
        head, piece, tail = b"Content-Length: %d\r\n\r\n" % size, b"x" * 8192, b""
    elif framing == "chunked":
        head, piece, tail = b"Transfer-Encoding: chunked\r\n\r\n", b"2000\r\n" + b"x" * 8192 + b"\r\n", b"0\r\n\r\n"
    else:
        head, piece, tail = b"Connection: close\r\n\r\n", b"x" * 8192, b""  # b"": the peer closed
    reader.feed(b"HTTP/1.1 200 OK\r\n" + head)
    tracemalloc.start()
    try:
        pieces = [piece] * (size // 8192) + ([] if framing == "content-length" else [tail])
        results = [reader.feed(p) for p in pieces]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    response = results.pop()
    assert [None] * len(results) == results
    assert response is not None and size == len(response.body)
    assert peak < 1.5 * size


def test_a_block_of_tiny_chunks_does_not_run_past_the_deadline() -> None:
    """The pump checks the deadline between slices of a received block, not only between reads.

    The daemon waits until just before the deadline, then streams one-byte
    chunks: under tracemalloc, h11 takes about 0.25 s to parse one 64 KiB
    block of them, which the pump used to finish, deadline or not.
    """

    def late_tiny_chunks(conn: Conn) -> None:
        if conn.send(CHUNKED_HEAD) and conn.sleep(0.2):
            block = b"1\r\na\r\n" * 10923
            while conn.send(block):
                pass

    with hostile_daemon(after_request(late_tiny_chunks)) as daemon:
        endpoint = Endpoint(url=daemon.url, transport="unix", address=daemon.path)
        tracemalloc.start()
        started = time.monotonic()
        try:
            with pytest.raises(InvalidResponse, match="deadline"):
                exchange(endpoint, "GET", "/containers/json", spec=builtin_spec(), limits=Limits(deadline=0.25))
        finally:
            elapsed = time.monotonic() - started
            tracemalloc.stop()
    assert elapsed < 0.25 + 0.1
