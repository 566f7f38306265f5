"""HTTP/1.1 exchange, sans-IO, on top of h11.

Rule: no I/O here. Bytes go in through `ResponseReader.feed`, a `Response`
comes out. The caps (header block, body) live here, so a hostile daemon costs
bounded memory whatever transport carried its bytes. Nothing in this module
knows about Docker.
"""

from __future__ import annotations

import io

import attrs
import h11

from dockspec.errors import InvalidResponse
from dockspec.models import DEFAULT_LIMITS, Limits

__all__ = ["Response", "ResponseReader", "StreamReader", "build_request"]

USER_AGENT = "dockspec"


@attrs.frozen
class Response:
    """A complete answer: status, headers (names lower-cased) and body.

    `peer_uid` is the uid that served it over a Unix socket (its peer
    credentials), `peer_ip` the address a TCP connection reached; the
    transport fills them in (None when it cannot say).
    """

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    peer_uid: int | None = attrs.field(default=None, kw_only=True)
    peer_ip: str | None = attrs.field(default=None, kw_only=True)

    def header(self, name: str) -> str | None:
        """The first value of header `name` (case-insensitive), or None."""
        wanted = name.lower()
        for key, value in self.headers:
            if key == wanted:
                return value
        return None


def build_request(method: str, target: str, host: str = "localhost") -> bytes:
    """The request bytes for one call; the connection closes after the answer.

    Only GET and POST without a body are ever sent (listing, ping/version,
    stop/kill), so a request is fully described by its method and target.
    """
    headers = [("Host", host), ("User-Agent", USER_AGENT), ("Connection", "close")]
    if method == "POST":
        headers.append(("Content-Length", "0"))
    conn = h11.Connection(h11.CLIENT)
    data = conn.send(h11.Request(method=method, target=target, headers=headers))
    return data + (conn.send(h11.EndOfMessage()) or b"")


class ResponseReader:
    """Turns the bytes of one answer into a Response, within the limits.

    feed(data) returns the Response once complete, else None (more bytes
    wanted); feed(b"") tells the reader the peer closed. Anything malformed,
    oversized or cut short raises InvalidResponse.
    """

    __slots__ = ("_body", "_body_size", "_conn", "_head", "_head_bytes", "_limits")

    def __init__(self, method: str = "GET", limits: Limits = DEFAULT_LIMITS) -> None:
        self._limits = limits
        self._conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=limits.max_header_bytes)
        # Put the client state machine where it is after sending the request.
        self._conn.send(h11.Request(method=method, target="/", headers=[("Host", "localhost")]))
        self._conn.send(h11.EndOfMessage())
        self._head: h11.Response | None = None
        self._head_bytes = 0  # bytes fed before the final head was parsed
        # One growing buffer, not a list of pieces: a body sent as millions of
        # one-byte chunks must cost its size, not a Python object per chunk.
        # BytesIO.getvalue() hands its buffer over without a copy, so a whole
        # body costs about its size once, not twice.
        self._body = io.BytesIO()
        self._body_size = 0

    def feed(self, data: bytes) -> Response | None:
        if self._head is None:
            self._head_bytes += len(data)
        try:
            self._conn.receive_data(data)
            return self._drain()
        except h11.RemoteProtocolError as exc:
            if exc.error_status_hint == 431:  # h11's incomplete-event check: our header cap
                raise InvalidResponse(
                    f"an unfinished header block (or chunk line) exceeds the {self._limits.max_header_bytes}-byte cap"
                ) from None
            raise InvalidResponse(f"malformed HTTP from the daemon: {exc}") from None

    def _drain(self) -> Response | None:
        while True:
            event = self._conn.next_event()
            if event is h11.NEED_DATA:
                if self._conn.their_state is h11.DONE:
                    return self._finish()
                return None
            if isinstance(event, h11.InformationalResponse):
                self._check_head_size()
                continue
            if isinstance(event, h11.Response):
                self._check_head_size()
                self._head = event
                self._check_declared_length(event)
            elif isinstance(event, h11.Data):
                self._body_size += len(event.data)
                if self._body_size > self._limits.max_body_bytes:
                    raise InvalidResponse(f"body exceeds the {self._limits.max_body_bytes}-byte cap")
                self._body.write(event.data)
            elif isinstance(event, h11.EndOfMessage):
                return self._finish()
            elif isinstance(event, h11.ConnectionClosed):
                raise InvalidResponse("the daemon closed the connection before a complete answer")
            else:  # pragma: no cover - h11 has no other event for a client
                raise InvalidResponse(f"unexpected HTTP event {type(event).__name__}")

    def _check_head_size(self) -> None:
        """Every header block so far (interim 1xx ones included) within max_header_bytes.

        h11's own check only sees a block that is still incomplete, so a whole
        block arriving in one read could exceed the cap; this makes the cap
        exact whatever the reads.
        """
        size = self._head_bytes - len(self._conn.trailing_data[0])
        if size > self._limits.max_header_bytes:
            raise InvalidResponse(f"header blocks of {size} bytes exceed the {self._limits.max_header_bytes}-byte cap")

    def _check_declared_length(self, head: h11.Response) -> None:
        for name, value in head.headers:
            if name == b"content-length" and int(value) > self._limits.max_body_bytes:
                raise InvalidResponse(
                    f"announced body of {int(value)} bytes exceeds the {self._limits.max_body_bytes}-byte cap"
                )

    def _finish(self) -> Response:
        head = self._head
        if head is None:  # pragma: no cover - h11 emits Response before EndOfMessage
            raise InvalidResponse("answer ended before its status line")
        headers = tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in head.headers)
        body = self._body.getvalue()
        self._body = io.BytesIO()
        return Response(status=head.status_code, headers=headers, body=body)


