"""dockspec.aio.watch against fake daemons (real socket servers): the sync watch's behaviour, in one loop, no thread.

The scenarios of tests/test_live.py (list then events in order, a relist on
start, a drop on die, a socket that appears later, late headers only for
the Podman versions that send them late), plus what is the coroutine's
own: `async for` ends on aclose(), which returns within 100 ms with every
socket closed, and no thread is started. The four hostile streams run
through both watches in tests/hostile/test_event_streams.py.
"""

from __future__ import annotations

import asyncio
import json
import pathlib
import socket
import threading
import time

from dockspec import Env, Limits, Protocol, aio
from dockspec.events import PortMapChange, events_target, relist_target
from tests.fakedaemon import DOCKER_HEADERS, fake_daemon, http_response
from tests.test_live import NEW, OLD, container, line, until_closed
from tests.test_ssh import open_fds

HEAD = b"HTTP/1.1 200 OK\r\nServer: Docker/28.5.2 (linux)\r\nTransfer-Encoding: chunked\r\n\r\n"


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def threads_of_ours() -> set[str]:
    """Live threads that are not the fake daemon's (its acceptor and one per connection) nor pytest's main."""
    return {
        t.name for t in threading.enumerate()
        if t is not threading.main_thread() and t.name != "fake-daemon" and "(_handle)" not in t.name
    }


def test_list_then_events_in_order_async_for_ends_on_aclose_within_100_ms() -> None:
    go = threading.Event()
    saw_close = threading.Event()

    def stream(conn: socket.socket) -> None:
        conn.sendall(HEAD)
        go.wait(5)
        for data in (line("start", NEW), line("exec_die", NEW), line("die", OLD)):
            conn.sendall(chunk(data))
        until_closed(conn)
        saw_close.set()

    routes = {
        ("GET", "/containers/json"): http_response(200, json.dumps([container(OLD, "old", 8080)]), DOCKER_HEADERS),
        ("GET", relist_target("/containers/json", NEW)): http_response(
            200, json.dumps([container(NEW, "new", 9090)]), DOCKER_HEADERS
        ),
        ("GET", events_target()): stream,
    }

    async def main(url: str) -> tuple[list[PortMapChange], float, dict[str, str], set[str]]:
        seen: list[PortMapChange] = []
        env = Env(platform="linux", environ={"DOCKER_HOST": url})
        async with aio.watch(env=env, limits=Limits(deadline=2.0)) as live:
            async for change in live:
                seen.append(change)
                if len(seen) == 1:
                    go.set()
                if len(seen) == 3:
                    threads = threads_of_ours()
                    engines = dict(live.engines)
                    assert {k[1] for k in live.port_map} == {9090}
                    assert [r.endpoint.url for r in live.reports()] == [url]
                    started = time.monotonic()
                    await live.aclose()
                    closed = time.monotonic() - started
            assert await live.get(0.01) is None  # closed: nothing more, at once
        return seen, closed, engines, threads

    with fake_daemon(routes) as daemon:  # type: ignore[arg-type]
        before = open_fds()
        threads = threads_of_ours()
        seen, closed, engines, during = asyncio.run(asyncio.wait_for(main(daemon.url), 10))
        first, second, third = seen
        assert [(k, v.name) for k, v in first.added] == [(("127.0.0.1", 8080, Protocol.TCP), "old")]
        assert [(k[1], v.name) for k, v in second.added] == [(9090, "new")] and second.removed == ()
        assert [(k[1], v.name) for k, v in third.removed] == [(8080, "old")] and third.added == ()
        assert engines == {daemon.url: "docker"}
        assert during == threads  # no thread of the watch's own
        assert closed < 0.1
        assert saw_close.wait(1)  # the daemon saw the subscription close
        end = time.monotonic() + 1
        while open_fds() != before and time.monotonic() < end:  # the fake daemon's side closes on its thread
            time.sleep(0.01)
        assert open_fds() == before  # no descriptor of the watch left
        asked = [t for _, t, _ in daemon.requests]
        # the subscription is sent before the list, but on another connection: the fake daemon may record
        # either first; the relist comes after the start event, so after both
        assert sorted(asked[:2]) == sorted([events_target(), "/containers/json"])
        assert asked[2:] == [relist_target("/containers/json", NEW)]


def test_a_socket_that_appears_later_is_picked_up(tmp_path: pathlib.Path) -> None:
    def stream(conn: socket.socket) -> None:
        conn.sendall(HEAD)
        until_closed(conn)

    routes = {
        ("GET", "/containers/json"): http_response(200, json.dumps([container(OLD, "old", 8080)]), DOCKER_HEADERS),
        ("GET", events_target()): stream,
    }
    later = tmp_path / "later.sock"
    env = Env(platform="linux", environ={"DOCKER_HOST": f"unix://{later}"})

    async def main() -> None:
        async with aio.watch(env=env, limits=Limits(deadline=1.0, max_reconnect_delay=0.2)) as live:
            assert await live.get(0.5) is None and "No such file" in live.errors[f"unix://{later}"]
            with fake_daemon(routes) as daemon:  # type: ignore[arg-type]
                later.symlink_to(daemon.path)
                change = await live.get(3)
                assert change is not None and [v.name for _, v in change.added] == ["old"]
                await live.aclose()

    asyncio.run(main())


