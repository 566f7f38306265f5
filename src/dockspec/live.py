"""A live port map: `watch()` follows every local daemon's /events and yields PortMapChange values.

Per endpoint, one thread: subscribe to /events (filtered on the server,
spec/events.yaml), then list the daemon's containers, then apply the events
in order, those that came during the list after it (dockspec.events). A
relist event lists that one container again. When a daemon goes away (or
sends something unusable) its thread reconnects with a doubling delay, from
0.1 s up to `limits.max_reconnect_delay` (back to 0.1 s after a connection
that lasted longer than that), and lists again: Docker keeps
only 256 events for `since`, so a list, not a replay, is the truth after a
gap. A table socket that does not exist yet is tried the same way, so a
daemon that starts later is picked up. Until a daemon is back its last
bindings stay (Podman's containers outlive its service; the re-list
corrects the rest).

dockspec.aio.watch does the same with one asyncio task per endpoint; the
pieces both need (the list's handling, the backoff, the endpoints, the
reports) are this module's functions, the parsing is dockspec.events'.

Thread-safe: one lock orders the merged map's updates and the queue; any
thread may call close(), which returns at once (well within 100 ms); the
threads end within a poll (0.2 s) or, mid-request, by that request's deadline.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from types import TracebackType

from dockspec._generated.models import Spec
from dockspec._http import Response
from dockspec._io.exchange import Unreachable, exchange
from dockspec._io.stream import Stream
from dockspec._io.transport import same_target
from dockspec.containers import parse_list
from dockspec.daemons import ListPlan
from dockspec.detect import DaemonReport, locality
from dockspec.env import Env
from dockspec.errors import DockspecError, InvalidResponse
from dockspec.events import (
    EventLines,
    MergedView,
    PortMapChange,
    events_target,
    late_headers,
    parse_event,
    relist_target,
)
from dockspec.models import DEFAULT_LIMITS, ContainerInfo, ContainerPortMap, Endpoint, Limits, PortKey

__all__ = ["FIRST_DELAY", "POLL", "Backoff", "Watch", "daemon_reports", "watch", "watched_endpoints"]

POLL = 0.2  # how long one read of a quiet stream waits before the thread looks at the stop flag
FIRST_DELAY = 0.1


class _Closed(Exception):
    """The watch was closed: the thread ends."""


Served = tuple[int | None, str | None, bool | None]  # who served a list (peer uid, peer ip), whether it is local


class _Daemon:
    """What one follower (a thread here, a task in dockspec.aio) knows of its daemon: where its list is, its shape.

    The I/O is the follower's; what to make of the answers is here, shared.
    """

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.list_path = ""
        self.shape = ""
        self.engine: str | None = None
        self.version: str | None = None

    def planned(self, plan: ListPlan, deadline: float) -> tuple[Response, Served]:
        """After the ListPlan's last answer: record its path, shape, engine, version; its response and who served it."""
        response = plan.response
        assert response is not None
        self.list_path, self.shape = plan.path, plan.shape
        self.engine, self.version = plan.engine, plan.version
        local = locality(self.endpoint, response.peer_ip, deadline)
        return response, (response.peer_uid, response.peer_ip, local)

    def bindings(self, response: Response, path: str, spec: Spec, limits: Limits) -> dict[PortKey, ContainerInfo]:
        """A list answer's bindings, through detection's parser; InvalidResponse for a status that is not 2xx."""
        url = self.endpoint.url
        if not 200 <= response.status < 300:
            raise InvalidResponse(f"{url}: GET {path} answered {response.status}")
        return parse_list(response.body, self.shape, spec=spec, limits=limits, daemon=url).bindings


class Backoff:
    """The wait before the next attempt: doubling from FIRST_DELAY up to `limits.max_reconnect_delay`.

    Back to FIRST_DELAY after a connection that lasted longer than that.
    """

    __slots__ = ("_limit", "delay")

    def __init__(self, limits: Limits) -> None:
        self._limit = limits.max_reconnect_delay
        self.delay = FIRST_DELAY

    def next(self, connected: bool, lasted: float) -> float:
        """The delay to wait now, after an attempt that `connected` (headers in) and `lasted` seconds."""
        if connected and lasted > self._limit:
            self.delay = FIRST_DELAY  # it was followed a while: the next attempt starts from the shortest delay
        now = self.delay
        self.delay = min(self.delay * 2, max(self._limit, FIRST_DELAY))
        return now


