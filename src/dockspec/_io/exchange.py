"""The single pump: one request out, transport bytes into the HTTP reader.

Every transport shares this loop, so the caps in the reader and the one
deadline (connect, send and the whole read) apply to all of them.
"""

from __future__ import annotations

import time

from dockspec._http import Response, ResponseReader, build_request
from dockspec._io.transport import Unreachable, open_channel
from dockspec.errors import InvalidResponse
from dockspec.models import DEFAULT_LIMITS, Endpoint, Limits

__all__ = ["Unreachable", "exchange"]


def _host_header(endpoint: Endpoint) -> str:
    return endpoint.address if endpoint.transport == "tcp" else "localhost"


def exchange(
    endpoint: Endpoint,
    method: str,
    target: str,
    *,
    limits: Limits = DEFAULT_LIMITS,
    deadline: float | None = None,
) -> Response:
    """Send one request and read its answer before the deadline.

    Raises Unreachable when the endpoint cannot be connected to, and
    InvalidResponse when the answer is malformed, too large, cut short or late.
    """
    if deadline is None:
        deadline = time.monotonic() + limits.deadline
    channel = open_channel(endpoint, deadline)
    try:
        channel.send(build_request(method, target, _host_header(endpoint)), deadline)
        reader = ResponseReader(method, limits)
        while True:
            data = channel.recv(deadline)
            response = reader.feed(data)
            if response is not None:
                return response
            if not data:
                raise InvalidResponse("the daemon closed the connection before a complete answer")
    except TimeoutError:
        raise InvalidResponse(f"{endpoint.url}: no complete answer before the deadline") from None
    except InvalidResponse as exc:
        raise InvalidResponse(f"{endpoint.url}: {exc}") from None
    except Unreachable:
        raise
    except OSError as exc:
        raise InvalidResponse(f"{endpoint.url}: connection failed mid-answer ({exc.strerror or exc})") from None
    finally:
        channel.close()
