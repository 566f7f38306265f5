"""The single pump: one request out, transport bytes into the HTTP reader.

Every transport shares this loop, so the caps in the reader and the one
deadline (connect, send and the whole read) apply to all of them.
"""

from __future__ import annotations

import time

import attrs

from dockspec._generated.models import Spec
from dockspec._http import Response, ResponseReader, build_request
from dockspec._io.net import peer_of
from dockspec._io.transport import Unreachable, open_channel
from dockspec.errors import InvalidResponse
from dockspec.models import Endpoint, Limits

__all__ = ["FEED_SIZE", "Unreachable", "answer_error", "exchange", "feed", "host_header"]

# The reader gets a received block in slices this large, and the deadline is
# checked between slices: a block of tiny chunks costs h11 an event per few
# bytes (~60 ms per 64 KiB), which must not run far past the deadline.
FEED_SIZE = 8192


def host_header(endpoint: Endpoint) -> str:
    return endpoint.address if endpoint.transport == "tcp" else "localhost"


def exchange(
    endpoint: Endpoint,
    method: str,
    target: str,
    *,
    spec: Spec,
    limits: Limits,
    deadline: float | None = None,
) -> Response:
    """Send one request and read its answer before the deadline (default: `limits.deadline` from now).

    `spec` and `limits` are the caller's: the ssh channel's command line
    comes from `spec`, the reader's caps from `limits`.

    Raises Unreachable when the endpoint cannot be connected to, and
    InvalidResponse when the answer is malformed, too large, cut short or late.
    The Response carries who served it (peer_uid, peer_ip: dockspec._io.net.peer_of).
    """
    if deadline is None:
        deadline = time.monotonic() + limits.deadline
    channel = open_channel(endpoint, deadline, spec)
    try:
        peer_uid, peer_ip = peer_of(getattr(channel, "sock", None))  # the credentials of this very connection
        channel.send(build_request(method, target, host_header(endpoint)), deadline)
        reader = ResponseReader(method, limits)
        while (response := feed(reader, channel.recv(deadline), deadline)) is None:
            pass
    except (InvalidResponse, OSError) as exc:  # TimeoutError and Unreachable are OSErrors
        raise answer_error(endpoint, exc) from None
    finally:
        channel.close()
    if peer_uid is None and peer_ip is None:
        return response
    return attrs.evolve(response, peer_uid=peer_uid, peer_ip=peer_ip)


def feed(reader: ResponseReader, data: bytes, deadline: float) -> Response | None:
    """One received block (b"": the peer closed) into the reader: the Response once complete, else None.

    The block goes in FEED_SIZE slices, the deadline checked between them
    (TimeoutError); a close before a complete answer is InvalidResponse.
    Shared by every transport, dockspec.aio's too.
    """
    if not data:
        response = reader.feed(b"")
        if response is None:
            raise InvalidResponse("the daemon closed the connection before a complete answer")
        return response
    for start in range(0, len(data), FEED_SIZE):
        if start and time.monotonic() >= deadline:
            raise TimeoutError("deadline passed")
        response = reader.feed(data[start : start + FEED_SIZE])
        if response is not None:
            return response
    return None


def answer_error(endpoint: Endpoint, exc: InvalidResponse | OSError) -> Exception:
    """What exchange raises for a failure after connecting: InvalidResponse naming the endpoint, or Unreachable."""
    if isinstance(exc, Unreachable):
        return exc
    if isinstance(exc, TimeoutError):
        return InvalidResponse(f"{endpoint.url}: no complete answer before the deadline")
    if isinstance(exc, InvalidResponse):
        return InvalidResponse(f"{endpoint.url}: {exc}")
    return InvalidResponse(f"{endpoint.url}: connection failed mid-answer ({exc.strerror or exc})")
