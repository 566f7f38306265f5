"""asyncio API: detection and stop as coroutines, in the caller's event loop.

```python
import asyncio
from dockspec import aio

port_map = await aio.detect_containers()            # as dockspec.detect_containers
outcome = await aio.stop_container("web", force=True)  # as dockspec.stop_container
```

Each coroutine has the signature, the semantics and the errors of the sync
function of the same name in `dockspec` (dockspec.detect): the same
endpoints (DOCKER_HOST, contexts and connections, the platform table), the
same requests (dockspec.daemons' ListPlan with its 404 and compat fallbacks,
the same stop and kill targets and status rules), the same parser
(dockspec.containers), the same merge (an earlier endpoint wins a binding
several claim), the same Limits and the same one deadline per request
(asyncio.timeout_at). Only the I/O differs (dockspec._io.aio_transport):
asyncio streams for Unix sockets, TCP and TLS, an asyncio subprocess for
ssh, all feeding the same sans-IO HTTP reader.

- Detection asks every daemon at once (asyncio.gather, one task per
  endpoint, no thread); stop asks them in endpoint order, as the sync one.
- Named pipes (Windows) are sync-only: a `npipe://` endpoint is reported
  unreachable here; use dockspec.detect_containers there.
- Not part of `import dockspec`: import dockspec.aio.
- Reading the local configuration (contexts, Podman connections, TLS files)
  is synchronous, through dockspec's capped file reader: small local files.
  A TCP host given by name is resolved by the loop's getaddrinfo (asyncio's
  default executor); an IP literal needs no lookup.
- Cancelling a call closes its sockets (an ssh is killed and reaped) before
  the cancellation propagates.

`watch()` is dockspec.watch in the loop: `async with aio.watch() as
changes: async for change in changes: ...`, one task per endpoint (no
thread), the same subscription, list, event parser, merge, backoff and
Limits (dockspec.live, dockspec.events), over _io.aio_transport.AioStream.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from types import TracebackType

from dockspec._generated.models import Spec
from dockspec._http import Response
from dockspec._io.aio_transport import AioStream, exchange
from dockspec._io.net import Unreachable
from dockspec._io.transport import same_target
from dockspec.containers import LabelChoice
from dockspec.daemons import ListPlan
from dockspec.detect import (
    DaemonReport,
    Detection,
    Inspected,
    StopReport,
    StopTally,
    _candidates,
    failed_report,
    inspect_target,
    inspected,
    listed_report,
    resolve_endpoints,
    stop_endpoints,
)
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
from dockspec.live import Backoff, Served, _Daemon, daemon_reports, watched_endpoints
from dockspec.models import DEFAULT_LIMITS, ContainerInfo, ContainerPortMap, Endpoint, Limits, PortKey, StopOutcome

__all__ = [
    "AioWatch",
    "detect_containers",
    "detect_daemons",
    "probe",
    "probe_endpoints",
    "request_stop",
    "stop_container",
    "watch",
]


async def probe(
    endpoint: Endpoint, spec: Spec, limits: Limits, deadline: float, labels: LabelChoice = False
) -> DaemonReport:
    """dockspec.detect.probe as a coroutine (`deadline` on the loop's clock); never raises DockspecError."""
    started = time.monotonic()
    plan = ListPlan(spec, endpoint.engine)
    try:
        while plan.request is not None:
            plan.answer(await exchange(endpoint, "GET", plan.request.path, spec=spec, limits=limits, deadline=deadline))
        return listed_report(endpoint, plan, spec, limits, started, labels, deadline)
    except (Unreachable, DockspecError) as exc:
        return failed_report(endpoint, plan, started, exc, deadline)


async def _guarded_probe(
    endpoint: Endpoint, spec: Spec, limits: Limits, deadline: float, labels: LabelChoice
) -> DaemonReport:
    try:
        return await probe(endpoint, spec, limits, deadline, labels)
    except Exception as exc:  # a bug in one probe must not lose the other daemons' reports
        return DaemonReport(endpoint, error=f"{endpoint.url}: internal error while probing: {exc!r}")


async def probe_endpoints(
    home: str | os.PathLike[str] | None = None,
    *,
    env: Env | None = None,
    spec: Spec | None = None,
    limits: Limits = DEFAULT_LIMITS,
    all_endpoints: bool = False,
    labels: LabelChoice = False,
) -> tuple[list[DaemonReport], bool]:
    """Probe the endpoints concurrently; the reports in endpoint order and whether the environment chose them."""
    from dockspec.spec import builtin_spec

    env = env or Env.from_os(home)
    spec = spec or builtin_spec()
    endpoints, explicit = resolve_endpoints(env, spec)
    candidates = endpoints if all_endpoints else _candidates(endpoints, explicit)
    deadline = asyncio.get_running_loop().time() + limits.deadline
    if len(candidates) == 1:  # as the sync side starts no thread for one endpoint, no task for one here
        return [await _guarded_probe(candidates[0], spec, limits, deadline, labels)], explicit
    reports = await asyncio.gather(*(_guarded_probe(e, spec, limits, deadline, labels) for e in candidates))
    return list(reports), explicit


async def detect_daemons(
    home: str | os.PathLike[str] | None = None,
    *,
    env: Env | None = None,
    spec: Spec | None = None,
    limits: Limits = DEFAULT_LIMITS,
    labels: LabelChoice = False,
) -> Detection:
    """Probe every endpoint and merge what answered; never raises for a daemon's failure (see Detection.ok).

    InvalidDockerHost or ContextError when the environment names an endpoint badly.
    """
    reports, explicit = await probe_endpoints(home, env=env, spec=spec, limits=limits, labels=labels)
    return Detection.of(reports, explicit)


async def detect_containers(
    home: str | os.PathLike[str] | None = None,
    *,
    env: Env | None = None,
    spec: Spec | None = None,
    limits: Limits = DEFAULT_LIMITS,
    labels: LabelChoice = False,
) -> ContainerPortMap:
    """Detect running containers and their published ports, strictly (dockspec.detect_containers).

    Raises DaemonNotFound when no daemon answered, InvalidResponse when the
    daemons that answered all answered with something unusable. `labels` as
    dockspec.detect_containers' (default none).
    """
    detection = await detect_daemons(home, env=env, spec=spec, limits=limits, labels=labels)
    if not detection.ok:
        raise detection.error()
    return detection.port_map


async def request_stop(
    container_id: str,
    force: bool = False,
    home: str | os.PathLike[str] | None = None,
    *,
    timeout: int = 10,
    env: Env | None = None,
    spec: Spec | None = None,
    limits: Limits = DEFAULT_LIMITS,
    daemon: str | None = None,
) -> StopReport:
    """Stop (SIGTERM, then SIGKILL after `timeout` s) or, with `force`, kill a container (dockspec.request_stop).

    The id and the timeout are checked before any I/O (InvalidContainerId,
    ValueError). With `daemon` only that endpoint is asked. Otherwise, with
    more than one endpoint, each is first asked at once whether it knows the
    name: AmbiguousContainer when more than one does. Then daemons are asked
    in endpoint order; a NOT_FOUND falls through to the next.
    """
    spec, endpoints, explicit = stop_endpoints(container_id, timeout, home, env, spec, daemon)
    tally = StopTally(explicit, force, spec)
    loop = asyncio.get_running_loop()
    if len(endpoints) > 1:
        endpoints = tally.known(container_id, endpoints, await _inspect_all(endpoints, container_id, spec, limits))
    for endpoint in endpoints:
        hint, target, seconds = tally.request(endpoint, container_id, timeout, limits)
        result: Response | Exception
        try:
            result = await exchange(endpoint, "POST", target, spec=spec, limits=limits, deadline=loop.time() + seconds)
        except (Unreachable, DockspecError) as exc:
            result = exc
        report = tally.record(endpoint, hint, result)
        if report is not None:
            return report
    return tally.report()


async def stop_container(
    container_id: str,
    force: bool = False,
    home: str | os.PathLike[str] | None = None,
    *,
    timeout: int = 10,
    env: Env | None = None,
    spec: Spec | None = None,
    limits: Limits = DEFAULT_LIMITS,
    daemon: str | None = None,
) -> StopOutcome:
    """request_stop's outcome: STOPPED, ALREADY_STOPPED, NOT_FOUND (every daemon that answered said so) or FAILED."""
    report = await request_stop(
        container_id, force, home, timeout=timeout, env=env, spec=spec, limits=limits, daemon=daemon
    )
    return report.outcome


async def _inspect_all(
    endpoints: list[Endpoint], container_id: str, spec: Spec, limits: Limits
) -> list[Inspected]:
    """Ask every endpoint at once whether it knows `container_id`, within one deadline (detect._inspect_all)."""
    deadline = asyncio.get_running_loop().time() + limits.deadline

    async def ask(endpoint: Endpoint) -> Inspected:
        target = inspect_target(endpoint, container_id, spec)
        result: Response | Exception
        try:
            result = await exchange(endpoint, "GET", target, spec=spec, limits=limits, deadline=deadline)
        except (Unreachable, DockspecError) as exc:
            result = exc
        return inspected(target, result)

    return list(await asyncio.gather(*(ask(e) for e in endpoints)))


# ---------------------------------------------------------------- watch


class AioWatch:
    """dockspec.live.Watch in the event loop: `async with` starts it, `async for` yields PortMapChange values.

    One task per endpoint (no thread): subscribe to /events, list, apply the
    events in order (those that came during the list after it), relist one
    container on start, unpause, pause and rename, reconnect with the same
    doubling delay and list again; a table socket that appears later is
    picked up. `port_map` is the merged map now; `get(timeout)` the next
    change or None; `errors` each endpoint's last failure (url -> message);
    `aclose()` (or the end of the `async with` block) cancels the tasks and
    returns once every socket is closed. Changes wait in a queue of at most
    `limits.max_pending_changes`; when it is full the streams wait too.
    One loop only: not thread-safe (use dockspec.watch across threads).
    """

    def __init__(self, endpoints: list[Endpoint], spec: Spec, limits: Limits) -> None:
        self.endpoints = endpoints
        self._spec = spec
        self._limits = limits
        self._view = MergedView(tuple(e.url for e in endpoints))
        self._claimed: dict[str, str] = {}  # socket target -> the url of the task using it
        self._served: dict[str, Served] = {}
        self.errors: dict[str, str] = {}
        self.engines: dict[str, str] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._queue: asyncio.Queue[PortMapChange | None] | None = None
        self._lock: asyncio.Lock | None = None
        self._closed = False

    def start(self) -> AioWatch:
        """Start one task per endpoint in the running loop (`async with` and the first `async for` call it)."""
        if self._queue is None and not self._closed:
            self._queue = asyncio.Queue(maxsize=max(1, self._limits.max_pending_changes))
            self._lock = asyncio.Lock()
            self._tasks = [
                asyncio.get_running_loop().create_task(self._run(e), name=f"dockspec-aio-watch-{i}")
                for i, e in enumerate(self.endpoints)
            ]
        return self

    # ------------------------------------------------------------ the caller's side

    @property
    def port_map(self) -> ContainerPortMap:
        return self._view.merged

    @property
    def closed(self) -> bool:
        return self._closed

    def reports(self) -> tuple[DaemonReport, ...]:
        """Each listed daemon's bindings now, as detection's reports (dockspec.live.Watch.reports)."""
        return daemon_reports(self.endpoints, dict(self._view.maps), self.engines, self._served)

    async def get(self, timeout: float | None = None) -> PortMapChange | None:
        """The next change; None when `timeout` s passed first or the watch is closed."""
        queue = self.start()._queue
        if self._closed or queue is None:
            return None
        try:
            if timeout is None:
                change = await queue.get()
            else:
                change = await asyncio.wait_for(queue.get(), timeout)
        except asyncio.TimeoutError:
            return None
        return None if self._closed else change

    def __aiter__(self) -> AioWatch:
        return self

    async def __anext__(self) -> PortMapChange:
        change = await self.get()
        if change is None:
            raise StopAsyncIteration
        return change

    async def aclose(self) -> None:
        """Cancel every task and wait for them: their sockets are closed (an ssh killed and reaped) on return."""
        self._closed = True
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._queue is not None:
            try:
                self._queue.put_nowait(None)  # wakes a caller waiting in get()
            except asyncio.QueueFull:
                pass

    async def __aenter__(self) -> AioWatch:
        return self.start()

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # ------------------------------------------------------------ the tasks

    async def _update(self, apply: Callable[[MergedView], PortMapChange]) -> None:
        assert self._lock is not None and self._queue is not None
        async with self._lock:  # the queue's order is the map's order, while a full queue makes a task wait
            change = apply(self._view)
            if change.added or change.removed:
                await self._queue.put(change)

    async def _run(self, endpoint: Endpoint) -> None:
        loop = asyncio.get_running_loop()
        backoff = Backoff(self._limits)
        target = same_target(endpoint)
        while True:
            claimed = False
            connected: list[bool] = []
            began = loop.time()
            try:
                if target not in self._claimed:  # a symlinked twin's task follows the same daemon: one does
                    self._claimed[target] = endpoint.url
                    claimed = True
                    await self._follow(endpoint, connected)
            except (Unreachable, DockspecError, OSError) as exc:
                self.errors[endpoint.url] = str(exc)
            except Exception as exc:  # a bug must not end the watch of this daemon silently
                self.errors[endpoint.url] = f"{endpoint.url}: internal error while watching: {exc!r}"
            finally:
                if claimed:
                    self._claimed.pop(target, None)
            await asyncio.sleep(backoff.next(bool(connected), loop.time() - began))

    async def _follow(self, endpoint: Endpoint, connected: list[bool]) -> None:
        """One connection: subscribe, list, then apply events until the stream ends (or the task is cancelled)."""
        limits, spec = self._limits, self._spec
        loop = asyncio.get_running_loop()
        stream = AioStream(endpoint, limits)
        try:
            await stream.open(events_target(spec.events), spec, loop.time() + limits.deadline)
            daemon = _Daemon(endpoint)
            bindings = await self._list(daemon)
            self.errors.pop(endpoint.url, None)
            if daemon.engine:
                self.engines[endpoint.url] = daemon.engine
            late = late_headers(daemon.engine, daemon.version, spec.events)
            await stream.head(None if late else loop.time() + limits.deadline)
            if stream.status != 200:
                raise InvalidResponse(f"{endpoint.url}: GET {spec.events.path} answered {stream.status}")
            await self._update(lambda view: view.set_daemon(endpoint.url, bindings))
            connected.append(True)
            lines = EventLines(limits)
            while True:
                for line in lines.feed(await stream.read()):
                    await self._apply(daemon, line)
                await asyncio.sleep(0)  # a read of buffered bytes does not yield: a flood must not starve the loop
        finally:
            await stream.aclose()

    async def _apply(self, daemon: _Daemon, line: bytes) -> None:
        event = parse_event(line, self._spec.events, limits=self._limits)
        if event is None or event.effect == "ignore":
            return
        bindings: dict[PortKey, ContainerInfo] = {}
        if event.effect == "relist" and event.id.isalnum():
            bindings = await self._list(daemon, relist_target(daemon.list_path, event.id))
        url = daemon.endpoint.url
        await self._update(lambda view: view.apply(url, event.id, bindings))

    async def _list(self, daemon: _Daemon, target: str | None = None) -> dict[PortKey, ContainerInfo]:
        """The daemon's bindings (the ListPlan's requests), or with `target` one filtered list on the same path."""
        endpoint, spec, limits = daemon.endpoint, self._spec, self._limits
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limits.deadline
        if target is None:
            plan = ListPlan(spec, endpoint.engine)
            while plan.request is not None:
                plan.answer(await exchange(endpoint, "GET", plan.request.path, spec=spec, limits=limits,
                                           deadline=deadline))
            response, self._served[endpoint.url] = daemon.planned(plan, time.monotonic() + (deadline - loop.time()))
            path = plan.path
        else:
            path = target
            response = await exchange(endpoint, "GET", target, spec=spec, limits=limits, deadline=deadline)
        return daemon.bindings(response, path, spec, limits)


def watch(
    *,
    env: Env | None = None,
    spec: Spec | None = None,
    limits: Limits | None = None,
) -> AioWatch:
    """Follow every local daemon's port map in the running loop (dockspec.watch); yields PortMapChange.

    ```
    async with aio.watch() as changes:
        async for change in changes:      # the first changes add what each daemon publishes now
            for key, info in change.added: ...
    ```

    The endpoints are detection's; table sockets that do not exist yet are
    watched for. Raises only what resolving the endpoints raises
    (InvalidDockerHost, ContextError); a daemon's failures go to
    `AioWatch.errors` and are retried.
    """
    endpoints, spec = watched_endpoints(env, spec)
    return AioWatch(endpoints, spec, limits or DEFAULT_LIMITS)
