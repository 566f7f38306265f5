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
"""

from __future__ import annotations

import asyncio
import os
import time

from dockspec._generated.models import Spec
from dockspec._http import Response
from dockspec._io.aio_transport import exchange
from dockspec._io.net import Unreachable
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
from dockspec.errors import DockspecError
from dockspec.models import DEFAULT_LIMITS, ContainerPortMap, Endpoint, Limits, StopOutcome

__all__ = ["detect_containers", "detect_daemons", "probe", "probe_endpoints", "request_stop", "stop_container"]


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
