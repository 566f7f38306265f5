"""Transports: the named-pipe channel's code path, run on Linux through a stand-in for _winapi.

The stand-in keeps _winapi's calling conventions (overlapped ReadFile and
WriteFile returning (overlapped, error), WaitForMultipleObjects with a
millisecond timeout, ERROR_BROKEN_PIPE at end of stream) over a real
socketpair, so the deadline and end-of-stream handling are exercised for real.
What only Windows can confirm is that the real pipe behaves like this.
"""

from __future__ import annotations

import select
import socket
import threading
import time
from typing import Any

import pytest

from dockspec._io.transport import (
    ERROR_BROKEN_PIPE,
    ERROR_IO_PENDING,
    ERROR_PIPE_BUSY,
    WAIT_TIMEOUT,
    PipeChannel,
    Unreachable,
    open_channel,
)
from dockspec.addresses import split_host_port
from dockspec.models import Endpoint
from dockspec.spec import builtin_spec
from tests.fakedaemon import DOCKER_HEADERS, http_response


class WinError(OSError):
    def __init__(self, winerror: int) -> None:
        super().__init__(winerror, "windows error")
        self.winerror = winerror


class Overlapped:
    def __init__(self, api: FakeWinApi, sock: socket.socket, kind: str, payload: bytes | int) -> None:
        self.api, self.sock, self.kind, self.payload = api, sock, kind, payload
        self.event = sock
        self.data = b""
        self.cancelled = False

    def GetOverlappedResult(self, wait: bool) -> tuple[int, int]:
        if self.kind == "write":
            assert isinstance(self.payload, bytes)
            self.sock.sendall(self.payload)
            return len(self.payload), 0
        assert isinstance(self.payload, int)
        self.data = self.sock.recv(self.payload)
        if not self.data:
            raise WinError(ERROR_BROKEN_PIPE)
        return len(self.data), 0

    def getbuffer(self) -> bytes:
        return self.data

    def cancel(self) -> None:
        self.cancelled = True
        self.api.cancelled += 1


class FakeWinApi:
    """The few _winapi functions PipeChannel uses, over one end of a socketpair."""

    GENERIC_READ = 0x80000000
    GENERIC_WRITE = 0x40000000
    OPEN_EXISTING = 3
    FILE_FLAG_OVERLAPPED = 0x40000000

    def __init__(self, sock: socket.socket | None, busy: int = 0) -> None:
        self.sock = sock
        self.busy = busy
        self.cancelled = 0
        self.closed = False
        self.opened: list[str] = []

    def CreateFile(self, path: str, access: int, share: int, sa: int, disp: int, flags: int, tmpl: int) -> Any:
        assert flags & self.FILE_FLAG_OVERLAPPED
        self.opened.append(path)
        if self.sock is None:
            raise WinError(2)
        if self.busy:
            self.busy -= 1
            raise WinError(ERROR_PIPE_BUSY)
        return self.sock

    def WaitNamedPipe(self, path: str, timeout_ms: int) -> None:
        assert timeout_ms >= 1

    def WriteFile(self, handle: socket.socket, data: bytes, overlapped: bool) -> tuple[Overlapped, int]:
        return Overlapped(self, handle, "write", data), 0

    def ReadFile(self, handle: socket.socket, size: int, overlapped: bool) -> tuple[Overlapped, int]:
        return Overlapped(self, handle, "read", size), ERROR_IO_PENDING

    def WaitForMultipleObjects(self, handles: list[socket.socket], wait_all: bool, timeout_ms: int) -> int:
        ready, _, _ = select.select(handles, [], [], timeout_ms / 1000)
        return 0 if ready else WAIT_TIMEOUT

    def CloseHandle(self, handle: socket.socket) -> None:
        self.closed = True
        handle.close()


def serve_once(peer: socket.socket, answer: bytes) -> threading.Thread:
    def run() -> None:
        peer.recv(65536)
        peer.sendall(answer)
        peer.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_pipe_channel_exchanges_a_request() -> None:
    """Connect (after a busy pipe), send, read to end of stream, close."""
    ours, theirs = socket.socketpair()
    api = FakeWinApi(ours, busy=1)
    answer = http_response(200, b"[]", DOCKER_HEADERS, framing="close")
    thread = serve_once(theirs, answer)
    deadline = time.monotonic() + 2
    channel = PipeChannel.connect(r"\\.\pipe\docker_engine", deadline, api)
    channel.send(b"GET /containers/json HTTP/1.1\r\n\r\n", deadline)
    received = b""
    while chunk := channel.recv(deadline):
        received += chunk
    channel.close()
    thread.join(2)
    assert answer == received
    assert [r"\\.\pipe\docker_engine"] * 2 == api.opened
    assert api.closed


def test_pipe_channel_read_honours_the_deadline() -> None:
    """A pipe that never answers: the pending read is cancelled at the deadline."""
    ours, theirs = socket.socketpair()
    api = FakeWinApi(ours)
    channel = PipeChannel.connect(r"\\.\pipe\docker_engine", time.monotonic() + 2, api)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        channel.recv(time.monotonic() + 0.2)
    assert time.monotonic() - started < 1.0
    assert 1 == api.cancelled
    channel.close()
    theirs.close()


def test_missing_pipe_is_unreachable() -> None:
    with pytest.raises(Unreachable):
        PipeChannel.connect(r"\\.\pipe\nothing", time.monotonic() + 1, FakeWinApi(None))


@pytest.mark.parametrize(
    ("address", "expected"),
    [("localhost:2375", ("localhost", 2375)), ("[::1]:2376", ("::1", 2376)), ("10.0.0.1:1", ("10.0.0.1", 1))],
)
def test_split_host_port(address: str, expected: tuple[str, int]) -> None:
    assert expected == split_host_port(address)


def test_fd_transport_is_unreachable_not_a_crash() -> None:
    """fd:// is parsed (the docker CLI accepts it) but has no transport here: a clean Unreachable."""
    endpoint = Endpoint(url="fd://3", transport="fd", address="3")
    with pytest.raises(Unreachable, match="fd"):
        open_channel(endpoint, time.monotonic() + 1, builtin_spec())
