"""dockspec.aio against fake daemons on real sockets: the same answers as the sync calls, and bounded.

Each scenario runs the sync call and the coroutine on the same fake daemon
and compares every report field (the error texts included), and also checks
the scenario's own expectation, so the two cannot agree on a wrong answer.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from dockspec import (
    DaemonNotFound,
    Env,
    InvalidContainerId,
    InvalidResponse,
    Limits,
    StopOutcome,
    aio,
    detect_containers,
    request_stop,
    stop_container,
)
from dockspec._io import aio_transport
from dockspec._io.exchange import exchange
from dockspec.detect import DaemonReport, detect_daemons
from dockspec.errors import AmbiguousContainer
from dockspec.models import DEFAULT_LIMITS, Endpoint
from tests.fakedaemon import DOCKER_HEADERS, PODMAN_HEADERS, FakeDaemon, Reply, dribble, fake_daemon, http_response
from tests.helpers import spec_with_endpoints_under
from tests.test_ssh import ANSWER, SSH_ENDPOINT, fake_ssh, gone, open_fds
from tests.test_tls import Pki, pki, tls_endpoint, tls_server  # noqa: F401 - fixtures

SPEC = spec_with_endpoints_under("{home}", "{xdg_runtime_dir}")
POSIX = pytest.mark.skipif(sys.platform.startswith("win"), reason="POSIX only")

DOCKER_BODY = json.dumps([{"Id": "d" * 64, "Names": ["/web"], "Image": "bb:latest",
                           "Ports": [{"IP": "0.0.0.0", "PublicPort": 18091, "PrivatePort": 80, "Type": "tcp"}]}])
COMPAT_PODMAN = json.dumps([{"Id": "p" * 64, "Names": ["ranged"], "Ports": [{"PublicPort": 28200, "Type": "tcp"}]}])
LIBPOD_BODY = json.dumps([{"Id": "p" * 64, "Names": ["ranged"], "Image": "localhost/bb:latest",
                           "Ports": [{"host_ip": "", "host_port": 28200, "container_port": 8200, "range": 2,
                                      "protocol": "tcp"}]}])
LIBPOD_PATH = "/v4.0.0/libpod/containers/json"
LIST = ("GET", "/containers/json")


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def hang_for(seconds: float) -> Callable[[socket.socket], None]:
    return lambda conn: time.sleep(seconds)


def half_then_close(conn: socket.socket) -> None:
    conn.sendall(http_response(200, DOCKER_BODY, DOCKER_HEADERS)[:-10])


@attrs.frozen
class Scenario:
    routes: dict[tuple[str, str], Reply]
    expect_ports: tuple[int, ...] = ()
    expect_error: str | None = None
    limits: Limits = DEFAULT_LIMITS
    variable: str = "DOCKER_HOST"


SCENARIOS = {
    "content-length": Scenario({LIST: http_response(200, DOCKER_BODY, DOCKER_HEADERS)}, (18091,)),
    "chunked": Scenario({LIST: http_response(200, DOCKER_BODY, DOCKER_HEADERS, framing="chunked")}, (18091,)),
    "close-delimited": Scenario({LIST: http_response(200, DOCKER_BODY, DOCKER_HEADERS, framing="close")}, (18091,)),
    "podman compat answer re-asked on libpod": Scenario(
        {LIST: http_response(200, COMPAT_PODMAN, PODMAN_HEADERS), ("GET", LIBPOD_PATH): http_response(
            200, LIBPOD_BODY, PODMAN_HEADERS)}, (28200, 28201)),
    "libpod 404 falls back to the compat list": Scenario(
        {LIST: http_response(200, DOCKER_BODY, DOCKER_HEADERS)}, (18091,), variable="CONTAINER_HOST"),
    "500": Scenario({LIST: http_response(500, "{}", DOCKER_HEADERS)}, expect_error="answered 500"),
    "garbage": Scenario({LIST: b"garbage\r\n\r\n"}, expect_error="malformed HTTP"),
    "not JSON": Scenario({LIST: http_response(200, "[{", DOCKER_HEADERS)}, expect_error="not JSON"),
    "body over the cap": Scenario(
        {LIST: http_response(200, DOCKER_BODY, DOCKER_HEADERS, framing="chunked")},
        expect_error="body exceeds the 100-byte cap", limits=Limits(max_body_bytes=100)),
    "announced body over the cap": Scenario(
        {LIST: http_response(200, DOCKER_BODY, DOCKER_HEADERS)},
        expect_error="announced body of .* exceeds the 100-byte cap", limits=Limits(max_body_bytes=100)),
    "header block over the cap": Scenario(
        {LIST: http_response(200, DOCKER_BODY, [*DOCKER_HEADERS, ("X-Pad", "x" * 4000)])},
        expect_error="exceed.* the 1024-byte cap", limits=Limits(max_header_bytes=1024)),
    "closed before a complete answer": Scenario(
        {LIST: half_then_close}, expect_error="peer closed connection without sending complete message body"),
    "never answers": Scenario(
        {LIST: hang_for(3)}, expect_error="no complete answer before the deadline", limits=Limits(deadline=0.4)),
    "dribbles": Scenario(
        {LIST: dribble(http_response(200, DOCKER_BODY, DOCKER_HEADERS), 0.05)},
        expect_error="no complete answer before the deadline", limits=Limits(deadline=0.4)),
}


def fields(report: DaemonReport) -> tuple[Any, ...]:
    return (report.endpoint, report.engine, report.version, report.error, report.reachable, report.containers,
            report.bindings)


@pytest.mark.parametrize("name", SCENARIOS)
def test_aio_detection_equals_the_sync_one(name: str) -> None:
    scenario = SCENARIOS[name]
    with fake_daemon(scenario.routes) as daemon:
        env = Env(platform="linux", uid=None, home=None, environ={scenario.variable: daemon.url})
        sync = detect_daemons(env=env, spec=SPEC, limits=scenario.limits)
        started = time.monotonic()
        ours = run(aio.detect_daemons(env=env, spec=SPEC, limits=scenario.limits))
        took = time.monotonic() - started
        asked = [t for _, t, _ in daemon.requests]
        if scenario.expect_error is not None:
            with pytest.raises(InvalidResponse):
                run(aio.detect_containers(env=env, spec=SPEC, limits=scenario.limits))
    assert [fields(r) for r in ours.reports] == [fields(r) for r in sync.reports]
    assert ours.port_map == sync.port_map
    assert (ours.explicit, ours.containers, ours.engines) == (sync.explicit, sync.containers, sync.engines)
    assert asked[: len(asked) // 2] == asked[len(asked) // 2 :]  # the same requests, in the same order
    (report,) = ours.reports
    if scenario.expect_error is None:
        assert report.error is None
        assert sorted(port for _, port, _ in ours.port_map) == list(scenario.expect_ports)
        assert {info.daemon for info in ours.port_map.values()} == {daemon.url}
    else:
        assert report.error is not None
        assert re.search(scenario.expect_error, report.error), report.error
    assert took < scenario.limits.deadline + 1.0  # the one deadline bounds the coroutine too


def test_nothing_listening_is_daemon_not_found_as_in_sync() -> None:
    env = Env(platform="linux", uid=None, home=None, environ={"DOCKER_HOST": "unix:///nonexistent/d.sock"})
    with pytest.raises(DaemonNotFound) as sync:
        detect_containers(env=env, spec=SPEC)
    with pytest.raises(DaemonNotFound) as ours:
        run(aio.detect_containers(env=env, spec=SPEC))
    assert str(ours.value) == str(sync.value)
    assert ours.value.attempts == sync.value.attempts  # type: ignore[attr-defined]


def test_tcp_endpoint() -> None:
    with fake_daemon({LIST: http_response(200, DOCKER_BODY, DOCKER_HEADERS)}, tcp=True) as daemon:
        env = Env(platform="linux", uid=None, home=None, environ={"DOCKER_HOST": daemon.url})
        result = run(aio.detect_containers(env=env, spec=SPEC))
    assert [port for _, port, _ in result] == [18091]


@pytest.fixture()
def two_daemons(tmp_path: Path) -> Iterator[tuple[FakeDaemon, FakeDaemon, Env]]:
    """Two daemons at two table paths under a home: detection finds both, stop asks them in order."""
    first, second = FakeDaemon(), FakeDaemon()
    home = str(tmp_path)
    os.makedirs(f"{home}/.docker/desktop")
    os.makedirs(f"{home}/.docker/run")
    os.symlink(first.path, f"{home}/.docker/desktop/docker.sock")
    os.symlink(second.path, f"{home}/.docker/run/docker.sock")
    try:
        yield first, second, Env(platform="linux", home=home, environ={})
    finally:
        first.close()
        second.close()


def test_daemons_are_asked_concurrently_and_merged(two_daemons: tuple[FakeDaemon, FakeDaemon, Env]) -> None:
    """Each daemon answers only once the other was asked: asked one after the other, the first would time out."""
    first, second, env = two_daemons
    asked = [threading.Event(), threading.Event()]
    other = json.dumps([{"Id": "e" * 64, "Names": ["/db"], "Image": "pg",
                         "Ports": [{"IP": "0.0.0.0", "PublicPort": 18091, "Type": "tcp"},
                                   {"IP": "127.0.0.1", "PublicPort": 5432, "Type": "tcp"}]}])

    def answer_after_the_other(me: int, body: str) -> Callable[[socket.socket], None]:
        def reply(conn: socket.socket) -> None:
            asked[me].set()
            if asked[1 - me].wait(5):
                conn.sendall(http_response(200, body, DOCKER_HEADERS))

        return reply

    first.routes[LIST] = answer_after_the_other(0, DOCKER_BODY)
    second.routes[LIST] = answer_after_the_other(1, other)
    detection = run(aio.detect_daemons(env=env, spec=SPEC, limits=Limits(deadline=2)))
    assert [r.error for r in detection.reports] == [None, None]
    assert [r.endpoint.address for r in detection.reports] == [
        f"{env.home}/.docker/desktop/docker.sock", f"{env.home}/.docker/run/docker.sock"]
    # the earlier endpoint wins the binding both claim
    assert {(ip, port): info.name for (ip, port, _), info in detection.port_map.items()} == {
        (None, 18091): "web", ("127.0.0.1", 5432): "db"}


def test_one_daemon_hanging_does_not_hide_the_other(two_daemons: tuple[FakeDaemon, FakeDaemon, Env]) -> None:
    first, second, env = two_daemons
    first.routes[LIST] = hang_for(3)
    second.routes[LIST] = http_response(200, DOCKER_BODY, DOCKER_HEADERS)
    port_map = run(aio.detect_containers(env=env, spec=SPEC, limits=Limits(deadline=0.5)))
    assert [info.daemon for info in port_map.values()] == [f"unix://{env.home}/.docker/run/docker.sock"]


# ------------------------------------------------------------------ cancellation


def test_a_cancelled_detection_closes_its_socket() -> None:
    asked, peer_closed = threading.Event(), threading.Event()

    def wait_for_close(conn: socket.socket) -> None:
        asked.set()
        conn.settimeout(5)
        try:
            if conn.recv(1) == b"":
                peer_closed.set()
        except OSError:
            pass

    async def cancel_mid_call(env: Env) -> None:
        task = asyncio.ensure_future(aio.detect_containers(env=env, spec=SPEC, limits=Limits(deadline=30)))
        while not asked.is_set():
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    with fake_daemon({LIST: wait_for_close}) as daemon:
        before = open_fds()
        run(cancel_mid_call(Env(platform="linux", uid=None, home=None, environ={"DOCKER_HOST": daemon.url})))
        assert peer_closed.wait(5)  # the daemon saw dockspec's end of the connection close
        assert open_fds() == before


@POSIX
def test_a_cancelled_ssh_exchange_kills_and_reaps_ssh(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    spec = fake_ssh(f"echo $$ > {pid_file}; exec sleep 30")

    async def cancel_mid_call() -> None:
        task = asyncio.ensure_future(
            aio_transport.exchange(SSH_ENDPOINT, "GET", "/containers/json", spec=spec, limits=Limits(deadline=30)))
        while not pid_file.exists() or not pid_file.read_text().strip():
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    before = open_fds()
    run(cancel_mid_call())
    assert gone(int(pid_file.read_text()))
    assert open_fds() == before


# ------------------------------------------------------------------ ssh and TLS


@POSIX
def test_ssh_exchange_carries_the_answer_and_reaps() -> None:
    script = (
        'echo $$ >&2; while IFS= read -r line; do [ "$line" = "$(printf \'\\r\')" ] && break; done; '
        f"printf '%s' '{ANSWER}'; sleep 30"
    )
    response = run(aio_transport.exchange(
        SSH_ENDPOINT, "GET", "/containers/json", spec=fake_ssh(script), limits=DEFAULT_LIMITS))
    assert (response.status, response.body) == (200, b"[]")


@POSIX
@pytest.mark.parametrize(
    "script",
    [
        "echo 'ssh: connect to host box port 22: Connection refused' >&2; exit 255",
        "echo 'bash: docker: command not found' >&2; exit 127",
        "exec sleep 30",  # nothing before the deadline: Unreachable, with what ssh printed
        "printf 'HTTP/1.1 200 OK\\r\\n'; exec sleep 30",  # half an answer: InvalidResponse at the deadline
    ],
)
def test_ssh_failures_read_as_in_sync(script: str) -> None:
    spec = fake_ssh(script)
    env = Env(home="/nonexistent", uid=1000, environ={"DOCKER_HOST": "ssh://box"})
    limits = Limits(deadline=0.5)
    sync = detect_daemons(env=env, spec=spec, limits=limits)
    before = open_fds()
    ours = run(aio.detect_daemons(env=env, spec=spec, limits=limits))
    assert open_fds() == before
    assert [(r.error, r.reachable) for r in ours.reports] == [(r.error, r.reachable) for r in sync.reports]
    assert ours.reports[0].error


def _aio_get(endpoint: Endpoint) -> Any:
    return run(aio_transport.exchange(endpoint, "GET", "/containers/json", spec=SPEC, limits=DEFAULT_LIMITS))


def _sync_error(endpoint: Endpoint) -> str:
    with pytest.raises(Exception) as caught:
        exchange(endpoint, "GET", "/containers/json", spec=SPEC, limits=DEFAULT_LIMITS)
    return f"{type(caught.value).__name__}: {caught.value}"


def test_tls_good_path(pki: Pki, tls_server: int) -> None:  # noqa: F811
    endpoint = tls_endpoint(
        tls_server, ca_file=str(pki.ca), cert_file=str(pki.client_cert), key_file=str(pki.client_key))
    response = _aio_get(endpoint)
    assert (response.status, response.body) == (200, b"[]")


@pytest.mark.parametrize("case", ["wrong CA", "no client certificate", "nothing listening"])
def test_tls_failures_read_as_in_sync(pki: Pki, tls_server: int, case: str) -> None:  # noqa: F811
    if case == "wrong CA":
        endpoint = tls_endpoint(
            tls_server, ca_file=str(pki.other_ca), cert_file=str(pki.client_cert), key_file=str(pki.client_key))
        expected = r"InvalidResponse: .*TLS handshake failed: .*CERTIFICATE_VERIFY_FAILED"
    elif case == "no client certificate":
        endpoint = tls_endpoint(
            tls_server, ca_file=str(pki.ca), cert_file="/nonexistent/cert.pem", key_file="/nonexistent/key.pem")
        expected = "InvalidResponse: .*no client certificate was offered"
    else:
        with socket.socket() as free:
            free.bind(("127.0.0.1", 0))
            port = free.getsockname()[1]
        endpoint = tls_endpoint(port, ca_file=str(pki.ca))
        expected = "Unreachable: 127.0.0.1:.*: Connection refused"
    with pytest.raises(Exception) as caught:
        _aio_get(endpoint)
    ours = f"{type(caught.value).__name__}: {caught.value}"
    assert re.match(expected, ours), ours
    assert ours.count(endpoint.address) == 1, ours  # named once, as the sync path does
    sync = _sync_error(endpoint)
    assert re.match(expected, sync), sync
    if case == "nothing listening":  # the others race the server's close (sending or reading), sync ones too
        assert ours == sync


def test_a_silent_tls_server_is_unreachable_by_the_deadline(pki: Pki) -> None:  # noqa: F811
    """A server that accepts and never speaks TLS: the handshake ends at the deadline, nothing but TLS was sent."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        endpoint = tls_endpoint(listener.getsockname()[1], ca_file=str(pki.ca))
        started = time.monotonic()
        with pytest.raises(OSError, match="timed out connecting or during the TLS handshake"):
            run(aio_transport.exchange(endpoint, "GET", "/containers/json", spec=SPEC, limits=Limits(deadline=0.5)))
        assert time.monotonic() - started < 1.5
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(1)
            sent = conn.recv(65536)
    assert sent[:1] == b"\x16"  # a TLS handshake record, not an HTTP request


