"""The hostile behaviours, by name, and what dockspec must make of each.

`WIRE` are faults of the connection and of the HTTP framing; `BODIES` are
well-framed 200 answers whose JSON is hostile. Each scenario says which
outcome is documented (docs/limits.md): "invalid" (InvalidResponse from
detect_containers, an empty map from await_detection, FAILED from
stop_container) or "ok" (the answer is used).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import attrs

from tests.fakedaemon import DOCKER_HEADERS, http_response
from tests.hostile.daemon import Behaviour, Conn, after_request, reply_with
from tests.hostile.measure import LIMITS

__all__ = ["BODIES", "GOOD_BODY", "WIRE", "Scenario", "answer_ok"]

GOOD_BODY = json.dumps(
    [{"Id": "e" * 64, "Names": ["/hostile-ok"], "Image": "bb", "Ports": [{"PublicPort": 18111, "Type": "tcp"}]}]
).encode()

BLOCK = b"x" * 65536


@attrs.frozen
class Scenario:
    name: str
    behaviour: Behaviour
    outcome: str = "invalid"
    slow: bool = False
    """The outcome only comes at the deadline (the daemon keeps the connection open)."""
    complete: bool = False
    """The daemon gives a complete, well-framed answer to stop and kill too. stop_container
    then trusts it (FAILED, no fall-through); a framing failure falls through to the next daemon."""


def answer_ok(conn: Conn) -> None:
    """A good answer to whatever was asked: the list for GET, 204 for POST (stop/kill)."""
    request = conn.requests[-1]
    if request.startswith(b"POST"):
        conn.send(http_response(204, b"", DOCKER_HEADERS))
    else:
        conn.send(http_response(200, GOOD_BODY, DOCKER_HEADERS))


def _hang_unread(conn: Conn) -> None:
    conn.wait_for_close()


def _dribble(interval: float) -> Behaviour:
    def reply(conn: Conn) -> None:
        data = http_response(200, GOOD_BODY, DOCKER_HEADERS)
        for i in range(len(data)):
            if not conn.send(data[i : i + 1]) or not conn.sleep(interval):
                return

    return after_request(reply)


def _close_at_once(conn: Conn) -> None:
    conn.sock.close()


def _reset_mid_body(conn: Conn) -> None:
    if conn.read_request() is None:
        return
    conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + GOOD_BODY[:20])
    conn.sleep(0.05)
    conn.reset()


def _send_then_wait(data: bytes) -> Behaviour:
    """Send `data`, then keep the connection open (silent) until the client leaves."""

    def reply(conn: Conn) -> None:
        if conn.send(data):
            conn.wait_for_close()

    return after_request(reply)


def _send_then_close(data: bytes) -> Behaviour:
    return reply_with(data)


def _stream(head: bytes, block: bytes) -> Behaviour:
    """Send `head`, then `block` again and again until the client leaves."""

    def reply(conn: Conn) -> None:
        if not conn.send(head):
            return
        while conn.send(block):
            pass

    return after_request(reply)


def _interim_then(final: Callable[[Conn], None], count: int) -> Behaviour:
    def reply(conn: Conn) -> None:
        for _ in range(count):
            if not conn.send(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n"):
                return
        final(conn)

    return after_request(reply)


def _endless_interim(conn: Conn) -> None:
    while conn.send(b"HTTP/1.1 100 Continue\r\nX-Pad: " + b"a" * 100 + b"\r\n\r\n"):
        pass


HEAD_CL_HUGE = b"HTTP/1.1 200 OK\r\nServer: Docker/20.10.24\r\nContent-Length: 5000000000\r\n\r\n"
TINY_CHUNKS = b"2\r\nab\r\n" * 8192

WIRE: list[Scenario] = [
    Scenario("accepts-never-answers", _hang_unread, slow=True),
    Scenario("one-byte-per-second", _dribble(1.0), slow=True),
    Scenario("one-byte-per-20ms", _dribble(0.02), slow=True),
    Scenario("closes-after-accept", _close_at_once),
    Scenario("reset-mid-body", _reset_mid_body),
    Scenario("headers-only", _send_then_wait(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n"), slow=True),
    Scenario("headers-only-then-close", _send_then_close(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n")),
    Scenario("short-body-kept-open", _send_then_wait(b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n[]"), slow=True),
    Scenario("short-body-then-close", _send_then_close(b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n[]")),
    Scenario("status-line-malformed", _send_then_wait(b"HTTP/1.1 2OO OK\r\nContent-Length: 2\r\n\r\n[]")),
    Scenario("status-line-garbage", _send_then_wait(b"\x00\xff\xfe garbage \x1b[2J\r\n\r\n")),
    Scenario("header-malformed", _send_then_wait(b"HTTP/1.1 200 OK\r\nno colon here\r\nContent-Length: 2\r\n\r\n[]")),
    Scenario("header-bad-content-length", _send_then_wait(b"HTTP/1.1 200 OK\r\nContent-Length: -2\r\n\r\n[]")),
    Scenario("headers-over-cap", _stream(b"HTTP/1.1 200 OK\r\nX-Pad: ", b"a" * 4096)),
    Scenario("header-lines-over-cap", _stream(b"HTTP/1.1 200 OK\r\n", b"X-Pad: aaaaaaaaaaaaaaaa\r\n" * 256)),
    Scenario("content-length-5GiB-announced", _stream(HEAD_CL_HUGE, BLOCK)),
    Scenario(
        "content-length-just-over-cap",
        _stream(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (LIMITS.max_body_bytes + 1), BLOCK),
    ),
    Scenario("body-endless-close-delimited", _stream(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", BLOCK)),
    Scenario(
        "body-endless-one-huge-chunk",
        _stream(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n", BLOCK),
    ),
    # Parsing tiny chunks is slow enough that the deadline, not the body cap, ends it.
    Scenario(
        "body-endless-tiny-chunks",
        _stream(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", TINY_CHUNKS),
        slow=True,
    ),
    Scenario(
        "chunk-size-not-hex",
        _send_then_wait(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n[]\r\n0\r\n\r\n"),
    ),
    Scenario(
        "chunk-size-endless-digits",
        _stream(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", b"0" * 4096),
    ),
    Scenario(
        "chunk-missing-crlf",
        _send_then_wait(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n[]XX0\r\n\r\n"),
    ),
    Scenario(
        "chunk-no-terminal-then-close",
        _send_then_close(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n[]\r\n"),
    ),
    Scenario(
        "chunk-no-terminal-kept-open",
        _send_then_wait(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n[]\r\n"),
        slow=True,
    ),
    Scenario(
        "chunk-trailers-over-cap",
        _stream(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n[]\r\n0\r\n", b"X-T: aaaaaaaa\r\n" * 256),
    ),
    Scenario(
        "transfer-encoding-unknown",
        _send_then_wait(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n[]"),
    ),
    Scenario("http09-bare-body", _send_then_close(b"[]")),
    Scenario("interim-1xx-then-answer", _interim_then(answer_ok, 3), outcome="ok"),
    Scenario("interim-1xx-endless", after_request(_endless_interim), slow=True),
    Scenario("interim-101-unsolicited", _send_then_wait(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n[]")),
    Scenario(
        "redirect-302",
        _send_then_wait(http_response(302, b"", [("Location", "http://127.0.0.1:1/containers/json")], reason="Found")),
        complete=True,
    ),
    Scenario(
        "error-500-html",
        _send_then_close(http_response(500, b"<html><body>Internal Server Error</body></html>",
                                       [("Content-Type", "text/html")], reason="Internal Server Error")),
        complete=True,
    ),
]


def _json_answer(body: bytes) -> Behaviour:
    return _send_then_close(http_response(200, body, DOCKER_HEADERS))


def _body(name: str, body: bytes) -> Scenario:
    return Scenario(name, _json_answer(body), complete=True)


def _containers(*ports: dict[str, Any], name: str = "/hostile", image: str = "img") -> bytes:
    return json.dumps([{"Id": "f" * 64, "Names": [name], "Image": image, "Ports": list(ports)}]).encode()


BODIES: list[Scenario] = [
    _body("body-not-utf8", b'[{"Id": "\xff\xfe", "Names": ["/x"]}]'),
    _body("body-latin1", '[{"Id": "abc", "Names": ["/caf\u00e9"]}]'.encode("latin-1")),
    _body("body-not-json", b"<html>this is not json</html>"),
    _body("body-empty", b""),
    _body("body-nested-100000-deep", b"[" * 100_000 + b"]" * 100_000),
    _body("body-nested-objects-deep", b'{"a":' * 50_000 + b"1" + b"}" * 50_000),
    _body("body-json-object", b'{"message": "a list was expected"}'),
    _body("body-json-string", b'"[]"'),
    _body("body-json-number-huge", b"9" * 100_000),
]
