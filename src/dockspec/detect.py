"""Orchestration: endpoints to probe, concurrent probes, merged results.

A set DOCKER_HOST names the one daemon to use, as it does for the docker CLI.
Otherwise every endpoint of the platform table is probed concurrently and the
containers of every daemon that answers are merged (earlier table entries win
a binding both claim); each ContainerInfo records the daemon it came from.
"""

from __future__ import annotations

import os
import threading
import time

import attrs

from dockspec._generated.models import DaemonProfile, Spec
from dockspec._http import Response
from dockspec._io.exchange import Unreachable, exchange
from dockspec._io.transport import endpoint_present, same_target
from dockspec.containers import parse_list
from dockspec.endpoints import table_endpoints
from dockspec.env import Env
from dockspec.errors import DaemonNotFound, DockspecError, InvalidResponse
from dockspec.hosts import endpoint_from_env
from dockspec.lifecycle import (
    action_of,
    build_stop_target,
    engine_of,
    outcome_of,
    profile_for,
    validate_container_id,
    version_key,
)
from dockspec.models import DEFAULT_LIMITS, ContainerInfo, ContainerPortMap, Endpoint, Limits, PortKey, StopOutcome

__all__ = [
    "AWAIT_TIMEOUT",
    "DaemonReport",
    "DetectionHandle",
    "await_detection",
    "detect_containers",
    "merge_reports",
    "probe_endpoints",
    "resolve_endpoints",
    "start_detection",
    "stop_container",
]

# nanodock's await bound: a port viewer refresh must not wait longer.
AWAIT_TIMEOUT = 3.0