def test_named_pipes_are_sync_only() -> None:
    endpoint = Endpoint(url="npipe:////./pipe/docker_engine", transport="npipe", address="//./pipe/docker_engine")
    with pytest.raises(OSError, match="named pipes are sync-only"):
        _aio_get(endpoint)


# ------------------------------------------------------------------ stop and kill


def env_of(daemon: FakeDaemon) -> Env:
    return Env(platform="linux", uid=None, home=None, environ={"DOCKER_HOST": daemon.url})


@pytest.mark.parametrize(
    ("force", "routes", "outcome"),
    [
        (False, {("POST", "/containers/web/stop?t=10"): http_response(204, b"", DOCKER_HEADERS)}, "STOPPED"),
        (False, {("POST", "/containers/web/stop?t=10"): http_response(304, b"", DOCKER_HEADERS)}, "ALREADY_STOPPED"),
        (True, {("POST", "/containers/web/kill"): http_response(204, b"", DOCKER_HEADERS)}, "STOPPED"),
        (True, {("POST", "/containers/web/kill"): http_response(
            500, '{"cause":"container state improper","message":"can only kill running containers","response":500}',
            PODMAN_HEADERS)}, "ALREADY_STOPPED"),
        (False, {}, "NOT_FOUND"),
        (False, {("POST", "/containers/web/stop?t=10"): b"garbage\r\n\r\n"}, "FAILED"),
    ],
)
def test_stop_and_kill_as_in_sync(force: bool, routes: dict[tuple[str, str], Reply], outcome: str) -> None:
    with fake_daemon(routes) as daemon:
        sync = request_stop("web", force, env=env_of(daemon), spec=SPEC)
        ours = run(aio.request_stop("web", force, env=env_of(daemon), spec=SPEC))
        assert run(aio.stop_container("web", force, env=env_of(daemon), spec=SPEC)) is StopOutcome[outcome]
        asked = [(m, t) for m, t, _ in daemon.requests]
    assert ours == sync
    assert ours.outcome is StopOutcome[outcome]
    assert asked[0] == asked[1] == asked[2]


