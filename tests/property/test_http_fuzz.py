"""Fuzzing the two parsers a daemon's bytes go through (Hypothesis, marker `property`).

- The HTTP reader: any bytes, split into reads anyhow, give a Response or
  raise InvalidResponse, nothing else; and the split never changes which
  (nor the Response). A Response's body is within the body cap.
- The list parser: any bytes, or JSON shaped like a daemon's list with
  hostile values, give a port map or raise InvalidResponse, nothing else;
  the lenient parser never raises; the stdlib and msgspec decoders agree.

Example counts are fixed (settings below) and stated in docs/limits.md.
"""

from __future__ import annotations

import inspect
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from dockspec import InvalidResponse, Limits, Protocol, parse_containers_json, parse_containers_json_strict
from dockspec._http import Response, ResponseReader
from dockspec.containers import parse_list

pytestmark = pytest.mark.property

RAW_EXAMPLES = 600
FRAMED_EXAMPLES = 800
JSON_EXAMPLES = 400

LIMITS = Limits(deadline=1.0, max_header_bytes=256, max_body_bytes=128, max_bindings=64)
Outcome = Response | str


def read(data: bytes, cuts: list[int], method: str = "GET", limits: Limits = LIMITS) -> Outcome:
    """Feed `data` cut at `cuts`, then EOF; the Response, or "invalid"."""
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True) if b > a]
    reader = ResponseReader(method, limits)
    try:
        for piece in [*pieces, b""]:
            response = reader.feed(piece)
            if response is not None:
                return response
    except InvalidResponse:
        return "invalid"
    raise AssertionError("the reader wanted more bytes after EOF")


def check_reader(data: bytes, cuts: list[int], method: str) -> None:
    whole = read(data, [], method)
    split = read(data, cuts, method)
    bytewise = read(data, list(range(len(data))), method) if len(data) <= 400 else split
    assert whole == split == bytewise
    if isinstance(whole, Response):
        assert 200 <= whole.status <= 999
        assert len(whole.body) <= LIMITS.max_body_bytes
        assert all(name == name.lower() for name, _ in whole.headers)


cuts = st.lists(st.integers(0, 4096), max_size=12)
methods = st.sampled_from(["GET", "POST"])


@settings(max_examples=RAW_EXAMPLES, deadline=None)
@given(st.binary(max_size=600), cuts, methods)
def test_reader_on_arbitrary_bytes(data: bytes, cuts: list[int], method: str) -> None:
    check_reader(data, cuts, method)


# Responses built from the pieces daemons (and hostile ones) send, so most
# examples get past the status line into headers, framing and bodies.
status_lines = st.sampled_from([
    b"HTTP/1.1 200 OK", b"HTTP/1.1 204 No Content", b"HTTP/1.1 304 Not Modified", b"HTTP/1.0 200 OK",
    b"HTTP/1.1 404 Not Found", b"HTTP/1.1 500 Internal Server Error", b"HTTP/1.1 302 Found",
    b"HTTP/1.1 100 Continue", b"HTTP/1.1 101 Switching Protocols", b"HTTP/1.1 199 Odd", b"HTTP/1.1 999 X",
    b"HTTP/1.1 200", b"HTTP/2 200 OK", b"HTTP/1.1 2OO OK", b"ICY 200 OK", b"", b"HTTP/1.1 200 OK\n",
])
header_lines = st.one_of(
    st.sampled_from([
        b"Transfer-Encoding: chunked", b"Transfer-Encoding: gzip", b"Transfer-Encoding: gzip, chunked",
        b"Transfer-Encoding: identity", b"Connection: close", b"Connection: keep-alive",
        b"Content-Type: application/json", b"Server: Docker/20.10.24 (linux)", b"Libpod-Api-Version: 4.3.1",
        b"no colon", b" leading: space", b"X-Obs-Fold: a\r\n b", b"Bad\x00Name: x", b"X: \xff\xfe",
        b"Content-Length: 0", b"Content-Length: -1", b"Content-Length: 1e3", b"Content-Length: 5, 5",
        b"Content-Length: 99999999999999999999999", b"X-Pad: " + b"a" * 300,
    ]),
    st.integers(0, 300).map(lambda n: b"Content-Length: %d" % n),
)
body_pieces = st.one_of(
    st.binary(max_size=80),
    st.integers(0, 200).map(lambda n: b"%x\r\n%s\r\n" % (n, b"x" * n)),
    st.sampled_from([b"0\r\n\r\n", b"0\r\nX-Trailer: y\r\n\r\n", b"zz\r\n", b"5;ext=1\r\nhello\r\n",
                     b"\r\n", b"ffffffffffffffffffffff\r\n", b"[]", b'[{"Id":"a"}]']),
)


