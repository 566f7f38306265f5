"""Detection and stop against fake daemons on real sockets."""

from __future__ import annotations

import json
import threading
import time

import pytest

from dockspec import (
    ContainerInfo,
    DaemonNotFound,
    Env,
    InvalidContainerId,
    InvalidDockerHost,
    InvalidResponse,
    Limits,
    Protocol,
    StopOutcome,
    await_detection,
    detect_containers,
    start_detection,
    stop_container,
)
from dockspec.detect import begin_detection, detect_daemons, request_stop
from tests.fakedaemon import DOCKER_HEADERS, PODMAN_HEADERS, FakeDaemon, fake_daemon, hang, http_response
from tests.helpers import spec_with_endpoints_under

DOCKER_BODY = json.dumps([{"Id": "d" * 64, "Names": ["/web"], "Image": "bb:latest",
                           "Ports": [{"IP": "0.0.0.0", "PublicPort": 18091, "PrivatePort": 80, "Type": "tcp"}]}])
LIBPOD_BODY = json.dumps([{"Id": "p" * 64, "Names": ["ranged"], "Image": "localhost/bb:latest",
                           "Ports": [{"host_ip": "", "host_port": 28200, "container_port": 8200, "range": 2,
                                      "protocol": "tcp"}]}])
LIBPOD_PATH = "/v4.0.0/libpod/containers/json"


# Only the table entries under {home} or {xdg_runtime_dir}: the machine's real
# daemons (on /var/run/docker.sock, ...) stay out of these unit tests.
SPEC = spec_with_endpoints_under("{home}", "{xdg_runtime_dir}")


def env_for(**environ: str) -> Env:
    """An Env whose table endpoints exist nowhere, so only DOCKER_HOST or `home` decide."""
    return Env(platform="linux", uid=None, home=None, environ=environ)


def docker_host_env(daemon: FakeDaemon) -> Env:
    return env_for(DOCKER_HOST=daemon.url)


@pytest.mark.parametrize("framing", ["content-length", "chunked", "close"])
def test_detect_reads_every_framing(framing: str) -> None:
    routes = {("GET", "/containers/json"): http_response(200, DOCKER_BODY, DOCKER_HEADERS, framing=framing)}
    with fake_daemon(routes) as daemon:
        result = detect_containers(spec=SPEC, env=docker_host_env(daemon))
    assert {(None, 18091, Protocol.TCP): ContainerInfo("d" * 64, "web", "bb:latest", daemon=daemon.url)} == dict(result)


def test_detect_over_tcp() -> None:
    routes = {("GET", "/containers/json"): http_response(200, DOCKER_BODY, DOCKER_HEADERS)}
    with fake_daemon(routes, tcp=True) as daemon:
        result = detect_containers(spec=SPEC, env=docker_host_env(daemon))
    assert [port for _, port, _ in result] == [18091]


def test_podman_compat_answer_is_reasked_on_libpod() -> None:
    """A Podman before 5.6 that answers the compat list is asked the libpod list (ranges)."""
    compat = json.dumps([{"Id": "p" * 64, "Names": ["ranged"], "Ports": [{"PublicPort": 28200, "Type": "tcp"}]}])
    routes = {
        ("GET", "/containers/json"): http_response(200, compat, PODMAN_HEADERS),
        ("GET", LIBPOD_PATH): http_response(200, LIBPOD_BODY, PODMAN_HEADERS),
    }
    with fake_daemon(routes) as daemon:
        result = detect_containers(spec=SPEC, env=docker_host_env(daemon))
        assert [t for _, t, _ in daemon.requests] == ["/containers/json", LIBPOD_PATH]
    assert sorted(port for _, port, _ in result) == [28200, 28201]


def test_podman_5_6_compat_answer_is_kept() -> None:
    """From Podman 5.6 the compat list is complete: one request is enough."""
    headers = [("Libpod-Api-Version", "5.6.1")]
    routes = {("GET", "/containers/json"): http_response(200, DOCKER_BODY, headers)}
    with fake_daemon(routes) as daemon:
        detect_containers(spec=SPEC, env=docker_host_env(daemon))
        assert [t for _, t, _ in daemon.requests] == ["/containers/json"]