def test_stop_asks_only_the_daemon_that_knows_the_name(two_daemons: tuple[FakeDaemon, FakeDaemon, Env]) -> None:
    first, second, env = two_daemons
    # Two daemons: each is first asked whether it knows the name; only the second does.
    second.routes[("GET", "/containers/web/json")] = http_response(200, b'{"Id": "web"}', DOCKER_HEADERS)
    second.routes[("POST", "/containers/web/stop?t=10")] = http_response(204, b"", DOCKER_HEADERS)
    assert run(aio.stop_container("web", env=env, spec=SPEC)) is StopOutcome.STOPPED
    assert run(aio.stop_container("other", env=env, spec=SPEC)) is StopOutcome.NOT_FOUND
    assert stop_container("other", env=env, spec=SPEC) is StopOutcome.NOT_FOUND
    # The first daemon answered 404 to each inspect, so it was never asked to stop anything.
    assert [t for _, t, _ in first.requests][:3] == [
        "/containers/web/json",
        "/containers/other/json",
        "/containers/other/json",
    ]
    assert [t for _, t, _ in second.requests][:2] == ["/containers/web/json", "/containers/web/stop?t=10"]


def test_stop_refuses_a_name_two_daemons_know_unless_one_is_picked(
    two_daemons: tuple[FakeDaemon, FakeDaemon, Env],
) -> None:
    first, second, env = two_daemons
    for daemon in (first, second):
        daemon.routes[("GET", "/containers/web/json")] = http_response(200, b'{"Id": "web"}', DOCKER_HEADERS)
        daemon.routes[("POST", "/containers/web/stop?t=10")] = http_response(204, b"", DOCKER_HEADERS)
    with pytest.raises(AmbiguousContainer) as refused:
        run(aio.request_stop("web", env=env, spec=SPEC))
    assert set(refused.value.daemons) == {f"unix://{env.home}/.docker/desktop/docker.sock",
                                          f"unix://{env.home}/.docker/run/docker.sock"}
    assert not [t for d in (first, second) for _, t, _ in d.requests if "stop" in t]
    picked = f"unix://{env.home}/.docker/run/docker.sock"
    report = run(aio.request_stop("web", env=env, spec=SPEC, daemon=picked))
    assert report.outcome is StopOutcome.STOPPED
    assert report.daemon is not None and report.daemon.url == picked
    assert [t for _, t, _ in second.requests] == ["/containers/web/json", "/containers/web/stop?t=10"]