@st.composite
def framed_responses(draw: st.DrawFn) -> bytes:
    blocks = []
    for _ in range(draw(st.integers(1, 3))):
        head = [draw(status_lines), *draw(st.lists(header_lines, max_size=6))]
        blocks.append(b"\r\n".join(head) + b"\r\n\r\n")
    body = b"".join(draw(st.lists(body_pieces, max_size=6)))
    return b"".join(blocks) + body


@settings(max_examples=FRAMED_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(framed_responses(), cuts, methods)
# A whole header block over the cap in one read used to pass (h11 checks incomplete blocks only).
@example(b"HTTP/1.1 200 OK\r\nX-Pad: " + b"a" * 300 + b"\r\nContent-Length: 0\r\n\r\n", [], "GET")
@example(b"HTTP/1.1 100 Continue\r\n\r\n" * 20 + b"HTTP/1.1 204 No Content\r\n\r\n", [7, 300], "POST")
def test_reader_on_framed_responses(data: bytes, cuts: list[int], method: str) -> None:
    check_reader(data, cuts, method)


# -- the list parser --------------------------------------------------------------------------------

DECODERS = ["stdlib", "fast"] if "decoder" in inspect.signature(parse_list).parameters else [None]

hostile_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.integers(-2, 70000),
    st.floats(allow_nan=True), st.text(max_size=12),
    st.sampled_from(["", "0.0.0.0", "::", "127.0.0.1", "[::1]", "not-an-ip", "tcp", "udp", "sctp", "/n"]),
)
hostile_values = st.recursive(hostile_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.text(max_size=4), inner, max_size=3), max_leaves=8)
port_keys = ["IP", "PublicPort", "PrivatePort", "Type", "host_ip", "host_port", "container_port", "range", "protocol"]
ports = st.dictionaries(st.sampled_from(port_keys), hostile_values, max_size=6)
containers = st.dictionaries(
    st.sampled_from(["Id", "Names", "Image", "Ports", "State"]),
    st.one_of(hostile_values, st.lists(ports, max_size=4), st.lists(st.text(max_size=6), max_size=3)),
    max_size=5,
)
bodies = st.one_of(
    st.lists(containers, max_size=4).map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=300),
    st.lists(containers, max_size=3).map(lambda v: json.dumps(v).encode()).flatmap(
        lambda b: st.integers(0, max(len(b) - 1, 0)).map(lambda i: b[:i] + b"\xff" + b[i + 1 :])),
)


def parse_with(decoder: str | None, body: bytes, shape: str | None) -> Any:
    kw: dict[str, Any] = {} if decoder is None else {"decoder": decoder}
    try:
        parsed = parse_list(body, shape, limits=LIMITS, **kw)
    except InvalidResponse:
        return "invalid"
    return parsed.containers, parsed.bindings


@settings(max_examples=JSON_EXAMPLES, deadline=None)
@given(bodies, st.sampled_from([None, "docker", "libpod"]))
def test_list_parsers_raise_only_invalid_response(body: bytes, shape: str | None) -> None:
    results = [parse_with(decoder, body, shape) for decoder in DECODERS]
    assert all(r == results[0] for r in results), results
    if results[0] != "invalid":
        _, bindings = results[0]
        assert len(bindings) <= LIMITS.max_bindings
        for ip, port, proto in bindings:
            assert 1 <= port <= 65535 and isinstance(proto, Protocol)
            assert ip is None or isinstance(ip, str)
    try:
        strict = parse_containers_json_strict(body, shape, limits=LIMITS)
    except InvalidResponse:
        strict = None
    lenient = parse_containers_json(body, shape, limits=LIMITS)
    assert dict(lenient) == (dict(strict) if strict is not None else {})
