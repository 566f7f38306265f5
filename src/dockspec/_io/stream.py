"""One streamed answer (/events) over any channel: a deadline for connecting and the headers, then none.

The bytes go into dockspec._http.StreamReader (header cap, HTTP framing)
in FEED_SIZE slices; this module parses nothing itself. Each read waits at
most `poll` seconds, so a caller can stop a quiet stream between reads.
"""

from __future__ import annotations

import time

from dockspec._generated.models import Spec
from dockspec._http import Response, StreamReader, build_request
from dockspec._io.exchange import FEED_SIZE
from dockspec._io.transport import Channel, open_channel
from dockspec.errors import InvalidResponse
from dockspec.models import Endpoint, Limits

__all__ = ["Stream", "feed_stream", "no_head", "send_error"]


def feed_stream(reader: StreamReader, data: bytes, url: str) -> bytes:
    """One received block (b"": the peer closed) into the reader in FEED_SIZE slices: the body bytes it completes.

    InvalidResponse naming `url` when the stream ended or broke the framing
    or a cap. Shared by the sync Stream and dockspec.aio's AioStream.
    """
    if not data:
        reader.feed(b"")
        raise InvalidResponse(f"{url}: the daemon ended the events stream")
    out = []
    for start in range(0, len(data), FEED_SIZE):
        try:
            out.append(reader.feed(data[start : start + FEED_SIZE]))
        except InvalidResponse as exc:
            raise InvalidResponse(f"{url}: {exc}") from None
    if reader.ended:
        raise InvalidResponse(f"{url}: the daemon ended the events stream")
    return b"".join(out)


def send_error(url: str, exc: OSError) -> InvalidResponse:
    """The subscription could not be sent: too late (TimeoutError) or the connection failed."""
    if isinstance(exc, TimeoutError):
        return InvalidResponse(f"{url}: the request was not sent before the deadline")
    return InvalidResponse(f"{url}: connection failed ({exc.strerror or exc})")


def no_head(url: str) -> InvalidResponse:
    """The subscription's headers did not come before the deadline."""
    return InvalidResponse(f"{url}: no answer to the events subscription before the deadline")


class Stream:
    """A GET whose answer streams: `open` connects and sends, `head` waits for the headers, `read` the body."""

    __slots__ = ("_channel", "_reader", "endpoint", "started")

    def __init__(self, endpoint: Endpoint, limits: Limits) -> None:
        self.endpoint = endpoint
        self._reader = StreamReader(limits)
        self._channel: Channel | None = None
        self.started = 0.0

    def open(self, target: str, spec: Spec, deadline: float) -> None:
        """Connect and send the request before `deadline`; Unreachable or InvalidResponse."""
        self.started = time.monotonic()
        self._channel = open_channel(self.endpoint, deadline, spec)
        host = self.endpoint.address if self.endpoint.transport == "tcp" else "localhost"
        try:
            self._channel.send(build_request("GET", target, host), deadline)
        except OSError as exc:  # TimeoutError included
            raise send_error(self.endpoint.url, exc) from None

    def head(self, deadline: float | None, poll: float, pending: list[bytes]) -> Response | None:
        """Wait one poll for the headers (None: not yet); body bytes that came with them go to `pending`.

        InvalidResponse once `deadline` passed without them (None: no
        deadline, for engines that send none until their first event).
        """
        if self._reader.head is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise no_head(self.endpoint.url)
            until = time.monotonic() + poll
            if deadline is not None:
                until = min(until, deadline)
            data = self.read(until)
            if data:
                pending.append(data)
        return self._reader.head

    def read(self, until: float) -> bytes:
        """The body bytes received before `until` (b"" when none came); InvalidResponse when the stream ended."""
        assert self._channel is not None
        try:
            data = self._channel.recv(until)
        except TimeoutError:
            return b""
        except InvalidResponse as exc:
            raise InvalidResponse(f"{self.endpoint.url}: {exc}") from None
        except OSError as exc:
            raise InvalidResponse(f"{self.endpoint.url}: the stream broke ({exc.strerror or exc})") from None
        return feed_stream(self._reader, data, self.endpoint.url)

    @property
    def status(self) -> int | None:
        return None if self._reader.head is None else self._reader.head.status

    def close(self) -> None:
        if self._channel is not None:
            try:
                self._channel.close()
            except OSError:
                pass
            self._channel = None