def test_stop_deadline_adds_the_grace_period() -> None:
    """A stop may take the daemon `timeout` s: the deadline is limits.deadline plus that, as in sync."""
    slow = dribble(http_response(204, b"", DOCKER_HEADERS), 0.0)

    def after_a_second(conn: socket.socket) -> None:
        time.sleep(1.0)
        slow(conn)

    with fake_daemon({("POST", "/containers/web/stop?t=1"): after_a_second,
                      ("POST", "/containers/web/kill"): after_a_second}) as daemon:
        limits = Limits(deadline=0.3)
        assert run(aio.stop_container("web", timeout=1, env=env_of(daemon), spec=SPEC, limits=limits)) is (
            StopOutcome.STOPPED)
        assert run(aio.stop_container("web", force=True, env=env_of(daemon), spec=SPEC, limits=limits)) is (
            StopOutcome.FAILED)


@pytest.mark.parametrize("bad", ["web/../x", "", "a b", "-x", "é"])
def test_unsafe_ids_are_refused_before_any_io(bad: str) -> None:
    with fake_daemon() as daemon:
        with pytest.raises(InvalidContainerId):
            run(aio.stop_container(bad, env=env_of(daemon), spec=SPEC))
        assert daemon.requests == []


@pytest.mark.parametrize("timeout", [-1, 86_401, 10**20])
def test_stop_timeout_out_of_range_is_refused_before_any_io(timeout: int) -> None:
    with fake_daemon() as daemon:
        with pytest.raises(ValueError, match="stop timeout"):
            run(aio.stop_container("web", timeout=timeout, env=env_of(daemon), spec=SPEC))
        assert daemon.requests == []