def test_two_daemons_are_merged_from_the_table(tmp_path: pytest.TempPathFactory) -> None:
    """Without DOCKER_HOST every table endpoint that answers is merged, each container tagged."""
    docker = FakeDaemon({("GET", "/containers/json"): http_response(200, DOCKER_BODY, DOCKER_HEADERS)})
    podman = FakeDaemon({("GET", LIBPOD_PATH): http_response(200, LIBPOD_BODY, PODMAN_HEADERS)})
    home = str(tmp_path)
    import os

    os.makedirs(f"{home}/.docker/desktop")
    os.makedirs(f"{home}/xdg/podman")
    os.symlink(docker.path, f"{home}/.docker/desktop/docker.sock")
    os.symlink(podman.path, f"{home}/xdg/podman/podman.sock")
    env = Env(platform="linux", home=home, xdg_runtime_dir=f"{home}/xdg", environ={})
    try:
        result = detect_containers(spec=SPEC, env=env)
        handle = start_detection(spec=SPEC, env=env)
        background = await_detection(handle)
    finally:
        docker.close()
        podman.close()
    assert {18091, 28200, 28201} == {port for _, port, _ in result}
    assert {"unix://" + f"{home}/.docker/desktop/docker.sock"} == {
        info.daemon for key, info in result.items() if key[1] == 18091}
    assert result == background


def test_docker_host_names_the_only_daemon() -> None:
    """A set DOCKER_HOST that fails is an error, not a quiet fall back to other daemons."""
    with pytest.raises(DaemonNotFound, match="DOCKER_HOST"):
        detect_containers(spec=SPEC, env=env_for(DOCKER_HOST="unix:///nonexistent/docker.sock"))


def test_no_daemon_at_all() -> None:
    with pytest.raises(DaemonNotFound):
        detect_containers(spec=SPEC, env=env_for())
    assert dict(await_detection(start_detection(spec=SPEC, env=env_for()))) == {}


def test_non_2xx_list_is_invalid_response() -> None:
    routes = {("GET", "/containers/json"): http_response(500, "<html>oops</html>", [("Content-Type", "text/html")])}
    with fake_daemon(routes) as daemon, pytest.raises(InvalidResponse, match="500"):
        detect_containers(spec=SPEC, env=docker_host_env(daemon))


def test_daemon_that_never_answers_ends_by_the_deadline() -> None:
    routes = {("GET", "/containers/json"): lambda conn: hang(conn, 3)}
    with fake_daemon(routes) as daemon:
        started = time.monotonic()
        with pytest.raises(InvalidResponse, match="deadline"):
            detect_containers(spec=SPEC, env=docker_host_env(daemon), limits=Limits(deadline=0.5))
        elapsed = time.monotonic() - started
        assert elapsed < 1.5
        started = time.monotonic()
        handle = start_detection(spec=SPEC, env=docker_host_env(daemon), limits=Limits(deadline=0.5))
        assert {} == dict(await_detection(handle))
        assert time.monotonic() - started < 1.5


def test_await_returns_within_its_timeout_whatever_the_daemon_does() -> None:
    """await_detection gives up at its timeout even when the request deadline is longer."""
    routes = {("GET", "/containers/json"): lambda conn: hang(conn, 3)}
    with fake_daemon(routes) as daemon:
        handle = start_detection(spec=SPEC, env=docker_host_env(daemon), limits=Limits(deadline=10))
        started = time.monotonic()
        assert dict(await_detection(handle, timeout=0.3)) == {}
        assert time.monotonic() - started < 1.0


INSPECT = http_response(200, '{"Id": "' + "d" * 64 + '"}', DOCKER_HEADERS)
STOPPED = http_response(204, b"", DOCKER_HEADERS)


def two_daemon_env(tmp_path: pytest.TempPathFactory, first: FakeDaemon, second: FakeDaemon) -> Env:
    """A home whose table has `first` (docker-desktop) then `second` (docker-desktop-run)."""
    import os

    home = str(tmp_path)
    for slot, daemon in (("desktop", first), ("run", second)):
        os.makedirs(f"{home}/.docker/{slot}")
        os.symlink(daemon.path, f"{home}/.docker/{slot}/docker.sock")
    return Env(platform="linux", home=home, environ={})


def posts(daemon: FakeDaemon) -> list[str]:
    return [t for m, t, _ in daemon.requests if m == "POST"]


