"""Endpoints that are not daemons: odd socket paths, permission denied, black holes, slow names.

Alone (DOCKER_HOST names it) the outcome is DaemonNotFound from
detect_containers, an empty map from await_detection and FAILED from
stop_container; first in the table beside a good daemon, the good daemon's
containers come back and stop falls through to it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import pytest

from dockspec import (
    DaemonNotFound,
    Env,
    StopOutcome,
    await_detection,
    detect_containers,
    start_detection,
    stop_container,
)
from tests.hostile.daemon import HostileDaemon, after_request, black_hole
from tests.hostile.harness import (
    SPEC,
    STOP_ID,
    Calls,
    assert_bounded,
    direct_env,
    good_daemon,
    good_map,
    in_child,
    run_calls,
    table_env,
)
from tests.hostile.measure import LIMITS, MARGIN, measure
from tests.hostile.scenarios import answer_ok


def _regular_file(path: str) -> None:
    with open(path, "w") as file:
        file.write("not a socket\n")


def _socket_without_listener(path: str) -> None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    sock.close()  # the file stays; nothing listens


def _symlink_loop(path: str) -> None:
    os.symlink(path + ".other", path)
    os.symlink(path, path + ".other")


PATHS: dict[str, Callable[[str], None]] = {
    "regular-file": _regular_file,
    "directory": os.mkdir,
    "dangling-symlink": lambda path: os.symlink(path + ".nowhere", path),
    "symlink-loop": _symlink_loop,
    "socket-without-listener": _socket_without_listener,
    "fifo": os.mkfifo,
}


@pytest.fixture
def scratch() -> Iterator[str]:
    path = tempfile.mkdtemp(prefix="dockspec-paths-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def check_not_found_alone(calls: Calls, where: str) -> None:
    assert_bounded(calls)
    assert isinstance(calls.detect.error, DaemonNotFound), calls.detect
    assert where in str(calls.detect.error)
    assert calls.background.value is not None and {} == dict(calls.background.value)
    assert StopOutcome.FAILED is calls.stop.value
    assert calls.kill is not None and StopOutcome.FAILED is calls.kill.value


@pytest.mark.parametrize("kind", PATHS)
def test_socket_path_that_is_not_a_daemon(kind: str, scratch: str) -> None:
    path = os.path.join(scratch, "docker.sock")
    PATHS[kind](path)
    check_not_found_alone(run_calls(f"{kind} alone", direct_env("unix://" + path)), path)
    good = good_daemon()
    try:
        with table_env(path, good.path) as (env, home):
            calls = run_calls(f"{kind} beside a good daemon", env)
    finally:
        good.close()
    assert_bounded(calls, endpoints=2)
    assert calls.detect.value is not None and calls.background.value is not None
    assert good_map(home) == dict(calls.detect.value) == dict(calls.background.value)
    assert StopOutcome.STOPPED is calls.stop.value
    assert calls.kill is not None and StopOutcome.STOPPED is calls.kill.value


def test_socket_path_too_long_for_af_unix(scratch: str) -> None:
    path = os.path.join(scratch, "d" * 200, "docker.sock")
    check_not_found_alone(run_calls("path too long alone", direct_env("unix://" + path)), "docker.sock")


# -- permission denied, as an unprivileged user --------------------------------------------------


def _unprivileged() -> tuple[int, int]:
    try:
        entry = pwd.getpwnam("nobody")
        return entry.pw_uid, entry.pw_gid
    except KeyError:
        return 65534, 65534


def _summary(env: Env) -> dict[str, Any]:
    started = time.monotonic()
    try:
        found: Any = sorted([str(k), v.name] for k, v in detect_containers(env=env, spec=SPEC, limits=LIMITS).items())
    except DaemonNotFound as exc:
        found = ["DaemonNotFound", str(exc)]
    detect_time = time.monotonic() - started
    background = sorted(v.name for v in await_detection(start_detection(env=env, spec=SPEC, limits=LIMITS)).values())
    stop = stop_container(STOP_ID, env=env, spec=SPEC, limits=LIMITS, timeout=0).name
    return {"uid": os.getuid(), "detect": found, "detect_time": detect_time, "background": background, "stop": stop}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_socket_the_user_cannot_open() -> None:
    """A root-only socket (0600) first in the table: `nobody` gets Permission denied, then the good daemon."""
    if os.geteuid() != 0:
        pytest.skip("needs root to create a socket another user cannot open")
    uid, gid = _unprivileged()
    shared = tempfile.mkdtemp(prefix="dockspec-perm-")
    os.chmod(shared, 0o755)
    locked = HostileDaemon(after_request(answer_ok), directory=shared)
    good = HostileDaemon(after_request(answer_ok), directory=shared)
    os.chmod(locked.path, 0o600)
    os.chmod(good.path, 0o666)
    try:
        with table_env(locked.path, good.path, home=shared):
            alone = in_child(lambda: _summary(direct_env(locked.url)), user=(uid, gid))
            beside = in_child(lambda: _summary(Env(platform="linux", home=shared, environ={})), user=(uid, gid))
            asked = (len(locked.requests), len(good.requests))
            as_root = _summary(direct_env(locked.url))
    finally:
        locked.close()
        good.close()
        shutil.rmtree(shared, ignore_errors=True)
    assert uid == alone["uid"] == beside["uid"]
    assert "DaemonNotFound" == alone["detect"][0]
    assert "Permission denied" in alone["detect"][1]
    assert ([], "FAILED") == (alone["background"], alone["stop"])
    assert [["(None, 18111, <Protocol.TCP: 'tcp'>)", "hostile-ok"]] == beside["detect"]
    assert (["hostile-ok"], "STOPPED") == (beside["background"], beside["stop"])
    assert (0, 4) == asked  # two lists, the inspect that finds which daemon knows the name, the stop
    # The same socket is fine for its owner: the refusal above is the permission, nothing else.
    assert [["(None, 18111, <Protocol.TCP: 'tcp'>)", "hostile-ok"]] == as_root["detect"]
    for result in (alone, beside):
        assert result["detect_time"] < LIMITS.deadline + MARGIN


# -- TCP that never connects ----------------------------------------------------------------------


def test_tcp_black_hole() -> None:
    """A loopback port whose SYNs are dropped: DaemonNotFound at the deadline, not at the OS's connect timeout."""
    with black_hole() as port:
        calls = run_calls("tcp black hole", direct_env(f"tcp://127.0.0.1:{port}"), together=True)
    check_not_found_alone(calls, f"127.0.0.1:{port}")
    assert "timed out" in str(calls.detect.error)
    assert calls.detect.elapsed >= LIMITS.deadline * 0.9


