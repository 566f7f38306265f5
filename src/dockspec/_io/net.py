"""Stream sockets under a deadline: the pieces every channel shares.

Connection failures raise Unreachable; `describe` turns an OSError into the
few words a report shows. transport, tls and ssh import this module; it
imports none of them.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from typing import Any

from dockspec.addresses import InvalidAddress, split_host_port

__all__ = [
    "RECV_SIZE",
    "SocketChannel",
    "Unreachable",
    "connect_tcp",
    "connect_unix",
    "describe",
    "peer_of",
    "remaining",
    "resolve_addresses",
]

RECV_SIZE = 65536


class Unreachable(OSError):
    """Nothing answered at the endpoint (missing path, refused, timed out connecting...)."""


def remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("deadline passed")
    return left


class SocketChannel:
    """A connected stream socket; each call's timeout is what is left of the deadline."""

    __slots__ = ("sock",)

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def send(self, data: bytes, deadline: float) -> None:
        view = memoryview(data)
        while view:
            self.sock.settimeout(remaining(deadline))
            sent = self.sock.send(view)
            view = view[sent:]

    def recv(self, deadline: float) -> bytes:
        self.sock.settimeout(remaining(deadline))
        return self.sock.recv(RECV_SIZE)

    def close(self) -> None:
        self.sock.close()



def peer_of(sock: Any) -> tuple[int | None, str | None]:
    """(the uid serving a Unix socket connection, from SO_PEERCRED; the IP address a TCP connection reached).

    Either is None when the socket has none (or the platform cannot say).
    """
    family = getattr(sock, "family", None)  # a socket.socket, or asyncio's TransportSocket
    if family is None:
        return None, None
    try:
        if family == socket.AF_UNIX:
            peercred = getattr(socket, "SO_PEERCRED", None)
            if peercred is None:
                return None, None
            import struct

            size = struct.calcsize("3i")
            _pid, uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, peercred, size))
            return uid, None
        if family in (socket.AF_INET, socket.AF_INET6):
            return None, str(sock.getpeername()[0])
    except (OSError, ValueError):
        pass
    return None, None


def connect_unix(path: str, deadline: float) -> SocketChannel:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(remaining(deadline))
        sock.connect(path)
    except (OSError, TimeoutError) as exc:
        sock.close()
        raise Unreachable(f"{path}: {describe(exc)}") from None
    return SocketChannel(sock)


AddrInfo = tuple[Any, ...]


class _ResolveTimeout(TimeoutError):
    """The system resolver did not answer before the deadline."""


def _resolve(host: str, port: int, deadline: float) -> list[AddrInfo]:
    """getaddrinfo before the deadline.

    An IP literal needs no lookup. A name is looked up on a daemon thread:
    the system resolver has no timeout of its own, and a stalled lookup must
    not hold the call past its deadline (the thread ends when the resolver
    gives up; nothing waits for it).
    """
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    outcome: list[list[AddrInfo] | BaseException] = []
    done = threading.Event()

    def lookup() -> None:
        try:
            outcome.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except BaseException as exc:  # handed to the caller
            outcome.append(exc)
        done.set()

    threading.Thread(target=lookup, name="dockspec-resolve", daemon=True).start()
    if not done.wait(remaining(deadline)):
        raise _ResolveTimeout(f"timed out resolving {host}")
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    return result


def resolve_addresses(host: str, deadline: float) -> list[str] | None:
    """The IP addresses `host` resolves to before `deadline` (a literal is itself); None when it does not."""
    try:
        return sorted({str(info[4][0]) for info in _resolve(host, 0, deadline)})
    except (OSError, TimeoutError, ValueError, UnicodeError):
        return None


def connect_tcp(address: str, deadline: float) -> SocketChannel:
    """Try each address of the host in turn, all within the one deadline.

    `address` is `host:port` or `[v6]:port` (dockspec.addresses); one outside
    that grammar is Unreachable, saying why.
    """
    try:
        host, port = split_host_port(address)
    except InvalidAddress as exc:
        raise Unreachable(f"{address}: {exc.summary()}") from None
    try:
        infos = _resolve(host, port, deadline)
    except (OSError, TimeoutError, ValueError) as exc:
        raise Unreachable(f"{address}: {describe(exc)}") from None
    error: BaseException = OSError(f"{host} has no address")
    for family, kind, proto, _, sockaddr in infos:
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(remaining(deadline))
            sock.connect(sockaddr)
        except (OSError, TimeoutError) as exc:
            sock.close()
            error = exc
            continue
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return SocketChannel(sock)
    raise Unreachable(f"{address}: {describe(error)}")


def describe(exc: BaseException) -> str:
    if isinstance(exc, _ResolveTimeout):
        return str(exc)
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out connecting"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
