"""Connection and HTTP framing faults, over a real Unix socket and real TCP.

Each scenario goes through detect_containers, start/await_detection and
stop_container (stop and kill): alone (DOCKER_HOST names it) and beside a
good daemon in the endpoint table, whose containers must still come back.
"""

from __future__ import annotations

import pytest

from dockspec import AmbiguousContainer, ContainerInfo, InvalidResponse, Protocol, StopOutcome
from tests.fakedaemon import fake_daemon, http_response
from tests.hostile.daemon import HostileDaemon, hostile_daemon, reply_with
from tests.hostile.harness import assert_bounded, direct_env, good_daemon, good_map, run_calls, table_env
from tests.hostile.scenarios import BODIES, WIRE, Scenario

TRANSPORTS = ["unix", "tcp"]


def ok_map(daemon: str) -> dict[tuple[str | None, int, Protocol], ContainerInfo]:
    return {(None, 18111, Protocol.TCP): ContainerInfo("e" * 64, "hostile-ok", "bb", daemon=daemon)}


def check_alone(scenario: Scenario, daemon: HostileDaemon) -> None:
    calls = run_calls(scenario.name, direct_env(daemon.url), together=scenario.slow)
    assert_bounded(calls)
    # No retries: one connection per call (detection asks again only on a 404
    # or a Podman header, which no hostile answer carries).
    assert len(calls.all()) == daemon.accepted
    assert len(daemon.requests) <= daemon.accepted
    if scenario.outcome == "invalid":
        assert isinstance(calls.detect.error, InvalidResponse), calls.detect
        assert calls.background.value is not None
        assert {} == dict(calls.background.value)
        assert StopOutcome.FAILED is calls.stop.value
        assert calls.kill is not None and StopOutcome.FAILED is calls.kill.value
    else:
        assert calls.detect.value is not None and calls.background.value is not None
        assert ok_map(daemon.url) == dict(calls.detect.value) == dict(calls.background.value)
        assert StopOutcome.STOPPED is calls.stop.value
        assert calls.kill is not None and StopOutcome.STOPPED is calls.kill.value


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("scenario", WIRE, ids=lambda s: s.name)
def test_wire_fault_alone(scenario: Scenario, transport: str) -> None:
    with hostile_daemon(scenario.behaviour, tcp=transport == "tcp") as daemon:
        check_alone(scenario, daemon)


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("scenario", BODIES, ids=lambda s: s.name)
def test_hostile_body_alone(scenario: Scenario, transport: str) -> None:
    with hostile_daemon(scenario.behaviour, tcp=transport == "tcp") as daemon:
        check_alone(scenario, daemon)


@pytest.mark.parametrize("scenario", WIRE + BODIES, ids=lambda s: s.name)
def test_good_daemon_still_answers_beside_a_hostile_one(scenario: Scenario) -> None:
    """The hostile daemon is first in the table; the good one's containers still come back."""
    good = good_daemon()
    try:
        with hostile_daemon(scenario.behaviour) as hostile, table_env(hostile.path, good.path) as (env, home):
            calls = run_calls(scenario.name + " beside a good daemon", env, together=scenario.slow)
    finally:
        good.close()
    assert_bounded(calls, endpoints=2)
    expected = good_map(home)
    if scenario.outcome == "ok":
        expected |= ok_map(f"unix://{home}/.docker/desktop/docker.sock")
    assert calls.detect.value is not None and calls.background.value is not None
    assert expected == dict(calls.detect.value) == dict(calls.background.value)
    # Both daemons are asked at once whether they know the name. A hostile one
    # whose inspect answer is a well-framed 2xx (the good answer, and every
    # 200 of BODIES, whatever its body) says it knows it too: the name is
    # ambiguous and nothing is stopped. Any other answer does not count: the
    # good daemon alone knows the name and acts.
    asked_good = ("POST", "/containers/web/stop?t=0") in [(m, t) for m, t, _ in good.requests]
    if scenario.outcome == "ok" or scenario in BODIES:
        assert isinstance(calls.stop.error, AmbiguousContainer), calls.stop
        assert (None, False) == (calls.stop.value, asked_good)
        assert calls.kill is not None and isinstance(calls.kill.error, AmbiguousContainer)
    else:
        assert (StopOutcome.STOPPED, True) == (calls.stop.value, asked_good)
    assert calls.kill is not None and calls.stop.value is calls.kill.value


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_redirect_is_never_followed(transport: str) -> None:
    """A 3xx is an InvalidResponse; the daemon sees one request per call, the Location none."""
    with fake_daemon(tcp=True) as elsewhere:
        location = elsewhere.url.replace("tcp://", "http://") + "/containers/json"
        answer = http_response(307, b"", [("Location", location)], reason="Temporary Redirect")
        with hostile_daemon(reply_with(answer), tcp=transport == "tcp") as daemon:
            calls = run_calls("redirect-307", direct_env(daemon.url))
            requests = [raw.split(b"\r\n", 1)[0] for raw in daemon.requests]
        assert [] == elsewhere.requests
    assert_bounded(calls)
    assert isinstance(calls.detect.error, InvalidResponse)
    assert "307" in str(calls.detect.error)
    assert StopOutcome.FAILED is calls.stop.value
    assert [
        b"GET /containers/json HTTP/1.1",
        b"GET /containers/json HTTP/1.1",
        b"POST /containers/web/stop?t=0 HTTP/1.1",
        b"POST /containers/web/kill HTTP/1.1",
    ] == requests

