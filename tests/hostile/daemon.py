"""A fault-injection daemon: a real Unix-socket or TCP server driven per scenario.

Unlike tests/fakedaemon.py (which always reads a whole request, then answers
one route), a HostileDaemon applies one `Behaviour` to every connection, and
the behaviour may act before the request is read (close at once, reset).
Every behaviour ends as soon as the client goes away or the daemon is closed,
so a scenario leaves no thread or socket behind, and the tests can count the
file descriptors dockspec itself leaves open.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import tempfile
import threading
import time
from collections.abc import Callable, Iterator

import h11

__all__ = [
    "Behaviour",
    "Conn",
    "HostileDaemon",
    "after_request",
    "black_hole",
    "hostile_daemon",
    "reply_with",
]

POLL = 0.02


class Conn:
    """One accepted connection, with helpers that stop when the client or the daemon goes away."""

    def __init__(self, sock: socket.socket, stop: threading.Event, requests: list[bytes]) -> None:
        self.sock = sock
        self.stop = stop
        self.requests = requests
        self.sock.settimeout(POLL)

    @property
    def alive(self) -> bool:
        return not self.stop.is_set()

    def read_request(self) -> bytes | None:
        """Read one whole request (h11 server side); record its raw bytes. None if the client left."""
        parser = h11.Connection(h11.SERVER)
        raw = b""
        while self.alive:
            event = parser.next_event()
            if event is h11.NEED_DATA:
                data = self._recv()
                if data is None:
                    continue
                if not data:
                    return None
                raw += data
                parser.receive_data(data)
                continue
            if isinstance(event, h11.EndOfMessage):
                self.requests.append(raw)
                return raw
        return None

    def _recv(self) -> bytes | None:
        """Bytes, b"" when the client closed, None when nothing came within POLL."""
        try:
            return self.sock.recv(65536)
        except TimeoutError:
            return None
        except OSError:
            return b""

    def send(self, data: bytes) -> bool:
        """Send all of `data` unless the client or the daemon goes away first; True if sent."""
        view = memoryview(data)
        while view and self.alive:
            try:
                view = view[self.sock.send(view) :]
            except TimeoutError:
                continue
            except OSError:
                return False
        return not view

    def wait_for_close(self, seconds: float = 60.0) -> None:
        """Read and discard until the client closes (or `seconds`, or the daemon stops)."""
        end = time.monotonic() + seconds
        while self.alive and time.monotonic() < end:
            if self._recv() == b"":
                return

    def client_gone(self) -> bool:
        """True when the client has closed its end (non-destructive check)."""
        try:
            self.sock.setblocking(False)
            try:
                return self.sock.recv(1, socket.MSG_PEEK) == b""
            finally:
                self.sock.settimeout(POLL)
        except BlockingIOError:
            return False
        except OSError:
            return True

    def sleep(self, seconds: float) -> bool:
        """Sleep, waking early when the client leaves or the daemon stops; True if still wanted."""
        end = time.monotonic() + seconds
        while self.alive and time.monotonic() < end:
            if self.client_gone():
                return False
            time.sleep(min(POLL, max(end - time.monotonic(), 0)))
        return self.alive and not self.client_gone()

    def reset(self) -> None:
        """Abort the connection with RST (SO_LINGER on, timeout 0) instead of FIN."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()


Behaviour = Callable[[Conn], None]
"""What the daemon does with one connection; it may read the request or not."""


def after_request(reply: Callable[[Conn], None]) -> Behaviour:
    """Read the request first (recorded in `requests`), then run `reply`."""

    def behaviour(conn: Conn) -> None:
        if conn.read_request() is not None:
            reply(conn)

    return behaviour


def reply_with(data: bytes) -> Behaviour:
    """Read the request, send `data`, close."""

    def reply(conn: Conn) -> None:
        conn.send(data)

    return after_request(reply)


class HostileDaemon:
    """Serves `behaviour` on a Unix socket (default) or on 127.0.0.1 TCP.

    `directory` chooses where the socket file goes (a fresh private temp dir
    by default); `requests` holds the raw bytes of every request read.
    """

    def __init__(self, behaviour: Behaviour, *, tcp: bool = False, directory: str | None = None) -> None:
        self.behaviour = behaviour
        self.requests: list[bytes] = []
        self.accepted = 0
        self._own_dir = directory is None
        self.dir = directory if directory is not None else tempfile.mkdtemp(prefix="dockspec-hostile-")
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        if tcp:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.bind(("127.0.0.1", 0))
            self.port = self.sock.getsockname()[1]
            self.url = f"tcp://127.0.0.1:{self.port}"
            self.path = ""
        else:
            self.path = os.path.join(self.dir, f"hostile-{id(self):x}.sock")
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.bind(self.path)
            self.url = "unix://" + self.path
            self.port = 0
        self.sock.listen(64)
        self.sock.settimeout(POLL)
        self._accept = threading.Thread(target=self._serve, name="hostile-daemon", daemon=True)
        self._accept.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                sock, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.accepted += 1
            thread = threading.Thread(target=self._handle, args=(sock,), name="hostile-conn", daemon=True)
            self._threads.append(thread)
            thread.start()

    def _handle(self, sock: socket.socket) -> None:
        conn = Conn(sock, self._stop, self.requests)
        try:
            self.behaviour(conn)
        except OSError:
            pass
        finally:
            sock.close()

    def close(self) -> None:
        self._stop.set()
        self._accept.join(2)
        self.sock.close()
        for thread in self._threads:
            thread.join(2)
        with contextlib.suppress(OSError):
            if self.path:
                os.unlink(self.path)
            if self._own_dir:
                os.rmdir(self.dir)


@contextlib.contextmanager
def hostile_daemon(
    behaviour: Behaviour, *, tcp: bool = False, directory: str | None = None
) -> Iterator[HostileDaemon]:
    daemon = HostileDaemon(behaviour, tcp=tcp, directory=directory)
    try:
        yield daemon
    finally:
        daemon.close()


@contextlib.contextmanager
def black_hole() -> Iterator[int]:
    """A 127.0.0.1 port whose SYNs go unanswered: a backlog-0 listener whose queue is full.

    The one queued connection is never accepted, so further connects neither
    complete nor fail; only loopback is involved.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    fillers: list[socket.socket] = []
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        # Fill the accept queue until a connect no longer completes.
        for _ in range(8):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            fillers.append(filler)
            filler.settimeout(0.2)
            try:
                filler.connect(("127.0.0.1", port))
            except TimeoutError:
                break
        else:  # pragma: no cover - a kernel that never drops SYNs
            raise RuntimeError("could not fill the accept queue of a backlog-0 listener")
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()
