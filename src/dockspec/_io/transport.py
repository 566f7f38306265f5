"""Byte channels to a daemon: Unix socket, TCP, Windows named pipe.

A channel connects, sends and receives before an absolute monotonic
deadline; it parses nothing. Connection failures raise Unreachable; a
deadline passing after connect raises TimeoutError.
"""

from __future__ import annotations

import os
from typing import Any, Protocol

from dockspec._generated.models import Spec
from dockspec._io.net import RECV_SIZE, Unreachable, connect_tcp, connect_unix, describe, remaining
from dockspec.models import Endpoint

__all__ = ["Channel", "Unreachable", "endpoint_present", "open_channel", "same_target", "socket_owner"]


class Channel(Protocol):
    def send(self, data: bytes, deadline: float) -> None: ...

    def recv(self, deadline: float) -> bytes: ...

    def close(self) -> None: ...



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
                    raise Unreachable(f"{path}: {describe(exc)}") from None
            try:
                wait_ms = int(remaining(deadline) * 1000)
            except TimeoutError:
                raise Unreachable(f"{path}: pipe busy until the deadline") from None
            api.WaitNamedPipe(path, max(wait_ms, 1))

    def _wait(self, overlapped: Any, deadline: float) -> None:
        try:
            wait_ms = int(remaining(deadline) * 1000)
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


def open_channel(endpoint: Endpoint, deadline: float, spec: Spec) -> Channel:
    """Connect to `endpoint` before `deadline`; Unreachable when nothing answers.

    `spec` gives the ssh transport its command line (spec/discovery.yaml).
    """
    if endpoint.transport == "unix":
        return connect_unix(endpoint.address, deadline)
    if endpoint.transport == "tcp":
        if endpoint.tls:  # never plaintext: TLS or an error
            from dockspec._io.tls import connect_tls

            return connect_tls(endpoint, deadline)
        return connect_tcp(endpoint.address, deadline)
    if endpoint.transport == "npipe":
        return PipeChannel.connect(endpoint.address.replace("/", "\\"), deadline)
    if endpoint.transport == "ssh":
        from dockspec._io.ssh import SshChannel

        return SshChannel.connect(endpoint, deadline, spec)
    raise Unreachable(f"{endpoint.url}: the {endpoint.transport} transport is not supported")


def endpoint_present(endpoint: Endpoint) -> bool:
    """Cheap pre-check: a Unix socket path that does not exist is not worth a thread."""
    if endpoint.transport == "unix":
        return os.path.lexists(endpoint.address)
    return True


def socket_owner(endpoint: Endpoint) -> int | None:
    """The uid owning a Unix socket's path (lstat: a link's own owner); None when missing or not a Unix socket."""
    if endpoint.transport != "unix":
        return None
    try:
        return os.lstat(endpoint.address).st_uid
    except (OSError, ValueError):
        return None


def same_target(endpoint: Endpoint) -> str:
    """A key equal for two endpoints that reach the same socket (symlinked paths)."""
    if endpoint.transport == "unix":
        return "unix:" + os.path.realpath(endpoint.address)
    return endpoint.url