def daemon_reports(
    endpoints: list[Endpoint], maps: dict[str, ContainerPortMap], engines: dict[str, str], served: dict[str, Served]
) -> tuple[DaemonReport, ...]:
    """Each listed daemon's bindings as detection's reports, with who served it and whether it is local."""
    result = []
    for endpoint in endpoints:
        if endpoint.url not in maps:
            continue
        bindings = dict(maps[endpoint.url].items())
        peer_uid, peer_ip, local = served.get(endpoint.url, (None, None, None))
        result.append(
            DaemonReport(
                endpoint,
                engine=engines.get(endpoint.url),
                reachable=True,
                containers=tuple({info.id: info for info in bindings.values()}.values()),
                bindings=bindings,
                served_by=peer_uid,
                peer_ip=peer_ip,
                local=local,
            )
        )
    return tuple(result)


def watched_endpoints(env: Env | None, spec: Spec | None) -> tuple[list[Endpoint], Spec]:
    """The endpoints a watch follows: detection's (DOCKER_HOST, contexts, the table), each url once; and the spec."""
    from dockspec.detect import resolve_endpoints
    from dockspec.spec import builtin_spec

    env = env or Env.from_os()
    spec = spec or builtin_spec()
    endpoints, _ = resolve_endpoints(env, spec)
    seen: set[str] = set()
    unique = [e for e in endpoints if not (e.url in seen or seen.add(e.url))]  # type: ignore[func-returns-value]
    return unique, spec


