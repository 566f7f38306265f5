"""Running one hostile daemon through every entry point, alone or beside a good daemon."""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

import attrs

from dockspec import (
    ContainerInfo,
    ContainerPortMap,
    Env,
    Protocol,
    StopOutcome,
    await_detection,
    detect_containers,
    start_detection,
    stop_container,
)
from dockspec.models import PortKey
from tests.fakedaemon import DOCKER_HEADERS, FakeDaemon, http_response
from tests.helpers import spec_with_endpoints_under
from tests.hostile.measure import LIMITS, MARGIN, Measured, measure, measure_together, memory_bound

__all__ = [
    "GOOD_CONTAINER",
    "SPEC",
    "Calls",
    "direct_env",
    "good_daemon",
    "good_map",
    "in_child",
    "run_calls",
    "table_env",
]

# The table reduced to its two {home} entries (docker-desktop, then
# docker-desktop-run): the machine's real daemons stay out of these tests.
SPEC = spec_with_endpoints_under("{home}")
FIRST_SLOT = ".docker/desktop/docker.sock"
SECOND_SLOT = ".docker/run/docker.sock"

GOOD_CONTAINER = ("9" * 64, "good", "bb:latest")
GOOD_BODY = json.dumps(
    [{"Id": GOOD_CONTAINER[0], "Names": ["/good"], "Image": GOOD_CONTAINER[2],
      "Ports": [{"IP": "0.0.0.0", "PublicPort": 18222, "PrivatePort": 80, "Type": "tcp"}]}]
)
STOP_ID = "web"


def direct_env(url: str) -> Env:
    """DOCKER_HOST names the one daemon; no table endpoint exists (no home)."""
    return Env(platform="linux", environ={"DOCKER_HOST": url})


def good_daemon() -> FakeDaemon:
    return FakeDaemon({
        ("GET", "/containers/json"): http_response(200, GOOD_BODY, DOCKER_HEADERS),
        ("GET", f"/containers/{STOP_ID}/json"): http_response(200, '{"Id": "' + "9" * 64 + '"}', DOCKER_HEADERS),
        ("POST", f"/containers/{STOP_ID}/stop?t=0"): http_response(204, b"", DOCKER_HEADERS),
        ("POST", f"/containers/{STOP_ID}/kill"): http_response(204, b"", DOCKER_HEADERS),
    })


def good_map(home: str) -> dict[PortKey, ContainerInfo]:
    daemon = f"unix://{home}/{SECOND_SLOT}"
    return {(None, 18222, Protocol.TCP): ContainerInfo(*GOOD_CONTAINER, daemon=daemon)}


@contextlib.contextmanager
def table_env(first: str | None, second: str | None, home: str | None = None) -> Iterator[tuple[Env, str]]:
    """An Env whose table has `first` (the hostile path) then `second` (the good socket), as symlinks.

    A path that is None stays absent; `home` is made (and removed) when not given.
    """
    own = home is None
    home = home or tempfile.mkdtemp(prefix="dockspec-home-")
    try:
        for slot, target in ((FIRST_SLOT, first), (SECOND_SLOT, second)):
            os.makedirs(os.path.dirname(os.path.join(home, slot)), exist_ok=True)
            if target is not None:
                os.symlink(target, os.path.join(home, slot))
        yield Env(platform="linux", home=home, environ={}), home
    finally:
        if own:
            shutil.rmtree(home, ignore_errors=True)


@attrs.frozen
class Calls:
    """The three entry points' results for one set-up."""

    detect: Measured[ContainerPortMap]
    background: Measured[ContainerPortMap]
    stop: Measured[StopOutcome]
    kill: Measured[StopOutcome] | None
    together: bool = False
    """The calls ran at the same time (their memory is measured together)."""

    def all(self) -> list[Measured[Any]]:
        calls: list[Measured[Any] | None] = [self.detect, self.background, self.stop, self.kill]
        return [c for c in calls if c is not None]


def run_calls(label: str, env: Env, kill: bool = True, together: bool = False) -> Calls:
    """detect_containers, start_detection + await_detection, stop and (unless not `kill`) kill, measured.

    `together` runs them at the same time (measure_together), for scenarios
    that only end at the deadline.
    """
    calls: dict[str, Callable[[], Any]] = {
        f"{label} detect_containers": lambda: detect_containers(env=env, spec=SPEC, limits=LIMITS),
        f"{label} start/await_detection": lambda: await_detection(start_detection(env=env, spec=SPEC, limits=LIMITS)),
        f"{label} stop_container": lambda: stop_container(STOP_ID, env=env, spec=SPEC, limits=LIMITS, timeout=0),
    }
    if kill:
        calls[f"{label} stop_container(force)"] = lambda: stop_container(
            STOP_ID, force=True, env=env, spec=SPEC, limits=LIMITS)
    if together:
        measured = list(measure_together(calls).values())
    else:
        measured = [measure(name, call) for name, call in calls.items()]
    return Calls(measured[0], measured[1], measured[2], measured[3] if kill else None, together)


def assert_bounded(calls: Calls, endpoints: int = 1) -> None:
    """Each call within the deadline (stop: one deadline per daemon asked) and the memory bound."""
    for detection in (calls.detect, calls.background):
        assert detection.elapsed < LIMITS.deadline + MARGIN, detection
    for stop in (calls.stop, calls.kill):
        if stop is not None:
            assert stop.elapsed < endpoints * LIMITS.deadline + MARGIN, stop
    bound = memory_bound(len(calls.all()) if calls.together else 1)
    for call in calls.all():
        assert call.peak < bound, call


class ChildTimeout(AssertionError):
    """The forked child did not finish in time (it was killed)."""


def in_child(work: Callable[[], Any], timeout: float = 20.0, user: tuple[int, int] | None = None) -> Any:
    """Run `work` in a forked child (optionally as `user` = (uid, gid)); its JSON result.

    A fork, not an exec: dockspec is already imported, and an unprivileged
    user may not be able to exec this interpreter (under /root). A child
    still running after `timeout` s is killed and ChildTimeout raised, so a
    runaway computation costs the test `timeout`, not its own duration.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        status = 1
        try:
            os.close(read_end)
            if user is not None:
                os.setgroups([])
                os.setgid(user[1])
                os.setuid(user[0])
            data = json.dumps(work()).encode()
            while data:
                data = data[os.write(write_end, data) :]
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    chunks = []
    deadline = time.monotonic() + timeout
    with os.fdopen(read_end, "rb", buffering=0) as reader:
        while select.select([reader], [], [], max(deadline - time.monotonic(), 0))[0]:
            chunk = reader.read(65536)
            if not chunk:
                break
            chunks.append(chunk)
    waited, status = 0, 0
    while not waited and time.monotonic() <= deadline:
        waited, status = os.waitpid(pid, os.WNOHANG)
        if not waited:
            time.sleep(0.01)
    if not waited:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        raise ChildTimeout(f"the child did not finish within {timeout} s")
    assert os.waitstatus_to_exitcode(status) == 0
    return json.loads(b"".join(chunks))