class StreamReader:
    """The head, then the body bytes as they come, of one streamed answer (/events), within the limits.

    feed(data) returns the body bytes `data` completes (maybe b""); `head`
    is set once the status line and headers are in (the header cap
    applies to them as in ResponseReader); `ended` once the daemon ends the
    body or closes (feed(b"")). Memory: what h11 holds of one fed slice and
    an unfinished chunk-size line (capped by max_header_bytes), nothing more:
    the caller cuts the body into lines (dockspec.events.EventLines).
    """

    __slots__ = ("_conn", "_head_bytes", "_limits", "ended", "head")

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self._limits = limits
        self._conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=limits.max_header_bytes)
        self._conn.send(h11.Request(method="GET", target="/", headers=[("Host", "localhost")]))
        self._conn.send(h11.EndOfMessage())
        self._head_bytes = 0
        self.head: Response | None = None
        self.ended = False

    def feed(self, data: bytes) -> bytes:
        if self.head is None:
            self._head_bytes += len(data)
        out = []
        try:
            self._conn.receive_data(data)
            while True:
                event = self._conn.next_event()
                if event is h11.NEED_DATA or event is h11.PAUSED:
                    break
                if isinstance(event, h11.InformationalResponse | h11.Response):
                    size = self._head_bytes - len(self._conn.trailing_data[0])
                    cap = self._limits.max_header_bytes
                    if size > cap:
                        raise InvalidResponse(f"header blocks of {size} bytes exceed the {cap}-byte cap")
                    if isinstance(event, h11.Response):
                        headers = tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in event.headers)
                        self.head = Response(status=event.status_code, headers=headers, body=b"")
                elif isinstance(event, h11.Data):
                    out.append(bytes(event.data))
                elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                    self.ended = True
                    break
        except h11.RemoteProtocolError as exc:
            if exc.error_status_hint == 431:
                raise InvalidResponse(
                    f"an unfinished header block (or chunk line) exceeds the {self._limits.max_header_bytes}-byte cap"
                ) from None
            raise InvalidResponse(f"malformed HTTP from the daemon: {exc}") from None
        if self.ended and self.head is None:
            raise InvalidResponse("the daemon closed the connection before its headers")
        return b"".join(out)
