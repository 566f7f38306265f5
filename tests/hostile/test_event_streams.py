"""Hostile /events streams against dockspec.watch, from real socket servers (tests/fakedaemon.py).

Four daemons: one that never answers the subscription, one that dribbles,
one that floods, one that sends broken JSON lines. Each must cost bounded
time and memory, leave a reason in Watch.errors, and let close() return
within 100 ms. Each runs through both watches, dockspec.watch (threads) and
dockspec.aio.watch (tasks, whose aclose() also waits for every socket to
close), with the same assertions. The figures (print, run with -s) go in
the issue's note.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import tracemalloc
from collections.abc import Callable

import attrs
import pytest

from dockspec import Env, Limits, aio, watch
from dockspec.events import PortMapChange, events_target
from tests.fakedaemon import DOCKER_HEADERS, FakeDaemon, fake_daemon, http_response
from tests.test_live import until_closed

CID = "c" * 64
LIST = json.dumps(
    [{"Id": CID, "Names": ["/web"], "Image": "bb", "Ports": [{"IP": "0.0.0.0", "PublicPort": 8080, "PrivatePort": 80,
                                                              "Type": "tcp"}]}]
)
HEAD = (
    b"HTTP/1.1 200 OK\r\nServer: Docker/28.5.2 (linux)\r\nApi-Version: 1.51\r\nContent-Type: application/json\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n"
)


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def streaming(body: Callable[[socket.socket, threading.Event], None]) -> Callable[[socket.socket], None]:
    def reply(conn: socket.socket) -> None:
        conn.sendall(HEAD)
        stop = threading.Event()
        try:
            body(conn, stop)
        except OSError:
            pass

    return reply


def event(action: str, cid: str = CID) -> bytes:
    actor = {"ID": cid, "Attributes": {"name": "web"}}
    return json.dumps({"Type": "container", "Action": action, "Actor": actor}).encode()


@pytest.fixture(params=["sync", "aio"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def limits() -> Limits:
    return Limits(deadline=0.5, max_event_bytes=4096, max_reconnect_delay=0.4)


@attrs.frozen
class Figures:
    changes: list[PortMapChange]
    errors: dict[str, str]
    peak_bytes: int
    close_seconds: float
    subscriptions: int

    @property
    def error(self) -> str:
        return next(iter(self.errors.values()), "")


Watched = tuple[list[PortMapChange], dict[str, str], float]


def watched(daemon: FakeDaemon, limits: Limits, seconds: float) -> Watched:
    """dockspec.watch on `daemon` for `seconds`: the changes, the errors, how long close() took."""
    started = time.monotonic()
    changes = []
    live = watch(env=Env(platform="linux", environ={"DOCKER_HOST": daemon.url}), limits=limits)
    try:
        while time.monotonic() - started < seconds:
            change = live.get(0.05)
            if change is not None:
                changes.append(change)
    finally:
        closing = time.monotonic()
        live.close()
        closed = time.monotonic() - closing
        assert live.join(2)  # the threads end too (their sockets closed), so later tests see no stray fds
    return changes, dict(live.errors), closed


def aio_watched(daemon: FakeDaemon, limits: Limits, seconds: float) -> Watched:
    """dockspec.aio.watch on `daemon` for `seconds`, in a loop of its own; aclose()'s time covers every socket."""

    async def main() -> Watched:
        loop = asyncio.get_running_loop()
        started = loop.time()
        changes = []
        live = aio.watch(env=Env(platform="linux", environ={"DOCKER_HOST": daemon.url}), limits=limits)
        async with live:
            try:
                while loop.time() - started < seconds:
                    change = await live.get(0.05)
                    if change is not None:
                        changes.append(change)
            finally:
                closing = time.monotonic()
                await live.aclose()
                closed = time.monotonic() - closing
        return changes, dict(live.errors), closed

    return asyncio.run(main())


def figures(name: str, daemon: FakeDaemon, limits: Limits, seconds: float, kind: str = "sync") -> Figures:
    """Watch `daemon` for `seconds` (`kind`: sync or aio): the changes, errors, peak traced memory, close() time."""
    tracemalloc.start()
    try:
        changes, errors, closed = (watched if kind == "sync" else aio_watched)(daemon, limits, seconds)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    subscriptions = sum(1 for _, target, _ in daemon.requests if target.startswith("/events"))
    found = Figures(changes, errors, peak, closed, subscriptions)
    print(
        f"\n{name} ({kind}): {seconds:.1f} s watched, {len(changes)} changes, {subscriptions} subscriptions, "
        f"peak traced memory {peak / 1024:.0f} KiB, close() {closed * 1000:.2f} ms, error: {found.error or None}"
    )
    return found


def routes(events: object) -> dict[tuple[str, str], object]:
    return {("GET", "/containers/json"): http_response(200, LIST, DOCKER_HEADERS), ("GET", events_target()): events}


def test_never_sends(limits: Limits, kind: str) -> None:
    with fake_daemon(routes(until_closed)) as daemon:
        found = figures("never sends", daemon, limits, 2.0, kind)
    assert found.changes == []  # no headers: the subscription never counts as up
    assert "before the deadline" in found.error
    assert 2 <= found.subscriptions <= 5  # retried, with its delay
    assert found.close_seconds < 0.1
    assert found.peak_bytes < 4 * 1024 * 1024


def test_dribbles(limits: Limits, kind: str) -> None:
    def body(conn: socket.socket, stop: threading.Event) -> None:
        line = event("die") + b"\n"
        for i in range(len(line)):  # a whole event one byte at a time: it still applies
            conn.sendall(chunk(line[i : i + 1]))
            time.sleep(0.002)
        while True:  # then a line that never ends, one byte every millisecond
            conn.sendall(chunk(b"x"))
            time.sleep(0.001)

    limits = Limits(deadline=0.5, max_event_bytes=1024, max_reconnect_delay=0.4)
    with fake_daemon(routes(streaming(body))) as daemon:
        found = figures("dribbles", daemon, limits, 3.0, kind)
    assert found.changes and found.changes[0].added  # the list
    assert any(c.removed for c in found.changes)  # the dribbled die
    assert found.subscriptions >= 2  # the endless line hit the cap: a new subscription
    assert found.close_seconds < 0.1
    assert found.peak_bytes < 4 * 1024 * 1024


def test_floods(limits: Limits, kind: str) -> None:
    def body(conn: socket.socket, stop: threading.Event) -> None:
        burst = chunk((event("exec_die", "d" * 64) + b"\n") * 200)  # valid, ignored events, as fast as it can
        while True:
            conn.sendall(burst)

    with fake_daemon(routes(streaming(body))) as daemon:
        found = figures("floods", daemon, limits, 2.0, kind)
    assert len(found.changes) == 1  # the list; the flood changes nothing
    assert found.errors == {}  # a flood of valid lines is not an error
    assert found.close_seconds < 0.1
    assert found.peak_bytes < 8 * 1024 * 1024


def test_broken_json_lines(limits: Limits, kind: str) -> None:
    def body(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(chunk(b'{"Type":"container","Action":"die","Actor":{"ID":\n'))
        until_closed(conn)

    with fake_daemon(routes(streaming(body))) as daemon:
        found = figures("broken JSON lines", daemon, limits, 2.0, kind)
    assert "not JSON" in found.error
    assert 2 <= found.subscriptions <= 8  # reconnects, each after its delay
    assert len(found.changes) == 1 and found.changes[0].added  # re-lists add nothing new
    assert found.close_seconds < 0.1