@attrs.frozen
class DaemonReport:
    """What one endpoint answered: its containers, or why not."""

    endpoint: Endpoint
    engine: str | None = None
    version: str | None = None
    elapsed: float = 0.0
    error: str | None = None
    reachable: bool = False
    containers: tuple[ContainerInfo, ...] = ()
    bindings: dict[PortKey, ContainerInfo] = attrs.field(factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None


def resolve_endpoints(env: Env, spec: Spec) -> tuple[list[Endpoint], bool]:
    """The endpoints to probe and whether an environment variable chose them (then only those).

    DOCKER_HOST first; then DOCKER_CONTEXT, CONTAINER_HOST, CONTAINER_CONNECTION
    (explicit); else the recorded current context and default podman
    connection, before the platform table (dockspec.contexts). ContextError
    when a named context or connection does not exist.
    """
    from dockspec._io.config_fs import FsConfigFiles
    from dockspec.contexts import select, with_env_tls

    files = FsConfigFiles()
    chosen = endpoint_from_env(env, spec)
    if chosen is not None:
        return [with_env_tls(chosen, env, spec, files)], True
    selection = select(env, spec, files)
    if selection.explicit:
        return list(selection.explicit), True
    return [*selection.recorded, *table_endpoints(env, spec)], False


def _list_once(
    endpoint: Endpoint, path: str, limits: Limits, deadline: float, spec: Spec
) -> tuple[Response, DaemonProfile | None, str | None]:
    response = exchange(endpoint, "GET", path, spec=spec, limits=limits, deadline=deadline)
    profile, version = engine_of(response, spec)
    return response, profile, version


def probe(endpoint: Endpoint, spec: Spec, limits: Limits, deadline: float) -> DaemonReport:
    """List the running containers at one endpoint; never raises DockspecError."""
    started = time.monotonic()
    hint = profile_for(endpoint.engine, spec) if endpoint.engine else None
    path = hint.list.path if hint is not None else profile_for(None, spec).list.path
    shape = hint.list.shape if hint is not None else profile_for(None, spec).list.shape
    engine = version = None
    try:
        response, profile, version = _list_once(endpoint, path, limits, deadline, spec)
        if response.status == 404 and hint is not None and shape != profile_for(None, spec).list.shape:
            # A docker daemon where the table expected podman: ask the compat list.
            fallback = profile_for(None, spec).list
            path, shape = fallback.path, fallback.shape
            response, profile, version = _list_once(endpoint, path, limits, deadline, spec)
        if (
            profile is not None
            and profile.list.shape != shape
            and _compat_incomplete(profile.compat_list_complete_since, version)
        ):
            # e.g. Podman before 5.6 drops range ports from the compat list: ask libpod.
            path, shape = profile.list.path, profile.list.shape
            response, profile, version = _list_once(endpoint, path, limits, deadline, spec)
        engine = profile.engine if profile is not None else None
        if not 200 <= response.status < 300:
            raise InvalidResponse(f"{endpoint.url}: GET {path} answered {response.status}")
        parsed = parse_list(response.body, shape, spec=spec, limits=limits, daemon=endpoint.url)
    except Unreachable as exc:
        return DaemonReport(endpoint, elapsed=time.monotonic() - started, error=str(exc))
    except DockspecError as exc:
        return DaemonReport(
            endpoint, engine=engine, version=version, elapsed=time.monotonic() - started, error=str(exc), reachable=True
        )
    return DaemonReport(
        endpoint,
        engine=engine,
        version=version,
        elapsed=time.monotonic() - started,
        reachable=True,
        containers=parsed.containers,
        bindings=parsed.bindings,
    )


def _compat_incomplete(complete_since: str | None, version: str | None) -> bool:
    if complete_since is None:
        return False
    have = version_key(version)
    return not have or have < version_key(complete_since)


def _candidates(endpoints: list[Endpoint], explicit: bool) -> list[Endpoint]:
    """Drop table paths that do not exist and second paths to the same socket."""
    if explicit:
        return endpoints
    seen: set[str] = set()
    result = []
    for endpoint in endpoints:
        if not endpoint_present(endpoint):
            continue
        key = same_target(endpoint)
        if key not in seen:
            seen.add(key)
            result.append(endpoint)
    return result


class DetectionHandle:
    """Detection under way: one daemon thread per endpoint, results as they land."""

    def __init__(self, endpoints: list[Endpoint], spec: Spec, limits: Limits, started: float) -> None:
        self.endpoints = endpoints
        self.reports: list[DaemonReport | None] = [None] * len(endpoints)
        self._done = threading.Condition()
        self._pending = len(endpoints)
        self._deadline = started + limits.deadline
        self._threads = [
            threading.Thread(
                target=self._run, args=(i, e, spec, limits), name=f"dockspec-probe-{i}", daemon=True
            )
            for i, e in enumerate(endpoints)
        ]

    def start(self) -> DetectionHandle:
        for thread in self._threads:
            thread.start()
        return self

    def _run(self, index: int, endpoint: Endpoint, spec: Spec, limits: Limits) -> None:
        try:
            report = probe(endpoint, spec, limits, self._deadline)
        except Exception as exc:  # a bug in one probe must not leave wait() waiting for it
            report = DaemonReport(endpoint, error=f"{endpoint.url}: internal error while probing: {exc!r}")
        with self._done:
            self.reports[index] = report
            self._pending -= 1
            self._done.notify_all()

    def wait(self, timeout: float) -> list[DaemonReport]:
        """The reports in endpoint order, waiting at most `timeout` s for the rest."""
        with self._done:
            self._done.wait_for(lambda: self._pending == 0, timeout=max(timeout, 0.0))
            return [r for r in self.reports if r is not None]


def probe_endpoints(
    home: str | os.PathLike[str] | None = None,
    *,
    env: Env | None = None,
    spec: Spec | None = None,
    limits: Limits = DEFAULT_LIMITS,
    all_endpoints: bool = False,
) -> tuple[list[DaemonReport], bool]:
    """Probe the endpoints concurrently; the reports in order and whether DOCKER_HOST chose them.

    With `all_endpoints`, table paths that do not exist are reported too (for
    `dockspec endpoints`).
    """
    from dockspec.spec import builtin_spec

    env = env or Env.from_os(home)
    spec = spec or builtin_spec()
    endpoints, explicit = resolve_endpoints(env, spec)
    candidates = endpoints if all_endpoints else _candidates(endpoints, explicit)
    started = time.monotonic()
    if len(candidates) == 1:
        return [probe(candidates[0], spec, limits, started + limits.deadline)], explicit
    handle = DetectionHandle(candidates, spec, limits, started).start()
    return handle.wait(limits.deadline + 0.5), explicit


def merge_reports(reports: list[DaemonReport]) -> ContainerPortMap:
    """One map of the reports' bindings (a failed report has none); an earlier endpoint wins a shared key."""
    if len(reports) == 1:
        return ContainerPortMap(reports[0].bindings)
    merged: dict[PortKey, ContainerInfo] = {}
    for report in reports:
        for key, info in report.bindings.items():
            merged.setdefault(key, info)
    return ContainerPortMap(merged)


def detect_containers(
    home: str | os.PathLike[str] | None = None,
    *,
    env: Env | None = None,
    spec: Spec | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> ContainerPortMap:
    """Detect running containers and their published ports, strictly.

    Raises DaemonNotFound when no daemon answered, InvalidResponse when the
    daemons that answered all answered with something unusable.
    """
    reports, explicit = probe_endpoints(home, env=env, spec=spec, limits=limits)
    good = [r for r in reports if r.ok]
    if good:
        return merge_reports(good)
    answered = [r for r in reports if r.reachable]
    if answered:
        raise InvalidResponse("; ".join(r.error or "" for r in answered))
    attempts = tuple((r.endpoint.url, r.error or "") for r in reports)
    if explicit:
        first = reports[0]
        raise DaemonNotFound(f"the daemon named by {first.endpoint.origin} did not answer: {first.error}", attempts)
    if not reports:
        raise DaemonNotFound("no daemon socket found at any default endpoint", attempts)
    raise DaemonNotFound("no daemon answered: " + "; ".join(r.error or "" for r in reports), attempts)


def start_detection(
    home: str | os.PathLike[str] | None = None,
    *,
    env: Env | None = None,
    spec: Spec | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> DetectionHandle:
    """Start detection in the background and return at once (best effort)."""
    from dockspec.spec import builtin_spec

    started = time.monotonic()
    spec = spec or builtin_spec()
    try:
        env = env or Env.from_os(home)
        endpoints, explicit = resolve_endpoints(env, spec)
    except DockspecError:
        endpoints, explicit = [], True
    return DetectionHandle(_candidates(endpoints, explicit), spec, limits, started).start()


def await_detection(handle: DetectionHandle, timeout: float = AWAIT_TIMEOUT) -> ContainerPortMap:
    """The merged map of every daemon that answered within `timeout` s; never raises."""
    try:
        return merge_reports([r for r in handle.wait(min(timeout, AWAIT_TIMEOUT)) if r.ok])
    except Exception:
        return ContainerPortMap()


def stop_container(
    container_id: str,
    force: bool = False,
    home: str | os.PathLike[str] | None = None,
    *,
    timeout: int = 10,
    env: Env | None = None,
    spec: Spec | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> StopOutcome:
    """Stop (SIGTERM, then SIGKILL after `timeout` s) or, with `force`, kill a container.

    The id is checked before any I/O (InvalidContainerId). Daemons are asked
    in endpoint order; a NOT_FOUND falls through to the next. The result is
    NOT_FOUND only when every daemon that answered said so, FAILED when one
    could not be asked properly or refused.
    """
    from dockspec.spec import builtin_spec

    validate_container_id(container_id)
    if timeout < 0:
        raise ValueError(f"stop timeout must be 0 or more seconds, not {timeout}")
    spec = spec or builtin_spec()
    env = env or Env.from_os(home)
    endpoints, explicit = resolve_endpoints(env, spec)
    action = action_of(force)
    saw_not_found = saw_trouble = False
    for endpoint in _candidates(endpoints, explicit):
        hint = profile_for(endpoint.engine, spec)
        target = build_stop_target(hint, container_id, force, timeout)
        deadline = time.monotonic() + limits.deadline + (0 if force else timeout)
        try:
            response = exchange(endpoint, "POST", target, spec=spec, limits=limits, deadline=deadline)
        except Unreachable:
            continue
        except DockspecError:
            saw_trouble = True
            continue
        profile, version = engine_of(response, spec)
        outcome = outcome_of(profile or hint, version, action, response)
        if outcome is StopOutcome.NOT_FOUND:
            saw_not_found = True
            continue
        return outcome
    if saw_not_found and not saw_trouble:
        return StopOutcome.NOT_FOUND
    return StopOutcome.FAILED