def test_stop_asks_the_one_daemon_that_knows_the_name(tmp_path: pytest.TempPathFactory) -> None:
    first = FakeDaemon()  # answers 404 to everything
    second = FakeDaemon({("GET", "/containers/web/json"): INSPECT, ("POST", "/containers/web/stop?t=10"): STOPPED})
    try:
        env = two_daemon_env(tmp_path, first, second)
        report = request_stop("web", env=env, spec=SPEC)
        assert (StopOutcome.STOPPED, "docker-desktop-run") == (report.outcome, getattr(report.daemon, "origin", None))
        assert [] == posts(first)  # the daemon that does not know it is never asked to stop it
        other = request_stop("other", env=env, spec=SPEC)
        assert (StopOutcome.NOT_FOUND, True, None) == (other.outcome, other.answered, other.daemon)
        assert ["/containers/web/stop?t=10"] == posts(second)
    finally:
        first.close()
        second.close()


def test_a_name_two_daemons_know_is_refused_unless_one_is_picked(tmp_path: pytest.TempPathFactory) -> None:
    from dockspec import AmbiguousContainer

    routes = {("GET", "/containers/web/json"): INSPECT, ("POST", "/containers/web/kill"): STOPPED}
    first, second = FakeDaemon(routes), FakeDaemon(routes)
    try:
        env = two_daemon_env(tmp_path, first, second)
        with pytest.raises(AmbiguousContainer) as refused:
            stop_container("web", force=True, env=env, spec=SPEC)
        slots = tuple(f"unix://{tmp_path}/.docker/{slot}/docker.sock" for slot in ("desktop", "run"))
        assert slots == refused.value.daemons
        assert "docker-desktop " in str(refused.value) and "docker-desktop-run " in str(refused.value)
        assert [] == posts(first) + posts(second)  # nothing was stopped
        by_origin = request_stop("web", force=True, env=env, spec=SPEC, daemon="docker-desktop-run")
        assert (StopOutcome.STOPPED, slots[1]) == (by_origin.outcome, getattr(by_origin.daemon, "url", None))
        assert StopOutcome.STOPPED == stop_container("web", force=True, env=env, spec=SPEC, daemon=slots[0])
        assert (["/containers/web/kill"], ["/containers/web/kill"]) == (posts(first), posts(second))
        with pytest.raises(DaemonNotFound, match="'nope'"):
            stop_container("web", force=True, env=env, spec=SPEC, daemon="nope")
    finally:
        first.close()
        second.close()


def test_a_daemon_that_cannot_answer_the_inspect_is_not_counted(tmp_path: pytest.TempPathFactory) -> None:
    """A garbage answer is trouble, not knowledge: the one daemon that knows the name acts; alone, FAILED."""
    first = FakeDaemon({("GET", f"/containers/{name}/json"): b"garbage\r\n\r\n" for name in ("web", "other")})
    second = FakeDaemon({("GET", "/containers/web/json"): INSPECT, ("POST", "/containers/web/stop?t=10"): STOPPED})
    try:
        env = two_daemon_env(tmp_path, first, second)
        assert StopOutcome.STOPPED == stop_container("web", env=env, spec=SPEC)
        report = request_stop("other", env=env, spec=SPEC)
        assert (StopOutcome.FAILED, True) == (report.outcome, report.answered)  # second said 404, first trouble
    finally:
        first.close()
        second.close()


def test_podman_kill_of_stopped_container_quirk() -> None:
    body = '{"cause":"container state improper","message":"can only kill running containers","response":500}'
    routes = {("POST", "/containers/web/kill"): http_response(500, body, PODMAN_HEADERS)}
    with fake_daemon(routes) as daemon:
        assert stop_container("web", force=True, env=docker_host_env(daemon), spec=SPEC) == StopOutcome.ALREADY_STOPPED


@pytest.mark.parametrize("bad", ["", "a/b", "a?b", "a#b", "a%2f", "a b", "a\r\nb", "a\x00", "\x7f", "../x", "-x"])
def test_unsafe_ids_are_refused_before_any_io(bad: str) -> None:
    with fake_daemon() as daemon:
        with pytest.raises(InvalidContainerId):
            stop_container(bad, env=docker_host_env(daemon), spec=SPEC)
        assert daemon.requests == []


def test_stop_of_a_hostile_daemon_is_failed() -> None:
    routes = {("POST", "/containers/web/stop?t=10"): b"garbage\r\n\r\n"}
    with fake_daemon(routes) as daemon:
        assert stop_container("web", env=docker_host_env(daemon), spec=SPEC) == StopOutcome.FAILED