def test_a_stream_that_ends_is_followed_again_and_listed_again() -> None:
    """The daemon ends the stream; the task reconnects after its delay and the new list's difference comes."""
    lists = [json.dumps([container(OLD, "old", 8080)]), json.dumps([container(NEW, "new", 9090)])]

    def listing(conn: socket.socket) -> None:
        conn.sendall(http_response(200, lists[0] if len(lists) > 1 else lists[-1], DOCKER_HEADERS))
        if len(lists) > 1:
            lists.pop(0)

    def stream(conn: socket.socket) -> None:
        conn.sendall(HEAD)
        time.sleep(0.3)
        conn.sendall(b"0\r\n\r\n")  # the end of the body

    routes = {("GET", "/containers/json"): listing, ("GET", events_target()): stream}

    async def main(url: str) -> list[PortMapChange]:
        env = Env(platform="linux", environ={"DOCKER_HOST": url})
        async with aio.watch(env=env, limits=Limits(deadline=1.0, max_reconnect_delay=0.2)) as live:
            first, second = await live.get(3), await live.get(3)
            assert first is not None and second is not None
            return [first, second]

    with fake_daemon(routes) as daemon:  # type: ignore[arg-type]
        first, second = asyncio.run(main(daemon.url))
        subscriptions = sum(1 for _, t, _ in daemon.requests if t.startswith("/events"))
    assert [v.name for _, v in first.added] == ["old"]
    assert [v.name for _, v in second.added] == ["new"] and [v.name for _, v in second.removed] == ["old"]
    assert subscriptions >= 2


def test_late_headers_are_awaited_only_for_the_podman_versions_that_send_them_late() -> None:
    for version, late_ok in (("5.2.1", True), ("4.3.1", False)):
        headers = [("Libpod-Api-Version", version), ("Server", f"Libpod/{version} (linux)")]

        def stream(conn: socket.socket, headers: list[tuple[str, str]] = headers) -> None:
            time.sleep(1.2)  # past the 0.5 s deadline: headers only with the first event
            head = "".join(f"{k}: {v}\r\n" for k, v in headers)
            conn.sendall(f"HTTP/1.1 200 OK\r\n{head}Transfer-Encoding: chunked\r\n\r\n".encode())
            conn.sendall(chunk(line("die", OLD)))
            until_closed(conn)

        body = json.dumps([{"Id": OLD, "Names": ["old"], "Image": "bb", "Ports": [
            {"host_ip": "", "host_port": 8080, "container_port": 80, "protocol": "tcp", "range": 1}]}])
        routes = {
            ("GET", "/containers/json"): http_response(200, "[]", headers),
            ("GET", "/v4.0.0/libpod/containers/json"): http_response(200, body, headers),
            ("GET", events_target()): stream,
        }

        async def main(url: str, late_ok: bool = late_ok) -> None:
            env = Env(platform="linux", environ={"DOCKER_HOST": url})
            async with aio.watch(env=env, limits=Limits(deadline=0.5, max_reconnect_delay=5)) as live:
                first = await live.get(3)
                if late_ok:
                    assert first is not None and first.added
                    second = await live.get(3)
                    assert second is not None and second.removed
                else:
                    assert first is None
                    assert "before the deadline" in live.errors[url]

        with fake_daemon(routes) as daemon:  # type: ignore[arg-type]
            asyncio.run(main(daemon.url))


def test_a_full_queue_holds_the_stream_and_the_order_is_the_maps() -> None:
    """max_pending_changes=1 and a caller that does not read: the task waits; then every change comes, in order."""
    ids = [f"{i:064x}" for i in range(1, 6)]

    def stream(conn: socket.socket) -> None:
        conn.sendall(HEAD)
        for cid in ids:
            conn.sendall(chunk(line("die", cid)))
        until_closed(conn)

    body = json.dumps([container(cid, f"c{i}", 8000 + i) for i, cid in enumerate(ids)])
    routes = {("GET", "/containers/json"): http_response(200, body, DOCKER_HEADERS), ("GET", events_target()): stream}

    async def main(url: str) -> list[PortMapChange]:
        env = Env(platform="linux", environ={"DOCKER_HOST": url})
        async with aio.watch(env=env, limits=Limits(deadline=1.0, max_pending_changes=1)) as live:
            await asyncio.sleep(0.5)  # the list and every event are in; the queue holds one change
            # the list's change waits in the queue; the first die is applied and its task waits to queue it
            assert len(live.port_map) == 4
            return [c for c in [await live.get(2) for _ in range(6)] if c is not None]

    with fake_daemon(routes) as daemon:  # type: ignore[arg-type]
        changes = asyncio.run(main(daemon.url))
    assert len(changes) == 6 and len(changes[0].added) == 5
    assert [c.removed[0][1].name for c in changes[1:]] == [f"c{i}" for i in range(5)]
    assert len(changes[-1].port_map) == 0


