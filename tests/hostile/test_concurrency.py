"""Many detections at once, and detections nobody waits for.

32 threads detect (strictly and in the background) and stop at the same
time against a table holding a hanging daemon and a good one: each gets the
good daemon's containers within its deadline. A detection started and never
awaited leaves no thread and no file descriptor behind once its deadline
has passed.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from dockspec import (
    ContainerPortMap,
    StopOutcome,
    await_detection,
    detect_containers,
    start_detection,
    stop_container,
)
from tests.fakedaemon import FakeDaemon
from tests.hostile.daemon import HostileDaemon, after_request
from tests.hostile.harness import SPEC, STOP_ID, direct_env, good_daemon, good_map, table_env
from tests.hostile.measure import LIMITS, MARGIN, open_fds, probe_threads
from tests.hostile.scenarios import WIRE, answer_ok

THREADS = 32
# 32 callers, each with a probe thread per endpoint, on 2 cores.
CROWD_MARGIN = 2 * MARGIN
HANG = next(s for s in WIRE if s.name == "accepts-never-answers")


@pytest.fixture
def hanging_beside_good() -> Iterator[tuple[HostileDaemon, FakeDaemon, Any, str]]:
    hostile = HostileDaemon(HANG.behaviour)
    good = good_daemon()
    try:
        with table_env(hostile.path, good.path) as (env, home):
            yield hostile, good, env, home
    finally:
        hostile.close()
        good.close()


def crowd(call: Callable[[], Any], count: int = THREADS) -> list[tuple[float, Any]]:
    """Run `call` on `count` threads released together; (elapsed, result or exception) of each."""
    barrier = threading.Barrier(count)
    results: list[tuple[float, Any]] = [(0.0, None)] * count

    def run(index: int) -> None:
        barrier.wait()
        started = time.monotonic()
        try:
            value: Any = call()
        except Exception as exc:
            value = exc
        results[index] = (time.monotonic() - started, value)

    threads = [threading.Thread(target=run, args=(i,), name=f"crowd-{i}") for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not any(t.is_alive() for t in threads)
    return results


def test_many_threads_detect_at_once(hanging_beside_good: tuple[HostileDaemon, FakeDaemon, Any, str]) -> None:
    hostile, _, env, home = hanging_beside_good
    strict = crowd(lambda: detect_containers(env=env, spec=SPEC, limits=LIMITS))
    background = crowd(lambda: await_detection(start_detection(env=env, spec=SPEC, limits=LIMITS)))
    for elapsed, value in strict + background:
        assert isinstance(value, ContainerPortMap), value
        assert good_map(home) == dict(value)
        assert elapsed < LIMITS.deadline + CROWD_MARGIN
    assert 2 * THREADS == hostile.accepted


def test_many_threads_stop_at_once(hanging_beside_good: tuple[HostileDaemon, FakeDaemon, Any, str]) -> None:
    """Each stop waits out the hanging daemon, then the good one stops the container."""
    _, good, env, _ = hanging_beside_good
    results = crowd(lambda: stop_container(STOP_ID, env=env, spec=SPEC, limits=LIMITS, timeout=0))
    for elapsed, value in results:
        assert StopOutcome.STOPPED is value
        assert elapsed < 2 * LIMITS.deadline + CROWD_MARGIN
    assert THREADS == sum(1 for m, t, _ in good.requests if (m, t) == ("POST", f"/containers/{STOP_ID}/stop?t=0"))


def test_many_threads_against_one_hostile_daemon_alone() -> None:
    """DOCKER_HOST naming a hanging daemon: every caller gets its error at its own deadline."""
    with_daemon = HostileDaemon(HANG.behaviour, tcp=True)
    try:
        env = direct_env(with_daemon.url)
        results = crowd(lambda: detect_containers(env=env, spec=SPEC, limits=LIMITS))
    finally:
        with_daemon.close()
    for elapsed, value in results:
        assert "deadline" in str(value)
        assert elapsed < LIMITS.deadline + CROWD_MARGIN


def _settle(baseline: int, timeout: float) -> tuple[int, list[threading.Thread]]:
    """Poll until dockspec's threads are gone and the fd count is back to `baseline` (or `timeout`)."""
    end = time.monotonic() + timeout
    while True:
        gc.collect()
        fds, threads = open_fds(), probe_threads()
        if (fds <= baseline and not threads) or time.monotonic() > end:
            return fds, threads
        time.sleep(0.02)


@pytest.mark.parametrize("where", ["alone", "beside a good daemon"])
def test_abandoned_detection_leaves_nothing_behind(
    hanging_beside_good: tuple[HostileDaemon, FakeDaemon, Any, str], where: str
) -> None:
    """start_detection without await: after the deadline, no probe thread and no socket remain."""
    hostile, _, table, _ = hanging_beside_good
    env = direct_env(hostile.url) if where == "alone" else table
    baseline, _ = _settle(open_fds(), 0.0)
    assert [] == probe_threads()
    started = time.monotonic()
    for _ in range(8):
        start_detection(env=env, spec=SPEC, limits=LIMITS)
    time.sleep(LIMITS.deadline / 2)
    during = (open_fds(), len(probe_threads()))
    fds, threads = _settle(baseline, LIMITS.deadline + CROWD_MARGIN)
    # The detections were really under way (sockets open, threads alive) before the deadline.
    assert during[0] >= baseline + 8 and during[1] >= 8
    assert [] == threads
    assert baseline == fds
    assert time.monotonic() - started < LIMITS.deadline + CROWD_MARGIN + 0.1


def test_a_probe_that_crashes_does_not_hold_up_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug in one probe (here: the parser raising on one daemon's answer) ends that probe only:
    await_detection returns at the deadline with the other daemon's containers, not at its own timeout."""
    from dockspec.containers import parse_list as real

    def parse_list(body: bytes, *args: Any, **kw: Any) -> Any:
        if b"hostile-ok" in body:
            raise RuntimeError("a parser bug")
        return real(body, *args, **kw)

    monkeypatch.setattr("dockspec.detect.parse_list", parse_list)
    hostile = HostileDaemon(after_request(answer_ok))
    good = good_daemon()
    try:
        with table_env(hostile.path, good.path) as (env, home):
            started = time.monotonic()
            background = await_detection(start_detection(env=env, spec=SPEC, limits=LIMITS))
            background_time = time.monotonic() - started
            started = time.monotonic()
            strict = detect_containers(env=env, spec=SPEC, limits=LIMITS)
            strict_time = time.monotonic() - started
    finally:
        hostile.close()
        good.close()
    assert good_map(home) == dict(background) == dict(strict)
    assert background_time < LIMITS.deadline + MARGIN
    assert strict_time < LIMITS.deadline + MARGIN
    assert 2 == len(hostile.requests)
