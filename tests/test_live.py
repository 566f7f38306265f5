"""dockspec.watch against a fake daemon (a real socket server): list, relist on start, drop on die, close()."""

from __future__ import annotations

import json
import socket
import threading
import time

from dockspec import Env, Limits, Protocol, watch
from dockspec.events import events_target, relist_target
from tests.fakedaemon import DOCKER_HEADERS, fake_daemon, http_response


def until_closed(conn: socket.socket) -> None:
    """Hold the stream open until the client closes it (at most 10 s)."""
    conn.settimeout(10)
    try:
        while conn.recv(1024):
            pass
    except OSError:
        pass

OLD, NEW = "a" * 64, "b" * 64


def container(cid: str, name: str, port: int) -> dict[str, object]:
    return {"Id": cid, "Names": [f"/{name}"], "Image": "bb",
            "Ports": [{"IP": "127.0.0.1", "PublicPort": port, "PrivatePort": 80, "Type": "tcp"}]}


def line(action: str, cid: str) -> bytes:
    return json.dumps({"Type": "container", "Action": action, "Actor": {"ID": cid, "Attributes": {}}}).encode() + b"\n"


def test_list_then_events_in_order_and_close_from_another_thread() -> None:
    go = threading.Event()

    def stream(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nServer: Docker/28.5.2 (linux)\r\nTransfer-Encoding: chunked\r\n\r\n")
        go.wait(5)
        for data in (line("start", NEW), line("exec_die", NEW), line("die", OLD)):
            conn.sendall(b"%x\r\n%s\r\n" % (len(data), data))
        until_closed(conn)

    routes = {
        ("GET", "/containers/json"): http_response(200, json.dumps([container(OLD, "old", 8080)]), DOCKER_HEADERS),
        ("GET", relist_target("/containers/json", NEW)): http_response(
            200, json.dumps([container(NEW, "new", 9090)]), DOCKER_HEADERS
        ),
        ("GET", events_target()): stream,
    }
    with fake_daemon(routes) as daemon:  # type: ignore[arg-type]
        env = Env(platform="linux", environ={"DOCKER_HOST": daemon.url})
        with watch(env=env, limits=Limits(deadline=2.0)) as live:
            first = live.get(3)
            assert first is not None
            assert [(k, v.name) for k, v in first.added] == [(("127.0.0.1", 8080, Protocol.TCP), "old")]
            go.set()
            second, third = live.get(3), live.get(3)
            assert second is not None and third is not None
            assert [(k[1], v.name) for k, v in second.added] == [(9090, "new")] and second.removed == ()
            assert [(k[1], v.name) for k, v in third.removed] == [(8080, "old")] and third.added == ()
            assert {k[1] for k in third.port_map} == {9090} and live.engines == {daemon.url: "docker"}
            closer = threading.Thread(target=live.close)
            started = time.monotonic()
            closer.start()
            assert list(live) == []  # iteration ends once closed
            closer.join()
            assert time.monotonic() - started < 0.5
        started = time.monotonic()
        live.close()  # twice is fine, and quick
        assert time.monotonic() - started < 0.1
        assert live.join(2)  # the threads end by themselves (within a poll)


def test_a_socket_that_appears_later_is_picked_up(tmp_path: object) -> None:
    import pathlib

    def stream(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nServer: Docker/28.5.2 (linux)\r\nTransfer-Encoding: chunked\r\n\r\n")
        until_closed(conn)

    routes = {
        ("GET", "/containers/json"): http_response(200, json.dumps([container(OLD, "old", 8080)]), DOCKER_HEADERS),
        ("GET", events_target()): stream,
    }
    later = pathlib.Path(str(tmp_path)) / "later.sock"
    env = Env(platform="linux", environ={"DOCKER_HOST": f"unix://{later}"})
    with watch(env=env, limits=Limits(deadline=1.0, max_reconnect_delay=0.2)) as live:
        assert live.get(0.5) is None and "No such file" in live.errors[f"unix://{later}"]
        with fake_daemon(routes) as daemon:  # type: ignore[arg-type]
            later.symlink_to(daemon.path)
            change = live.get(3)
            assert change is not None and [v.name for _, v in change.added] == ["old"]
            live.close()
            assert live.join(2)


def test_ports_filters_and_the_watch_json_refusal() -> None:
    import io

    from dockspec.cli import main

    out, err = io.StringIO(), io.StringIO()
    assert main(["ports", "--watch", "--json"], {"DOCKER_HOST": "unix:///nonexistent"}, out, err) == 2
    assert "dockspec events --json" in err.getvalue()
    for bad in ("0", "65536", "x", "\uff18\uff10"):
        out, err = io.StringIO(), io.StringIO()
        assert main(["ports", bad], {"DOCKER_HOST": "unix:///nonexistent"}, out, err) == 2
        assert "not a port" in err.getvalue()


def test_ports_port_and_protocol_filters_on_real_sockets() -> None:
    import io

    from dockspec.cli import main

    with socket.socket() as tcp, socket.socket(type=socket.SOCK_DGRAM) as udp:
        tcp.bind(("127.0.0.1", 0))
        tcp.listen()
        port = tcp.getsockname()[1]
        udp.bind(("127.0.0.1", port))

        def rows(*args: str) -> list[tuple[str, int]]:
            out, err = io.StringIO(), io.StringIO()
            assert main(["ports", *args, "--json"], {"DOCKER_HOST": "unix:///nonexistent"}, out, err) == 0
            return sorted((r["protocol"], r["port"]) for r in json.loads(out.getvalue()))

        assert rows(str(port)) == [("tcp", port), ("udp", port)]
        assert rows(str(port), "--tcp") == rows(str(port), "-t") == [("tcp", port)]
        assert rows(str(port), "-u") == [("udp", port)]
        assert rows(str(port), "-t", "-u") == rows(str(port))
        assert {p for _, p in rows("-t")} >= {port} and all(proto == "tcp" for proto, _ in rows("-t"))


def test_late_headers_are_awaited_only_for_the_podman_versions_that_send_them_late() -> None:
    for version, late_ok in (("5.2.1", True), ("4.3.1", False)):
        headers = [("Libpod-Api-Version", version), ("Server", f"Libpod/{version} (linux)")]

        def stream(conn: socket.socket, headers: list[tuple[str, str]] = headers) -> None:
            time.sleep(1.2)  # past the 0.5 s deadline: headers only with the first event
            head = "".join(f"{k}: {v}\r\n" for k, v in headers)
            conn.sendall(f"HTTP/1.1 200 OK\r\n{head}Transfer-Encoding: chunked\r\n\r\n".encode())
            data = line("die", OLD)
            conn.sendall(b"%x\r\n%s\r\n" % (len(data), data))
            until_closed(conn)

        body = json.dumps([{"Id": OLD, "Names": ["old"], "Image": "bb", "Ports": [
            {"host_ip": "", "host_port": 8080, "container_port": 80, "protocol": "tcp", "range": 1}]}])
        routes = {
            ("GET", "/containers/json"): http_response(200, "[]", headers),
            ("GET", "/v4.0.0/libpod/containers/json"): http_response(200, body, headers),
            ("GET", events_target()): stream,
        }
        with fake_daemon(routes) as daemon:  # type: ignore[arg-type]
            env = Env(platform="linux", environ={"DOCKER_HOST": daemon.url})
            with watch(env=env, limits=Limits(deadline=0.5, max_reconnect_delay=5)) as live:
                first = live.get(3)
                if late_ok:
                    assert first is not None and first.added
                    second = live.get(3)
                    assert second is not None and second.removed
                else:
                    assert first is None
                    assert "before the deadline" in live.errors[daemon.url]
            assert live.join(2)
