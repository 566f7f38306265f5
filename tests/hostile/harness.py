"""Running one hostile daemon through every entry point, alone or beside a good daemon."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

import attrs

from dockspec import (
    ContainerInfo,
    ContainerPortMap,
    Env,
    Protocol,
    StopOutcome,
    await_detection,
    builtin_spec,
    detect_containers,
    start_detection,
    stop_container,
)
from dockspec.models import PortKey
from tests.fakedaemon import DOCKER_HEADERS, FakeDaemon, http_response
from tests.hostile.measure import LIMITS, MARGIN, MEMORY_BOUND, Measured, measure

__all__ = [
    "GOOD_CONTAINER",
    "SPEC",
    "Calls",
    "direct_env",
    "good_daemon",
    "good_map",
    "run_calls",
    "table_env",
]

# The table reduced to its two {home} entries (docker-desktop, then
# docker-desktop-run): the machine's real daemons stay out of these tests.
SPEC = attrs.evolve(
    builtin_spec(), endpoints=tuple(e for e in builtin_spec().endpoints if e.template.startswith("{home}"))
)
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

    def all(self) -> list[Measured[Any]]:
        calls: list[Measured[Any] | None] = [self.detect, self.background, self.stop, self.kill]
        return [c for c in calls if c is not None]


def run_calls(label: str, env: Env, kill: bool = True) -> Calls:
    """detect_containers, start_detection + await_detection, stop and (unless not `kill`) kill, measured."""
    return Calls(
        detect=measure(f"{label} detect_containers", lambda: detect_containers(env=env, spec=SPEC, limits=LIMITS)),
        background=measure(
            f"{label} start/await_detection",
            lambda: await_detection(start_detection(env=env, spec=SPEC, limits=LIMITS)),
        ),
        stop=measure(
            f"{label} stop_container",
            lambda: stop_container(STOP_ID, env=env, spec=SPEC, limits=LIMITS, timeout=0),
        ),
        kill=measure(
            f"{label} stop_container(force)",
            lambda: stop_container(STOP_ID, force=True, env=env, spec=SPEC, limits=LIMITS),
        )
        if kill
        else None,
    )


def assert_bounded(calls: Calls, endpoints: int = 1) -> None:
    """Each call within the deadline (stop: one deadline per daemon asked) and the memory bound."""
    for detection in (calls.detect, calls.background):
        assert detection.elapsed < LIMITS.deadline + MARGIN, detection
    for stop in (calls.stop, calls.kill):
        if stop is not None:
            assert stop.elapsed < endpoints * LIMITS.deadline + MARGIN, stop
    for call in calls.all():
        assert call.peak < MEMORY_BOUND, call
