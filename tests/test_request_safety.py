"""What dockspec writes to a daemon's socket, byte for byte.

Every operation sends exactly the documented request: method, target and
the three (GET) or four (POST) headers, no body, nothing after it. Container
ids and names cannot change a request: an id is either refused with
InvalidContainerId before any I/O or pasted verbatim into the one documented
target. Nothing beyond listing, ping/version and stop/kill is ever sent.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator

import h11
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dockspec import (
    Env,
    InvalidContainerId,
    InvalidResponse,
    StopOutcome,
    await_detection,
    detect_containers,
    start_detection,
    stop_container,
)
from tests.fakedaemon import DOCKER_HEADERS, PODMAN_HEADERS, FakeDaemon, Reply, fake_daemon, http_response
from tests.helpers import spec_with_endpoints_under

LIST = "/containers/json"
LIBPOD_LIST = "/v4.0.0/libpod/containers/json"
SPEC = spec_with_endpoints_under("{home}", "{xdg_runtime_dir}")

# Everything dockspec may ever send (method, target); ids as dockspec accepts them.
_ID = r"[A-Za-z0-9][A-Za-z0-9_.-]*"
ALLOWED = [
    re.compile(p)
    for p in (
        rf"GET {re.escape(LIST)}",
        rf"GET {re.escape(LIBPOD_LIST)}",
        r"GET /_ping",
        r"GET /version",
        rf"POST /containers/{_ID}/stop\?t=\d+",
        rf"POST /containers/{_ID}/kill",
        rf"GET /containers/{_ID}/json",
    )
]


def documented(method: str, target: str, host: str = "localhost") -> bytes:
    """The documented request bytes, written out by hand."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", "User-Agent: dockspec", "Connection: close"]
    if method == "POST":
        lines.append("Content-Length: 0")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def check_allowed(raw: bytes) -> None:
    """One request on the list, with exactly the documented headers, no body, nothing after it."""
    server = h11.Connection(h11.SERVER)
    server.receive_data(raw)
    request = server.next_event()
    assert isinstance(request, h11.Request)
    line = f"{request.method.decode()} {request.target.decode()}"
    assert any(p.fullmatch(line) for p in ALLOWED), line
    names = sorted(name for name, _ in request.headers)
    assert sorted([b"connection", b"host", b"user-agent", *([b"content-length"] if request.method == b"POST" else [])]
                  ) == names
    assert isinstance(server.next_event(), h11.EndOfMessage)
    assert server.next_event() is h11.NEED_DATA


def requests_of(daemon: FakeDaemon) -> list[bytes]:
    """What the daemon received, each checked against the allowed list."""
    for raw in daemon.raw:
        check_allowed(raw)
    return list(daemon.raw)


def direct(daemon: FakeDaemon) -> Env:
    return Env(platform="linux", environ={"DOCKER_HOST": daemon.url})


DOCKER_LIST = http_response(200, "[]", DOCKER_HEADERS)
PODMAN_LIST = http_response(200, "[]", PODMAN_HEADERS)


@pytest.mark.parametrize("tcp", [False, True], ids=["unix", "tcp"])
def test_listing_sends_one_documented_get(tcp: bool) -> None:
    with fake_daemon({("GET", LIST): DOCKER_LIST}, tcp=tcp) as daemon:
        detect_containers(env=direct(daemon), spec=SPEC)
        await_detection(start_detection(env=direct(daemon), spec=SPEC))
        host = daemon.url.removeprefix("tcp://") if tcp else "localhost"
        assert [documented("GET", LIST, host)] * 2 == requests_of(daemon)


def test_podman_before_5_6_is_asked_compat_then_libpod() -> None:
    routes: dict[tuple[str, str], Reply] = {("GET", LIST): PODMAN_LIST, ("GET", LIBPOD_LIST): PODMAN_LIST}
    with fake_daemon(routes) as daemon:
        detect_containers(env=direct(daemon), spec=SPEC)
        assert [documented("GET", LIST), documented("GET", LIBPOD_LIST)] == requests_of(daemon)


@pytest.fixture
def home() -> Iterator[str]:
    path = tempfile.mkdtemp(prefix="dockspec-safety-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_table_podman_endpoint_asks_libpod_then_falls_back_on_404(home: str) -> None:
    """A table entry expecting Podman asks the libpod list; a 404 there (Docker after all) asks compat."""
    with fake_daemon({("GET", LIST): DOCKER_LIST}) as daemon:
        os.makedirs(f"{home}/xdg/podman")
        os.symlink(daemon.path, f"{home}/xdg/podman/podman.sock")
        env = Env(platform="linux", home=home, xdg_runtime_dir=f"{home}/xdg", environ={})
        detect_containers(env=env, spec=SPEC)
        assert [documented("GET", LIBPOD_LIST), documented("GET", LIST)] == requests_of(daemon)


@pytest.mark.parametrize(
    ("force", "timeout", "target"),
    [(False, 10, "/containers/web/stop?t=10"), (False, 0, "/containers/web/stop?t=0"),
     (True, 10, "/containers/web/kill")],
)
@pytest.mark.parametrize("engine", ["docker", "podman"])
def test_stop_and_kill_send_one_documented_post(force: bool, timeout: int, target: str, engine: str) -> None:
    headers = DOCKER_HEADERS if engine == "docker" else PODMAN_HEADERS
    with fake_daemon({("POST", target): http_response(204, b"", headers)}) as daemon:
        outcome = stop_container("web", force=force, timeout=timeout, env=direct(daemon), spec=SPEC)
        assert StopOutcome.STOPPED is outcome
        assert [documented("POST", target)] == requests_of(daemon)


@pytest.mark.parametrize("answer", [b"garbage\r\n\r\n", http_response(500, "<html/>"), http_response(301, b"")])
def test_a_bad_answer_is_not_retried(answer: bytes) -> None:
    with fake_daemon({("GET", LIST): answer, ("POST", "/containers/web/stop?t=1"): answer}) as daemon:
        with pytest.raises(InvalidResponse):
            detect_containers(env=direct(daemon), spec=SPEC)
        assert StopOutcome.FAILED is stop_container("web", timeout=1, env=direct(daemon), spec=SPEC)
        assert [documented("GET", LIST), documented("POST", "/containers/web/stop?t=1")] == requests_of(daemon)


# -- ids cannot inject ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def answering() -> Iterator[FakeDaemon]:
    """Answers every request with 404 (no such container): one request per stop, no fall-through."""
    with fake_daemon() as daemon:
        yield daemon


ids = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="ascii"), max_size=40),
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,80}", fullmatch=True),
    st.sampled_from(["web", "a" * 64, "a" * 257, "../etc", "web/../../x", "web?x=1", "web#f", "web%2f", "web x",
                     "web\r\nX-Injected: 1", "web\nGET / HTTP/1.1", "wéb", "web\x00", ".web", "-web", "_web"]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ids, st.booleans(), st.integers(0, 86_400))
def test_ids_are_refused_or_pasted_verbatim(answering: FakeDaemon, container_id: str, force: bool,
                                            timeout: int) -> None:
    before = len(answering.raw)
    try:
        outcome = stop_container(container_id, force=force, timeout=timeout, env=direct(answering), spec=SPEC)
    except InvalidContainerId:
        assert len(answering.raw) == before, "a refused id reached the socket"
        return
    assert StopOutcome.NOT_FOUND is outcome
    sent = answering.raw[before:]
    target = f"/containers/{container_id}/kill" if force else f"/containers/{container_id}/stop?t={timeout}"
    assert [documented("POST", target)] == sent
    check_allowed(sent[0])
