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
from typing import Generic, TypeVar

import attrs

from dockspec.errors import DockspecError
from dockspec.models import Limits

__all__ = ["LIMITS", "MARGIN", "RECORDS", "Measured", "measure", "open_fds", "probe_threads"]

T = TypeVar("T")

# Short, small limits keep the suite fast and make the bounds visible: the
# deadline is what a call may take, the body cap what an answer may cost.
LIMITS = Limits(deadline=0.25, max_header_bytes=8 * 1024, max_body_bytes=1024 * 1024, max_bindings=4096)
# Scheduling slack on a loaded 2-core runner; well under any deadline-less hang.
MARGIN = 0.2
MEMORY_BOUND = 2 * LIMITS.max_body_bytes


@attrs.frozen
class Measured(Generic[T]):
    label: str
    elapsed: float
    peak: int
    value: T | None = None
    error: DockspecError | None = None
    test: str = ""
    """The pytest node id (the summary leaves out tests marked xfail)."""


RECORDS: list[Measured[object]] = []
_LOCK = threading.Lock()


def measure(label: str, call: Callable[[], T]) -> Measured[T]:
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
    result: Measured[T] = Measured(label, elapsed, peak, value, error, test)
    RECORDS.append(result)  # type: ignore[arg-type]
    return result


def open_fds() -> int:
    """How many file descriptors this process has open."""
    return len(os.listdir("/proc/self/fd"))


def probe_threads() -> list[threading.Thread]:
    """dockspec's probe threads still alive."""
    return [t for t in threading.enumerate() if t.name.startswith("dockspec") and t.is_alive()]
