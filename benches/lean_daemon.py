"""A lean fake Docker daemon for benchmarks: one canned list answer on a real Unix socket.

It runs in its own process (`python benches/lean_daemon.py SOCKET BODY_FILE`,
or `start()`), so its work happens on the other core and is not counted in
the benchmark process (neither its wall time nor, under callgrind or
CodSpeed's simulation, its instructions). Every request gets the same answer:
200 with Docker 20.10's headers and the body, with Content-Length, and the
connection closed; only the request head is read (no body is ever sent).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

HEADERS = (
    "HTTP/1.1 200 OK\r\n"
    "Api-Version: 1.41\r\n"
    "Content-Type: application/json\r\n"
    "Docker-Experimental: false\r\n"
    "Ostype: linux\r\n"
    "Server: Docker/20.10.24+dfsg1 (linux)\r\n"
    "Content-Length: {length}\r\n"
    "Connection: close\r\n"
    "\r\n"
)


def serve(path: str, body: bytes) -> None:
    """Answer every connection on `path` with `body`, forever."""
    answer = HEADERS.format(length=len(body)).encode() + body
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(128)
    while True:
        conn, _ = server.accept()
        with conn:
            head = b""
            while b"\r\n\r\n" not in head:
                data = conn.recv(4096)
                if not data:
                    break
                head += data
            if head:
                with contextlib.suppress(OSError):
                    conn.sendall(answer)


@contextlib.contextmanager
def start(path: str | Path, body: bytes, body_file: str | Path | None = None) -> Iterator[str]:
    """Run a lean daemon in a child process for the duration; yields its DOCKER_HOST URL."""
    path = str(path)
    if body_file is None:
        body_file = path + ".body"
        Path(body_file).write_bytes(body)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    child = subprocess.Popen([sys.executable, __file__, path, str(body_file)])
    try:
        deadline = time.monotonic() + 10
        while not os.path.exists(path):
            if time.monotonic() > deadline or child.poll() is not None:
                raise RuntimeError("the lean daemon did not start")
            time.sleep(0.01)
        yield "unix://" + path
    finally:
        child.terminate()
        child.wait(5)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def raw_list(path: str, target: str = "/containers/json") -> object:
    """The floor: one HTTP/1.0 request on a fresh connection, read to EOF, json.loads of the body.

    HTTP/1.0 keeps a real daemon from chunking its answer, so this needs no HTTP parser.
    """
    import json

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
        sock.sendall(f"GET {target} HTTP/1.0\r\nHost: localhost\r\n\r\n".encode())
        chunks = []
        while True:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
    finally:
        sock.close()
    raw = b"".join(chunks)
    return json.loads(raw[raw.index(b"\r\n\r\n") + 4 :])


if __name__ == "__main__":
    serve(sys.argv[1], Path(sys.argv[2]).read_bytes())