class Watch:
    """The running watch: iterate for PortMapChange values; `close()` (or the with block's end) stops it.

    `port_map` is the merged map now. `get(timeout)` is the next change or
    None after `timeout` s. `errors` holds each endpoint's last failure
    (url -> message), for a caller who wants to say why nothing comes.
    """

    def __init__(self, endpoints: list[Endpoint], spec: Spec, limits: Limits) -> None:
        self._spec = spec
        self._limits = limits
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._queue: queue.Queue[PortMapChange | None] = queue.Queue(maxsize=max(1, limits.max_pending_changes))
        self._view = MergedView(tuple(e.url for e in endpoints))
        self._claimed: dict[str, str] = {}  # socket target -> the url of the thread using it
        self.errors: dict[str, str] = {}
        self.engines: dict[str, str] = {}  # daemon url -> engine, as its list's headers said
        # daemon url -> who served its last list (peer uid, peer ip), whether it is local: the trust rule's facts
        self._served: dict[str, Served] = {}
        self.endpoints = endpoints
        self._threads = [
            threading.Thread(target=self._run, args=(e,), name=f"dockspec-watch-{i}", daemon=True)
            for i, e in enumerate(endpoints)
        ]

    def start(self) -> Watch:
        for thread in self._threads:
            thread.start()
        return self

    # ------------------------------------------------------------ the caller's side

    @property
    def port_map(self) -> ContainerPortMap:
        return self._view.merged  # one attribute read of an immutable map: no lock (a full queue holds it)

    def reports(self) -> tuple[DaemonReport, ...]:
        """Each listed daemon's bindings now, as detection's reports with who served it and whether it is local.

        For the trust rule (dockspec.detect.trust_of), as `ports --watch` applies it.
        """
        with self._lock:
            maps = dict(self._view.maps)
        return daemon_reports(self.endpoints, maps, self.engines, self._served)

    def get(self, timeout: float | None = None) -> PortMapChange | None:
        """The next change; None when `timeout` s passed first or the watch is closed."""
        if self._stop.is_set():
            return None
        try:
            change = self._queue.get(timeout=timeout)
        except queue.Empty:
            return None
        return None if self._stop.is_set() else change

    def __iter__(self) -> Iterator[PortMapChange]:
        while not self._stop.is_set():
            change = self.get(POLL)
            if change is not None:
                yield change

    def close(self) -> None:
        """Stop every thread (they end on their own; this does not wait for them)."""
        self._stop.set()
        try:
            self._queue.put_nowait(None)  # wakes a caller blocked in get()
        except queue.Full:
            pass

    def join(self, timeout: float | None = None) -> bool:
        """After close(): wait up to `timeout` s for the threads to end (their sockets closed); whether all did."""
        end = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            thread.join(None if end is None else max(0.0, end - time.monotonic()))
        return not any(t.is_alive() for t in self._threads)

    @property
    def closed(self) -> bool:
        return self._stop.is_set()

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    # ------------------------------------------------------------ the threads

    def _emit(self, change: PortMapChange) -> None:
        """Queue a change, waiting while the queue is full (the stream then waits too: bounded memory)."""
        if not change.added and not change.removed:
            return
        while True:
            if self._stop.is_set():
                raise _Closed
            try:
                self._queue.put(change, timeout=POLL)
                return
            except queue.Full:
                continue

    def _update(self, apply: Callable[[MergedView], PortMapChange]) -> None:
        with self._lock:
            change = apply(self._view)
            if change.added or change.removed:
                # queued under the lock, so the queue's order is the map's order
                self._emit(change)

    def _run(self, endpoint: Endpoint) -> None:
        backoff = Backoff(self._limits)
        target = same_target(endpoint)
        while not self._stop.is_set():
            claimed = False
            connected: list[bool] = []
            began = time.monotonic()
            try:
                with self._lock:
                    holder = self._claimed.get(target)
                    if holder is None:
                        self._claimed[target] = endpoint.url
                        claimed = True
                if claimed:
                    self._follow(endpoint, connected)
            except _Closed:
                return
            except (Unreachable, DockspecError, OSError) as exc:
                self.errors[endpoint.url] = str(exc)
            except Exception as exc:  # a bug must not end the watch of this daemon silently
                self.errors[endpoint.url] = f"{endpoint.url}: internal error while watching: {exc!r}"
            finally:
                if claimed:
                    with self._lock:
                        self._claimed.pop(target, None)
            if self._stop.wait(backoff.next(bool(connected), time.monotonic() - began)):
                return

    def _follow(self, endpoint: Endpoint, connected: list[bool]) -> None:
        """One connection: subscribe, list, then apply events until the stream ends or the watch closes."""
        limits, spec = self._limits, self._spec
        stream = Stream(endpoint, limits)
        try:
            stream.open(events_target(spec.events), spec, time.monotonic() + limits.deadline)
            daemon = _Daemon(endpoint)
            bindings = self._list(daemon)
            self.errors.pop(endpoint.url, None)
            if daemon.engine:
                self.engines[endpoint.url] = daemon.engine
            pending: list[bytes] = []
            deadline = None if late_headers(daemon.engine, daemon.version, spec.events) else (
                time.monotonic() + limits.deadline
            )
            while stream.head(deadline, POLL, pending) is None:
                if self._stop.is_set():
                    raise _Closed
            if stream.status != 200:
                raise InvalidResponse(f"{endpoint.url}: GET {spec.events.path} answered {stream.status}")
            self._update(lambda view: view.set_daemon(endpoint.url, bindings))
            connected.append(True)
            lines = EventLines(limits)
            while not self._stop.is_set():
                data = pending.pop(0) if pending else stream.read(time.monotonic() + POLL)
                for line in lines.feed(data) if data else ():
                    self._apply(daemon, line)
            raise _Closed
        finally:
            stream.close()

    def _apply(self, daemon: _Daemon, line: bytes) -> None:
        event = parse_event(line, self._spec.events, limits=self._limits)
        if event is None or event.effect == "ignore":
            return
        bindings: dict[PortKey, ContainerInfo] = {}
        if event.effect == "relist":
            bindings = self._list(daemon, relist_target(daemon.list_path, event.id)) if event.id.isalnum() else {}
        url = daemon.endpoint.url
        self._update(lambda view: view.apply(url, event.id, bindings))

    def _list(self, daemon: _Daemon, target: str | None = None) -> dict[PortKey, ContainerInfo]:
        """The daemon's bindings (the ListPlan's requests), or with `target` one filtered list on the same path."""
        endpoint, spec, limits = daemon.endpoint, self._spec, self._limits
        deadline = time.monotonic() + limits.deadline
        if target is None:
            plan = ListPlan(spec, endpoint.engine)
            while plan.request is not None:
                if self._stop.is_set():
                    raise _Closed
                plan.answer(exchange(endpoint, "GET", plan.request.path, spec=spec, limits=limits, deadline=deadline))
            response, self._served[endpoint.url] = daemon.planned(plan, deadline)
            path = plan.path
        else:
            path = target
            response = exchange(endpoint, "GET", target, spec=spec, limits=limits, deadline=deadline)
        return daemon.bindings(response, path, spec, limits)


def watch(
    *,
    env: Env | None = None,
    spec: Spec | None = None,
    limits: Limits | None = None,
) -> Watch:
    """Follow every local daemon's port map; a context manager whose iteration yields PortMapChange.

    ```
    with dockspec.watch() as changes:
        for change in changes:          # the first changes add what each daemon publishes now
            for key, info in change.added: ...
    ```

    The endpoints are detection's (DOCKER_HOST, contexts, the platform
    table); table sockets that do not exist yet are watched for. Raises only
    what resolving the endpoints raises (InvalidDockerHost, ContextError);
    a daemon's failures go to `Watch.errors` and are retried.
    """
    endpoints, spec = watched_endpoints(env, spec)
    return Watch(endpoints, spec, limits or DEFAULT_LIMITS).start()
