"""A lean fake Docker daemon for benchmarks: one canned list answer on a real Unix socket.

It runs in its own process (`python benches/lean_daemon.py SOCKET BODY_FILE`,
or `start()`), so its work happens on the other core and is not counted in
the benchmark process (neither its wall time nor, under callgrind or
CodSpeed's simulation, its instructions). A request that asks for the
connection to close (dockspec's, and the raw floor's HTTP/1.0) gets the
list answer, whatever its target: 200 with Docker 20.10's headers and the
body, with Content-Length, and the connection closed; only the request head
is read (no body is ever sent).

With `docker_py=True` it also answers what docker-py asks, as Docker 20.10
does, on keep-alive connections (each in a thread): GET /version,
GET /containers/json and GET /containers/{id}/json (an inspect answer made
from benches/docker_answers.json, recorded from Docker 20.10, with the
listed container's id, name, image, labels and published ports), with or
without a /v1.NN prefix; anything else is a 404.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


def _answer(body: bytes, status: str = "200 OK", close: bool = True) -> bytes:
    head = HEADERS.format(length=len(body)).replace("200 OK", status, 1)
    if not close:
        head = head.replace("Connection: close\r\n", "")
    return head.encode() + body


def _port_map(ports: list[dict[str, Any]]) -> dict[str, Any]:
    """A list answer's Ports as inspect's NetworkSettings.Ports: {"80/tcp": [{HostIp, HostPort}] or None}."""
    out: dict[str, Any] = {}
    for p in ports:
        key = f"{p['PrivatePort']}/{p['Type']}"
        if "PublicPort" in p:
            out[key] = [*(out.get(key) or []), {"HostIp": p.get("IP", ""), "HostPort": str(p["PublicPort"])}]
        else:
            out.setdefault(key, None)
    return out


def docker_py_routes(body: bytes) -> dict[str, bytes]:
    """path (no version prefix, no query) -> answer, for what docker-py asks."""
    recorded = json.loads((Path(__file__).resolve().parent / "docker_answers.json").read_text())
    routes = {"/version": json.dumps(recorded["version"]).encode(), "/containers/json": body}
    for item in json.loads(body):
        inspect = json.loads(json.dumps(recorded["inspect"]))
        inspect["Id"] = item["Id"]
        inspect["Name"] = item["Names"][0]
        inspect["Image"] = item["ImageID"]
        inspect["Config"]["Image"] = item["Image"]
        inspect["Config"]["Labels"] = item.get("Labels") or {}
        inspect["NetworkSettings"]["Ports"] = _port_map(item["Ports"])
        routes[f"/containers/{item['Id']}/json"] = json.dumps(inspect).encode()
    return routes


_VERSIONED = re.compile(rb"^/v\d+\.\d+(/.*)$")


def _keep_alive(conn: socket.socket, buffer: bytes, routes: dict[str, bytes]) -> None:
    """Answer requests on one keep-alive connection until the client closes it."""
    with conn:
        while True:
            while b"\r\n\r\n" not in buffer:
                data = conn.recv(65536)
                if not data:
                    return
                buffer += data
            head, buffer = buffer.split(b"\r\n\r\n", 1)
            target = head.split(b" ", 2)[1].split(b"?", 1)[0]
            versioned = _VERSIONED.match(target)
            path = (versioned.group(1) if versioned else target).decode()
            close = b"connection: close" in head.lower()
            found = routes.get(path)
            if found is None:
                conn.sendall(_answer(b'{"message":"page not found"}\n', "404 Not Found", close))
            else:
                conn.sendall(_answer(found, close=close))
            if close:
                return


def serve(path: str, body: bytes, docker_py: bool = False, eager: bool = False) -> None:
    """Answer every connection on `path`, forever (see the module's docstring).

    `eager` (the instruction-count gate's mode) writes the answer as soon as a
    connection is accepted, then reads the request head: the whole answer is
    then in the socket before the client, slowed down by callgrind, reads it,
    so how many reads a detection takes does not depend on how the two
    processes were scheduled.
    """
    answer = _answer(body)
    routes = docker_py_routes(body) if docker_py else None
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(128)
    while True:
        conn, _ = server.accept()
        if eager:
            with conn, contextlib.suppress(OSError):
                conn.sendall(answer)
                while b"\r\n\r\n" not in (head := conn.recv(4096)) and head:
                    pass
            continue
        head = b""
        while b"\r\n\r\n" not in head:
            data = conn.recv(4096)
            if not data:
                break
            head += data
        lowered = head.lower()
        if routes is not None and head and b"connection: close" not in lowered and b" http/1.0\r\n" not in lowered:
            threading.Thread(target=_keep_alive, args=(conn, head, routes), daemon=True).start()
            continue
        with conn:
            if head:
                with contextlib.suppress(OSError):
                    conn.sendall(answer)


@contextlib.contextmanager
def start(
    path: str | Path, body: bytes, body_file: str | Path | None = None, docker_py: bool = False,
    eager: bool = False,
) -> Iterator[str]:
    """Run a lean daemon in a child process for the duration; yields its DOCKER_HOST URL."""
    path = str(path)
    if body_file is None:
        body_file = path + ".body"
        Path(body_file).write_bytes(body)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    flags = [*(["--docker-py"] if docker_py else []), *(["--eager"] if eager else [])]
    child = subprocess.Popen([sys.executable, __file__, path, str(body_file), *flags])
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
    serve(sys.argv[1], Path(sys.argv[2]).read_bytes(), docker_py="--docker-py" in sys.argv[3:],
          eager="--eager" in sys.argv[3:])