def both_errors(routes: dict[tuple[str, str], object], limits: Limits, seconds: float = 1.0, **kw: object) -> list[str]:
    """The sync watch's and the aio watch's error on the same fake daemon after `seconds`."""
    from dockspec import watch

    with fake_daemon(routes, **kw) as daemon:  # type: ignore[arg-type]
        env = Env(platform="linux", environ={"DOCKER_HOST": daemon.url})
        with watch(env=env, limits=limits) as live:
            time.sleep(seconds)
            sync = dict(live.errors)
        assert live.join(2)

        async def main() -> dict[str, str]:
            async with aio.watch(env=env, limits=limits) as live:
                await asyncio.sleep(seconds)
                return dict(live.errors)

        ours = asyncio.run(main())
    assert list(sync) == list(ours) == [daemon.url]
    return [sync[daemon.url], ours[daemon.url]]


def test_the_same_errors_as_the_sync_watch_for_oversized_headers_a_chunk_line_a_status_and_bad_framing() -> None:
    good_list = http_response(200, json.dumps([container(OLD, "old", 8080)]), DOCKER_HEADERS)
    limits = Limits(deadline=0.5, max_header_bytes=2048, max_reconnect_delay=5)
    cases = {
        "header blocks": b"HTTP/1.1 200 OK\r\n" + b"X-Pad: " + b"p" * 4096 + b"\r\n\r\n",
        "chunk line": HEAD + b"1" * 4096,
        "answered 500": HEAD.replace(b"200 OK", b"500 Internal Server Error"),  # held open: its status counts
        "ended the events stream": http_response(500, '{"message":"no"}', DOCKER_HEADERS),  # whole, with the head
        "malformed HTTP": HEAD + b"zz\r\n",
    }
    for words, events in cases.items():
        def stream(conn: socket.socket, events: bytes = events) -> None:
            conn.sendall(events)
            until_closed(conn)

        sync, ours = both_errors({("GET", "/containers/json"): good_list, ("GET", events_target()): stream}, limits)
        assert sync == ours and words in ours, (words, sync, ours)


def test_over_tcp() -> None:
    def stream(conn: socket.socket) -> None:
        conn.sendall(HEAD)
        time.sleep(0.2)
        conn.sendall(chunk(line("die", OLD)))
        until_closed(conn)

    routes = {
        ("GET", "/containers/json"): http_response(200, json.dumps([container(OLD, "old", 8080)]), DOCKER_HEADERS),
        ("GET", events_target()): stream,
    }

    async def main(url: str) -> list[PortMapChange]:
        async with aio.watch(env=Env(platform="linux", environ={"DOCKER_HOST": url})) as live:
            return [c for c in (await live.get(3), await live.get(3)) if c is not None]

    with fake_daemon(routes, tcp=True) as daemon:  # type: ignore[arg-type]
        first, second = asyncio.run(main(daemon.url))
        host = [dict(h)[b"host"] for _, t, h in daemon.requests if t == events_target()]
    assert [v.name for _, v in first.added] == ["old"] and [v.name for _, v in second.removed] == ["old"]
    assert host == [daemon.url.removeprefix("tcp://").encode()]


def test_cancelling_the_callers_task_closes_every_socket() -> None:
    saw_close = threading.Event()

    def stream(conn: socket.socket) -> None:
        conn.sendall(HEAD)
        until_closed(conn)
        saw_close.set()

    routes = {
        ("GET", "/containers/json"): http_response(200, json.dumps([container(OLD, "old", 8080)]), DOCKER_HEADERS),
        ("GET", events_target()): stream,
    }
    got: list[PortMapChange] = []

    async def follow(url: str) -> None:
        async with aio.watch(env=Env(platform="linux", environ={"DOCKER_HOST": url})) as live:
            async for change in live:
                got.append(change)

    async def main(url: str) -> float:
        task = asyncio.create_task(follow(url))
        while not got:
            await asyncio.sleep(0.01)
        started = time.monotonic()
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        return time.monotonic() - started

    with fake_daemon(routes) as daemon:  # type: ignore[arg-type]
        before = open_fds()
        took = asyncio.run(asyncio.wait_for(main(daemon.url), 10))
        assert took < 0.1 and saw_close.wait(1)
        end = time.monotonic() + 1
        while open_fds() != before and time.monotonic() < end:
            time.sleep(0.01)
        assert open_fds() == before


def test_the_backoff_both_watches_share() -> None:
    from dockspec.live import Backoff

    backoff = Backoff(Limits(max_reconnect_delay=0.5))
    assert [backoff.next(False, 0.0) for _ in range(5)] == [0.1, 0.2, 0.4, 0.5, 0.5]
    assert backoff.next(True, 0.4) == 0.5  # connected, but not for longer than the cap: no reset
    assert backoff.next(True, 0.6) == 0.1 and backoff.next(False, 0.0) == 0.2  # a long connection: from the start
    assert Backoff(Limits(max_reconnect_delay=0.0)).next(False, 0.0) == 0.1  # never below the first delay