def test_no_threads_left_after_detection() -> None:
    before = set(threading.enumerate())
    routes = {("GET", "/containers/json"): http_response(200, DOCKER_BODY, DOCKER_HEADERS)}
    with fake_daemon(routes) as daemon:
        detect_containers(spec=SPEC, env=docker_host_env(daemon))
    time.sleep(0.1)
    assert set() == {t for t in threading.enumerate() if t.name.startswith("dockspec")} - before


def test_negative_stop_timeout_is_refused_before_any_io() -> None:
    """t=-1 means wait forever to recent Docker; our deadline could not cover it."""
    with fake_daemon() as daemon:
        with pytest.raises(ValueError, match="timeout"):
            stop_container("web", timeout=-1, env=docker_host_env(daemon), spec=SPEC)
        assert [] == daemon.requests


def test_detection_is_the_merge_and_says_why_when_nothing_answered() -> None:
    """detect_daemons: the reports, their merge and, when nothing answered, the error detect_containers raises."""
    missing = "unix:///nonexistent/d.sock"
    routes = {("GET", "/containers/json"): http_response(200, DOCKER_BODY, DOCKER_HEADERS)}
    with fake_daemon(routes) as daemon:
        detection = detect_daemons(spec=SPEC, env=docker_host_env(daemon))
    assert detection.ok and detection.explicit
    assert {daemon.url: "docker"} == detection.engines
    assert ["web"] == [c.name for c in detection.containers.values()]
    assert [18091] == [port for _, port, _ in detection.port_map]
    nobody = detect_daemons(spec=SPEC, env=env_for(DOCKER_HOST=missing))
    assert not nobody.ok
    error = nobody.error()
    assert isinstance(error, DaemonNotFound) and missing in str(error) and "DOCKER_HOST" in str(error)


def test_request_stop_tells_no_answer_from_a_refusal() -> None:
    """FAILED because nobody answered (answered False, error() says why) is not FAILED because one refused."""
    report = request_stop("web", env=env_for(DOCKER_HOST="unix:///nonexistent/d.sock"), spec=SPEC)
    assert (StopOutcome.FAILED, False) == (report.outcome, report.answered)
    assert isinstance(report.error(), DaemonNotFound)
    with fake_daemon({("POST", "/containers/web/stop?t=10"): b"garbage\r\n\r\n"}) as daemon:
        report = request_stop("web", env=docker_host_env(daemon), spec=SPEC)
    assert (StopOutcome.FAILED, False) == (report.outcome, report.answered)
    assert isinstance(report.error(), InvalidResponse)
    with fake_daemon({("POST", "/containers/web/stop?t=10"): http_response(500, "no", DOCKER_HEADERS)}) as daemon:
        report = request_stop("web", env=docker_host_env(daemon), spec=SPEC)
    assert (StopOutcome.FAILED, True) == (report.outcome, report.answered)
    assert [(daemon.url, True, None)] == [(e.url, reachable, error) for e, reachable, error in report.attempts]


def test_begin_detection_runs_in_the_background_and_is_strict_about_the_environment() -> None:
    """The same Detection as detect_daemons, while the caller works; a bad DOCKER_HOST raises at once."""
    routes = {("GET", "/containers/json"): http_response(200, DOCKER_BODY, DOCKER_HEADERS)}
    with fake_daemon(routes) as daemon:
        handle = begin_detection(spec=SPEC, env=docker_host_env(daemon))
        background = handle.detection()
        assert detect_daemons(spec=SPEC, env=docker_host_env(daemon)).port_map == background.port_map
    assert background.ok and background.explicit
    with pytest.raises(InvalidDockerHost):
        begin_detection(spec=SPEC, env=env_for(DOCKER_HOST="foo://bar"))
    assert {} == dict(await_detection(start_detection(spec=SPEC, env=env_for(DOCKER_HOST="foo://bar"))))


@pytest.mark.parametrize("timeout", [-1, 86_401, 10**20])
def test_stop_container_refuses_a_timeout_out_of_range_before_any_request(timeout: int) -> None:
    daemon = FakeDaemon()
    try:
        with pytest.raises(ValueError, match="whole seconds from 0 to 86400"):
            stop_container("web", timeout=timeout, env=Env(environ={"DOCKER_HOST": f"unix://{daemon.path}"}))
        assert [] == daemon.requests
    finally:
        daemon.close()
