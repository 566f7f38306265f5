"""A fake daemon for unit tests: a real socket server speaking real HTTP.

Requests are parsed with h11's server side; each route answers with raw
bytes (so tests can send exact framing, including broken framing) or with a
callable that gets the connected socket (to hang, dribble or reset).
"""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import h11

Reply = bytes | Callable[[socket.socket], None]


def http_response(
    status: int = 200,
    body: bytes | str = b"",
    headers: list[tuple[str, str]] | None = None,
    framing: str = "content-length",
    reason: str = "OK",
) -> bytes:
    """Raw response bytes with the given body framing: content-length, chunked or close."""
    if isinstance(body, str):
        body = body.encode()
    lines = [f"HTTP/1.1 {status} {reason}"]
    lines += [f"{k}: {v}" for k, v in headers or []]
    if framing == "content-length":
        lines.append(f"Content-Length: {len(body)}")
        payload = body
    elif framing == "chunked":
        lines.append("Transfer-Encoding: chunked")
        chunks = [body[i : i + 7] for i in range(0, len(body), 7)]
        payload = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
    elif framing == "close":
        lines.append("Connection: close")
        payload = body
    else:
        raise ValueError(framing)
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


DOCKER_HEADERS = [("Server", "Docker/20.10.24 (linux)"), ("Api-Version", "1.41"), ("Content-Type", "application/json")]
PODMAN_HEADERS = [
    ("Libpod-Api-Version", "4.3.1"),
    ("Server", "Libpod/4.3.1 (linux)"),
    ("Content-Type", "application/json"),
]


class FakeDaemon:
    """Serves `routes` ({(method, target): Reply}) on a Unix socket or TCP port."""

    def __init__(
        self,
        routes: dict[tuple[str, str], Reply] | None = None,
        *,
        tcp: bool = False,
        host: str = "127.0.0.1",
        path: str | None = None,
    ) -> None:
        self.routes: dict[tuple[str, str], Reply] = dict(routes or {})
        self.requests: list[tuple[str, str, list[tuple[bytes, bytes]]]] = []
        self.raw: list[bytes] = []
        self._dir = tempfile.mkdtemp(prefix="dockspec-fake-")
        if tcp:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            self.sock = socket.socket(family, socket.SOCK_STREAM)
            self.sock.bind((host, 0))
            port = self.sock.getsockname()[1]
            self.url = f"tcp://[{host}]:{port}" if ":" in host else f"tcp://{host}:{port}"
            self.path = ""
        else:
            self.path = path or os.path.join(self._dir, "docker.sock")
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.bind(self.path)
            self.url = "unix://" + self.path
        self.sock.listen(64)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._accept = threading.Thread(target=self._serve, name="fake-daemon", daemon=True)
        self._accept.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.05)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            thread = threading.Thread(target=self._handle, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _handle(self, conn: socket.socket) -> None:
        with contextlib.closing(conn):
            parser = h11.Connection(h11.SERVER)
            request = None
            raw = b""
            conn.settimeout(5)
            while True:
                event = parser.next_event()
                if event is h11.NEED_DATA:
                    try:
                        data = conn.recv(65536)
                    except OSError:
                        return
                    raw += data
                    parser.receive_data(data)
                    if not data:
                        return
                    continue
                if isinstance(event, h11.Request):
                    request = event
                if isinstance(event, h11.EndOfMessage):
                    break
            assert request is not None
            method, target = request.method.decode(), request.target.decode()
            self.requests.append((method, target, list(request.headers)))
            self.raw.append(raw)
            reply = self.routes.get((method, target))
            if reply is None:
                reply = http_response(404, '{"message":"page not found"}', DOCKER_HEADERS)
            try:
                if callable(reply):
                    reply(conn)
                else:
                    conn.sendall(reply)
            except OSError:
                pass

    def close(self) -> None:
        self._stop.set()
        self._accept.join(2)
        self.sock.close()
        for thread in self._threads:
            thread.join(0.1)
        with contextlib.suppress(OSError):
            if self.path:
                os.unlink(self.path)
            os.rmdir(self._dir)


def hang(conn: socket.socket, seconds: float = 10.0) -> None:
    """Accept the request and never answer (for `seconds`)."""
    time.sleep(seconds)


def dribble(data: bytes, interval: float = 1.0) -> Callable[[socket.socket], None]:
    """Send `data` one byte per `interval` seconds."""

    def reply(conn: socket.socket) -> None:
        for i in range(len(data)):
            conn.sendall(data[i : i + 1])
            time.sleep(interval)

    return reply


@contextlib.contextmanager
def fake_daemon(routes: dict[tuple[str, str], Reply] | None = None, **kw: Any) -> Iterator[FakeDaemon]:
    daemon = FakeDaemon(routes, **kw)
    try:
        yield daemon
    finally:
        daemon.close()


CHILD = """
import pickle, sys
sys.path.insert(0, sys.argv[1])
from tests.fakedaemon import FakeDaemon
routes, options = pickle.loads(sys.stdin.buffer.read(int(sys.stdin.buffer.readline())))
daemon = FakeDaemon(routes, **options)
print(daemon.url, flush=True)
sys.stdin.buffer.read()  # serve until the parent closes stdin
daemon.close()
"""


@contextlib.contextmanager
def served_as(
    uid: int, gid: int, routes: dict[tuple[str, str], bytes], *, netns: str | None = None, **options: Any
) -> Iterator[str]:
    """A FakeDaemon in a child process run as `uid`:`gid` (setpriv), optionally inside `ip netns exec NETNS`; its url.

    Routes are raw replies only (they cross a pipe). The child ends when the block does.
    """
    import pickle
    import subprocess
    import sys

    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    command = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", sys.executable, "-c", CHILD, repo]
    if netns is not None:
        command = ["ip", "netns", "exec", netns, *command]
    child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert child.stdin is not None and child.stdout is not None
    try:
        payload = pickle.dumps((routes, options))
        child.stdin.write(b"%d\n" % len(payload) + payload)
        child.stdin.flush()
        url = child.stdout.readline().decode().strip()
        assert url, "the fake daemon's child did not start"
        yield url
    finally:
        with contextlib.suppress(OSError):
            child.stdin.close()
        try:
            child.wait(5)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(5)
