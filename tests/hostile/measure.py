"""Time and peak memory of one call, and the worst seen by the hostile suite.

`measure` runs a call under tracemalloc (every thread's Python allocations
count, the probe threads' included) and records the result; the hostile
conftest prints the worst time and peak at the end of the run, which is what
docs/limits.md quotes.
"""

from __future__ import annotations

import os
import threading
import time
import tracemalloc
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import attrs

from dockspec.errors import DockspecError
from dockspec.models import Limits

__all__ = [
    "BASELINE",
    "LIMITS",
    "MARGIN",
    "RECORDS",
    "Measured",
    "measure",
    "measure_together",
    "memory_bound",
    "open_fds",
    "probe_threads",
]

T = TypeVar("T")

# Short, small limits keep the suite fast and make the bounds visible: the
# deadline is what a call may take, the body cap what an answer may cost.
LIMITS = Limits(deadline=0.5, max_header_bytes=8 * 1024, max_body_bytes=1024 * 1024, max_bindings=4096)
# Scheduling slack on a loaded 2-core runner (other jobs, tracemalloc's cost);
# well under what any unbounded wait would take (a dribble: 1 s per byte).
MARGIN = 0.3
MEMORY_BOUND = 2 * LIMITS.max_body_bytes
BASELINE = [0]
"""Peak of one detection of a good daemon through the endpoint table (set by the
conftest's warm-up): what a call costs before any daemon misbehaves (reading
the docker and podman configuration files included)."""


def memory_bound(calls: int = 1) -> int:
    """What `calls` concurrent calls may cost at most: twice the body cap, plus each one's baseline."""
    return MEMORY_BOUND + calls * BASELINE[0]


@attrs.frozen
class Measured(Generic[T]):
    label: str
    elapsed: float
    peak: int
    value: T | None = None
    error: DockspecError | None = None
    test: str = ""
    """The pytest node id (the summary leaves out tests marked xfail)."""
    together: bool = False
    """Measured at the same time as other calls: `peak` is theirs together."""
    default_limits: bool = False
    """Run under the default Limits (the CLI's), not the suite's LIMITS: summarised apart."""
    attack: str = ""
    """Root's call against the unprivileged user's attack (tests/hostile/test_root_vs_user.py), measured
    in a child process: the attack's name (summarised apart, with the good call's figures)."""


RECORDS: list[Measured[object]] = []
_LOCK = threading.Lock()


def measure(label: str, call: Callable[[], T], *, default_limits: bool = False) -> Measured[T]:
    """Run `call` (catching DockspecError only), timing it and tracing its peak memory."""
    with _LOCK:
        tracemalloc.start()
        tracemalloc.reset_peak()
        started = time.monotonic()
        value: T | None = None
        error: DockspecError | None = None
        try:
            value = call()
        except DockspecError as exc:
            error = exc
        finally:
            elapsed = time.monotonic() - started
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
    test = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" ", 1)[0]
    result: Measured[T] = Measured(label, elapsed, peak, value, error, test, default_limits=default_limits)
    RECORDS.append(result)  # type: ignore[arg-type]
    return result


def measure_together(calls: dict[str, Callable[[], Any]]) -> dict[str, Measured[Any]]:
    """Run the calls at the same time, each on its own thread and timed on its own.

    For scenarios that only end at the deadline: they then cost one deadline,
    not one per call. tracemalloc sees them together, so each is given the
    peak of all of them (a conservative bound for each).
    """
    results: dict[str, tuple[float, Any, DockspecError | None]] = {}

    def run(label: str, call: Callable[[], Any]) -> None:
        started = time.monotonic()
        value: Any = None
        error: DockspecError | None = None
        try:
            value = call()
        except DockspecError as exc:
            error = exc
        results[label] = (time.monotonic() - started, value, error)

    with _LOCK:
        tracemalloc.start()
        tracemalloc.reset_peak()
        try:
            threads = [threading.Thread(target=run, args=item, name="measure") for item in calls.items()]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    test = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" ", 1)[0]
    measured: dict[str, Measured[Any]] = {}
    for label in calls:
        elapsed, value, error = results[label]
        measured[label] = Measured(label, elapsed, peak, value, error, test, together=True)
        RECORDS.append(measured[label])
    return measured


def open_fds() -> int:
    """How many file descriptors this process has open."""
    return len(os.listdir("/proc/self/fd"))


def probe_threads() -> list[threading.Thread]:
    """dockspec's probe threads still alive."""
    return [t for t in threading.enumerate() if t.name.startswith("dockspec") and t.is_alive()]