def _fake_resolver(monkeypatch: pytest.MonkeyPatch, answer: Callable[[], list[Any]]) -> list[str]:
    asked: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kw: Any) -> list[Any]:
        if host != "daemon.test":
            return real(host, *args, **kw)
        asked.append(host)
        return answer()

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def test_a_name_with_several_black_holed_addresses_gets_one_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every address is tried within the one deadline, not each with a fresh one."""
    with black_hole() as first, black_hole() as second:
        addresses = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", p)) for p in (first, second, first)]
        asked = _fake_resolver(monkeypatch, lambda: addresses)
        calls = run_calls("three black-holed addresses", direct_env("tcp://daemon.test:2375"), together=True)
    assert asked
    check_not_found_alone(calls, "daemon.test:2375")


def test_a_name_that_takes_long_to_resolve_gets_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    """The system resolver has no timeout of its own; the connect gives up at the deadline anyway."""

    def slow() -> list[Any]:
        time.sleep(3 * LIMITS.deadline + 1)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    asked = _fake_resolver(monkeypatch, slow)
    started = time.monotonic()
    result = measure("slow resolver", lambda: detect_containers(
        env=direct_env("tcp://daemon.test:2375"), spec=SPEC, limits=LIMITS))
    assert asked
    assert time.monotonic() - started < LIMITS.deadline + MARGIN
    assert isinstance(result.error, DaemonNotFound)
    assert "resolv" in str(result.error)


def test_limits_are_the_callers() -> None:
    """A longer deadline is honoured too (the bound above is the deadline, not a constant)."""
    longer = attrs.evolve(LIMITS, deadline=2 * LIMITS.deadline)
    with black_hole() as port:
        started = time.monotonic()
        with pytest.raises(DaemonNotFound):
            detect_containers(env=direct_env(f"tcp://127.0.0.1:{port}"), spec=SPEC, limits=longer)
        elapsed = time.monotonic() - started
    assert longer.deadline * 0.9 <= elapsed < longer.deadline + MARGIN
