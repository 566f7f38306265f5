"""Byte channels to a daemon: Unix socket, TCP, Windows named pipe.

A channel connects, sends and receives before an absolute monotonic
deadline; it parses nothing. Connection failures raise Unreachable; a
deadline passing after connect raises TimeoutError.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import threading
import time
from typing import Any, Protocol

from dockspec.models import Endpoint

__all__ = ["Channel", "Unreachable", "open_channel", "split_host_port"]

RECV_SIZE = 65536


class Unreachable(OSError):
    """Nothing answered at the endpoint (missing path, refused, timed out connecting...)."""


class Channel(Protocol):
    def send(self, data: bytes, deadline: float) -> None: ...

    def recv(self, deadline: float) -> bytes: ...

    def close(self) -> None: ...


def _remaining(deadline: float) -> float:
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
            self.sock.settimeout(_remaining(deadline))
            sent = self.sock.send(view)
            view = view[sent:]

    def recv(self, deadline: float) -> bytes:
        self.sock.settimeout(_remaining(deadline))
        return self.sock.recv(RECV_SIZE)

    def close(self) -> None:
        self.sock.close()


def split_host_port(address: str) -> tuple[str, int]:
    """`host:port` or `[v6]:port` to (host, port)."""
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def _connect_unix(path: str, deadline: float) -> SocketChannel:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(_remaining(deadline))
        sock.connect(path)
    except (OSError, TimeoutError) as exc:
        sock.close()
        raise Unreachable(f"{path}: {_describe(exc)}") from None
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
    if not done.wait(_remaining(deadline)):
        raise _ResolveTimeout(f"timed out resolving {host}")
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    return result


def _connect_tcp(address: str, deadline: float) -> SocketChannel:
    """Try each address of the host in turn, all within the one deadline."""
    try:
        host, port = split_host_port(address)
        infos = _resolve(host, port, deadline)
    except (OSError, TimeoutError, ValueError) as exc:
        raise Unreachable(f"{address}: {_describe(exc)}") from None
    error: BaseException = OSError(f"{host} has no address")
    for family, kind, proto, _, sockaddr in infos:
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(_remaining(deadline))
            sock.connect(sockaddr)
        except (OSError, TimeoutError) as exc:
            sock.close()
            error = exc
            continue
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return SocketChannel(sock)
    raise Unreachable(f"{address}: {_describe(error)}")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, _ResolveTimeout):
        return str(exc)
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out connecting"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


# Windows error codes used by the named-pipe channel (winerror.h).
ERROR_BROKEN_PIPE = 109
ERROR_PIPE_BUSY = 231
ERROR_IO_PENDING = 997
ERROR_OPERATION_ABORTED = 995
WAIT_TIMEOUT = 258


class PipeChannel:
    """A Windows named pipe opened for overlapped I/O, so every wait has a timeout.

    `api` is the `_winapi` module on Windows; tests pass an object with the
    same few functions to exercise this code path on Linux.
    """

    __slots__ = ("api", "handle")

    def __init__(self, api: Any, handle: Any) -> None:
        self.api = api
        self.handle = handle

    @classmethod
    def connect(cls, path: str, deadline: float, api: Any = None) -> PipeChannel:
        if api is None:
            import _winapi as api  # type: ignore[import-not-found,no-redef]
        flags = api.GENERIC_READ | api.GENERIC_WRITE
        while True:
            try:
                handle = api.CreateFile(path, flags, 0, 0, api.OPEN_EXISTING, api.FILE_FLAG_OVERLAPPED, 0)
                return cls(api, handle)
            except OSError as exc:
                if getattr(exc, "winerror", None) != ERROR_PIPE_BUSY:
                    raise Unreachable(f"{path}: {_describe(exc)}") from None
            try:
                wait_ms = int(_remaining(deadline) * 1000)
            except TimeoutError:
                raise Unreachable(f"{path}: pipe busy until the deadline") from None
            api.WaitNamedPipe(path, max(wait_ms, 1))

    def _wait(self, overlapped: Any, deadline: float) -> None:
        try:
            wait_ms = int(_remaining(deadline) * 1000)
        except TimeoutError:
            overlapped.cancel()
            raise
        result = self.api.WaitForMultipleObjects([overlapped.event], False, max(wait_ms, 1))
        if result == WAIT_TIMEOUT:
            overlapped.cancel()
            raise TimeoutError("deadline passed")

    def send(self, data: bytes, deadline: float) -> None:
        overlapped, err = self.api.WriteFile(self.handle, data, overlapped=True)
        if err == ERROR_IO_PENDING:
            self._wait(overlapped, deadline)
        written, err = overlapped.GetOverlappedResult(True)
        if written != len(data):
            raise OSError(f"short write to the pipe ({written} of {len(data)} bytes)")

    def recv(self, deadline: float) -> bytes:
        try:
            overlapped, err = self.api.ReadFile(self.handle, RECV_SIZE, overlapped=True)
        except OSError as exc:
            if getattr(exc, "winerror", None) == ERROR_BROKEN_PIPE:
                return b""
            raise
        if err == ERROR_IO_PENDING:
            self._wait(overlapped, deadline)
        try:
            overlapped.GetOverlappedResult(True)
        except OSError as exc:
            if getattr(exc, "winerror", None) == ERROR_BROKEN_PIPE:
                return b""
            raise
        return bytes(overlapped.getbuffer())

    def close(self) -> None:
        self.api.CloseHandle(self.handle)


def open_channel(endpoint: Endpoint, deadline: float) -> Channel:
    """Connect to `endpoint` before `deadline`; Unreachable when nothing answers."""
    if endpoint.transport == "unix":
        return _connect_unix(endpoint.address, deadline)
    if endpoint.transport == "tcp":
        if endpoint.tls:  # never plaintext: TLS or an error
            from dockspec._io.tls import connect_tls

            return connect_tls(endpoint, deadline)
        return _connect_tcp(endpoint.address, deadline)
    if endpoint.transport == "npipe":
        return PipeChannel.connect(endpoint.address.replace("/", "\\"), deadline)
    if endpoint.transport == "ssh":
        from dockspec._io.ssh import SshChannel

        return SshChannel.connect(endpoint, deadline)
    raise Unreachable(f"{endpoint.url}: the {endpoint.transport} transport is not supported")


def endpoint_present(endpoint: Endpoint) -> bool:
    """Cheap pre-check: a Unix socket path that does not exist is not worth a thread."""
    if endpoint.transport == "unix":
        return os.path.lexists(endpoint.address)
    return True


def same_target(endpoint: Endpoint) -> str:
    """A key equal for two endpoints that reach the same socket (symlinked paths)."""
    if endpoint.transport == "unix":
        return "unix:" + os.path.realpath(endpoint.address)
    return endpoint.url
