"""Orchestration: endpoints to probe, concurrent probes, merged results.

A set DOCKER_HOST names the one daemon to use, as it does for the docker CLI.
Otherwise every endpoint of the platform table is probed concurrently and the
containers of every daemon that answers are merged (earlier table entries win
a binding both claim, in the merged map); each ContainerInfo records the
daemon it came from. Socket attribution (`dockspec ports`, `who`) does not use
that first-wins merge: `trust_of` gives it the trust rule (dockspec.trust),
under which two daemons claiming one binding make it ambiguous.
"""

from __future__ import annotations

import os
import threading
import time
from typing import TYPE_CHECKING

import attrs

from dockspec._generated.models import DaemonProfile, Spec
from dockspec._http import Response
from dockspec._io.exchange import Unreachable, exchange
from dockspec._io.transport import endpoint_present, same_target
from dockspec.containers import LabelChoice, parse_list
from dockspec.daemons import (
    ListPlan,
    action_of,
    build_inspect_target,
    build_stop_target,
    check_stop_timeout,
    engine_of,
    knows,
    outcome_of,
    profile_for,
    validate_container_id,
)
from dockspec.endpoints import table_endpoints
from dockspec.env import Env
from dockspec.errors import AmbiguousContainer, DaemonNotFound, DockspecError, InvalidResponse
from dockspec.hosts import endpoint_from_env
from dockspec.models import DEFAULT_LIMITS, ContainerInfo, ContainerPortMap, Endpoint, Limits, PortKey, StopOutcome

if TYPE_CHECKING:
    from dockspec.trust import Trust

__all__ = [
    "AWAIT_TIMEOUT",
    "DaemonReport",
    "Detection",
    "DetectionHandle",
    "StopReport",
    "await_detection",
    "begin_detection",
    "detect_containers",
    "detect_daemons",
    "merge_reports",
    "pick_daemon",
    "probe_endpoints",
    "request_stop",
    "resolve_endpoints",
    "start_detection",
    "stop_container",
    "trust_of",
]

# nanodock's await bound: a port viewer refresh must not wait longer.
AWAIT_TIMEOUT = 3.0


@attrs.frozen
class DaemonReport:
    """What one endpoint answered: its containers, or why not.

    `served_by` is the uid that served the list over a Unix socket (the
    connection's peer credentials, SO_PEERCRED); None for tcp, ssh and
    named pipes, which carry none. `peer_ip` is the address a TCP
    connection reached.
    """

    endpoint: Endpoint
    engine: str | None = None
    version: str | None = None
    elapsed: float = 0.0
    error: str | None = None
    reachable: bool = False
    containers: tuple[ContainerInfo, ...] = ()
    bindings: dict[PortKey, ContainerInfo] = attrs.field(factory=dict)
    served_by: int | None = None
    peer_ip: str | None = None
    local: bool | None = None
    """Whether its published ports are on this host (dockspec.trust); None when unknown (no connection to a name)."""

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

    chosen = endpoint_from_env(env, spec)
    if chosen is not None and not chosen.tls:
        return [chosen], True  # no certificates to attach: dockspec.contexts is not even imported
    from dockspec.contexts import select, with_env_tls

    files = FsConfigFiles(uid=env.uid)  # the files of the user the Env describes, or root's
    if chosen is not None:
        return [with_env_tls(chosen, env, spec, files)], True
    selection = select(env, spec, files)
    if selection.explicit:
        return list(selection.explicit), True
    found = [*selection.recorded, *table_endpoints(env, spec, _users(env, spec))]
    return (_root_owned_first(found) if env.uid == 0 else found), False


def _root_owned_first(endpoints: list[Endpoint]) -> list[Endpoint]:
    """Run as root: the Unix sockets root owns (lstat) before every other endpoint, each group in table order."""
    from dockspec._io.transport import socket_owner

    owned = [socket_owner(e) == 0 for e in endpoints]
    return [e for e, mine in zip(endpoints, owned, strict=True) if mine] + [
        e for e, mine in zip(endpoints, owned, strict=True) if not mine
    ]


def _users(env: Env, spec: Spec) -> dict[str, list[int]]:
    """Run as root: the uids each every-user directory names (/run/user/*), bounded by the rules' max_users."""
    from dockspec._io.userdirs import user_ids_in
    from dockspec.endpoints import user_directories

    return {directory: user_ids_in(directory, cap) for directory, cap in user_directories(env, spec).items()}


def probe(
    endpoint: Endpoint, spec: Spec, limits: Limits, deadline: float, labels: LabelChoice = False
) -> DaemonReport:
    """List the running containers at one endpoint, sending what the ListPlan asks; never raises DockspecError.

    `labels`: the labels each ContainerInfo carries (dockspec.containers.parse_list's).
    """
    started = time.monotonic()
    plan = ListPlan(spec, endpoint.engine)
    try:
        while plan.request is not None:
            plan.answer(exchange(endpoint, "GET", plan.request.path, spec=spec, limits=limits, deadline=deadline))
        return listed_report(endpoint, plan, spec, limits, started, labels, deadline)
    except (Unreachable, DockspecError) as exc:
        return failed_report(endpoint, plan, started, exc, deadline)


def listed_report(
    endpoint: Endpoint,
    plan: ListPlan,
    spec: Spec,
    limits: Limits,
    started: float,
    labels: LabelChoice = False,
    deadline: float | None = None,
) -> DaemonReport:
    """The report of a probe whose plan is done (shared by dockspec.aio); InvalidResponse for an unusable answer.

    `deadline` (time.monotonic's clock) bounds the locality check of an ssh host name.
    """
    if deadline is None:
        deadline = time.monotonic() + limits.deadline
    response = plan.response
    assert response is not None  # the plan asks at least once
    if not 200 <= response.status < 300:
        raise InvalidResponse(f"{endpoint.url}: GET {plan.path} answered {response.status}")
    parsed = parse_list(response.body, plan.shape, spec=spec, limits=limits, daemon=endpoint.url, labels=labels)
    return DaemonReport(
        endpoint,
        engine=plan.engine,
        version=plan.version,
        elapsed=time.monotonic() - started,
        reachable=True,
        containers=parsed.containers,
        bindings=parsed.bindings,
        served_by=response.peer_uid,
        peer_ip=response.peer_ip,
        local=locality(endpoint, response.peer_ip, deadline),
    )


def locality(endpoint: Endpoint, peer_ip: str | None, deadline: float, resolve: bool = True) -> bool | None:
    """Whether a daemon is local: a Unix socket or named pipe, or tcp/ssh to loopback, `localhost` or an
    address of this host's interfaces. A tcp daemon is judged by the address its connection reached; an ssh
    host name by what it resolves to, before `deadline` (None when it does not resolve in time, or when
    `resolve` is False: a daemon that did not answer is not worth a name lookup)."""
    from dockspec.trust import LOCAL_TRANSPORTS, is_local_address, is_local_name

    if endpoint.transport in LOCAL_TRANSPORTS:
        return True
    from dockspec._io.hostaddrs import host_addresses

    if peer_ip is not None:  # loopback needs no look at this host's interfaces
        return is_local_address(peer_ip, ()) or is_local_address(peer_ip, host_addresses())
    try:
        if endpoint.transport == "ssh":
            from dockspec._io.ssh import parse_ssh_url

            host = parse_ssh_url(endpoint.url).host
        else:
            from dockspec.addresses import split_host_port

            host = split_host_port(endpoint.address)[0]
    except ValueError:
        return None
    if is_local_name(host):
        return True
    if not resolve:
        import ipaddress

        try:
            literal = str(ipaddress.ip_address(host))
        except ValueError:
            return None  # a name: not looked up for a daemon that did not answer
        return is_local_address(literal, ()) or is_local_address(literal, host_addresses())
    from dockspec._io.net import resolve_addresses

    addresses = resolve_addresses(host, deadline)
    if addresses is None:
        return None
    return bool(addresses) and all(
        is_local_address(a, ()) or is_local_address(a, host_addresses()) for a in addresses
    )


def failed_report(
    endpoint: Endpoint, plan: ListPlan, started: float, exc: Exception, deadline: float | None = None
) -> DaemonReport:
    """The report of a probe that failed with `exc`: Unreachable (nothing answered) or a DockspecError."""
    local = locality(endpoint, None, time.monotonic() if deadline is None else deadline, resolve=False)
    if isinstance(exc, Unreachable):
        return DaemonReport(endpoint, elapsed=time.monotonic() - started, error=str(exc), local=local)
    return DaemonReport(
        endpoint,
        engine=plan.engine,
        version=plan.version,
        elapsed=time.monotonic() - started,
        error=str(exc),
        reachable=True,
        local=local,
    )


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

    def __init__(
        self,
        endpoints: list[Endpoint],
        spec: Spec,
        limits: Limits,
        started: float,
        explicit: bool = False,
        labels: LabelChoice = False,
    ) -> None:
        self.endpoints = endpoints
        self.labels = labels
        self.explicit = explicit
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
            report = probe(endpoint, spec, limits, self._deadline, self.labels)
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

    def detection(self) -> Detection:
        """The Detection, once every probe ended (each ends by the deadline; half a second's grace past it)."""
        return Detection.of(self.wait(self._deadline + 0.5 - time.monotonic()), self.explicit)


def probe_endpoints(
    home: str | os.PathLike[str] | None = None,
    *,
    env: Env | None = None,
    spec: Spec | None = None,
    limits: Limits = DEFAULT_LIMITS,
    all_endpoints: bool = False,
    labels: LabelChoice = False,
) -> tuple[list[DaemonReport], bool]:
    """Probe the endpoints concurrently; the reports in order and whether DOCKER_HOST chose them.

    With `all_endpoints`, table paths that do not exist are reported too (for
    `dockspec endpoints`); `labels` as detect_containers'.
    """
    from dockspec.spec import builtin_spec

    env = env or Env.from_os(home)
    spec = spec or builtin_spec()
    endpoints, explicit = resolve_endpoints(env, spec)
    candidates = endpoints if all_endpoints else _candidates(endpoints, explicit)
    started = time.monotonic()
    if len(candidates) == 1:
        return [probe(candidates[0], spec, limits, started + limits.deadline, labels)], explicit
    handle = DetectionHandle(candidates, spec, limits, started, labels=labels).start()
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


def _nothing_usable(attempts: list[tuple[Endpoint, bool, str | None]], explicit: bool) -> DockspecError:
    """Why no daemon gave a usable answer, naming every endpoint and its error.

    InvalidResponse when one answered (with something unusable), else DaemonNotFound.
    """
    answered = any(reachable for _, reachable, _ in attempts)
    failed = "gave no usable answer" if answered else "did not answer"
    if not attempts:
        message = "no Docker or Podman socket found at any default path"
    elif explicit:
        endpoint, _, error = attempts[0]
        message = f"the daemon named by {endpoint.origin} ({endpoint.url}) {failed}: {error}"
    else:
        message = f"no daemon {failed}: " + "; ".join(f"{e.url}: {error}" for e, _, error in attempts)
    if answered:
        return InvalidResponse(message)
    return DaemonNotFound(message, tuple((e.url, error or "") for e, _, error in attempts))


@attrs.frozen
class Detection:
    """Every endpoint's report and their merge: what detect_containers and the `dockspec` command use.

    `port_map`, `containers` (by id) and `engines` (by daemon url) hold what
    the endpoints that answered listed; an earlier endpoint wins a key that
    several claim. `explicit`: an environment variable chose the endpoints.
    """

    reports: tuple[DaemonReport, ...]
    explicit: bool
    port_map: ContainerPortMap
    containers: dict[str, ContainerInfo]
    engines: dict[str, str]

    @property
    def ok(self) -> bool:
        """Whether at least one endpoint answered with a usable list."""
        return any(r.ok for r in self.reports)

    @property
    def daemons(self) -> dict[str, DaemonReport]:
        """The report of each daemon url that answered usably (a ContainerInfo's `daemon`): its `served_by` uid."""
        result: dict[str, DaemonReport] = {}
        for report in self.reports:
            if report.ok:
                result.setdefault(report.endpoint.url, report)
        return result

    def error(self) -> DockspecError:
        """Why nothing usable came back (InvalidResponse or DaemonNotFound); meaningful when not `ok`."""
        return _nothing_usable([(r.endpoint, r.reachable, r.error) for r in self.reports], self.explicit)

    @classmethod
    def of(cls, reports: list[DaemonReport], explicit: bool) -> Detection:
        good = [r for r in reports if r.ok]
        containers: dict[str, ContainerInfo] = {}
        engines: dict[str, str] = {}
        for report in good:
            for info in report.containers:
                containers.setdefault(info.id, info)
            if report.engine:
                engines.setdefault(report.endpoint.url, report.engine)
        return cls(tuple(reports), explicit, merge_reports(good), containers, engines)


SUBUID_FILE = "/etc/subuid"
MAX_SUBUID_BYTES = 1024 * 1024
"""/etc/subuid at most (a line per user: some 30 000 users)."""


def trust_of(detection: Detection, env: Env, subuid: str = SUBUID_FILE) -> Trust:
    """The trust rule (dockspec.trust) over the daemons that answered: who serves each, whether it is local,
    the subordinate ids of each user that serves one (`subuid`: root's file, read through the safe reader)."""
    from dockspec.trust import DaemonFacts, Trust

    facts = [
        DaemonFacts(r.endpoint.url, r.served_by, bool(r.local), r.bindings, r.containers)
        for r in detection.daemons.values()
    ]
    users = {f.served_by for f in facts if f.served_by}
    return Trust(facts, _subordinate_ids(users, subuid) if users else {}, env.uid)


def _subordinate_ids(uids: set[int], path: str) -> dict[int, list[tuple[int, int]]]:
    """The subordinate id ranges of each uid in `uids` (a line names its user by name or uid); {} when unreadable."""
    from dockspec._io.files import Refused, read_file
    from dockspec.trust import parse_subordinate_ids

    try:
        data = read_file(path, MAX_SUBUID_BYTES, owners=frozenset({0}), deadline=time.monotonic() + 1.0)
    except Refused:
        return {}
    if data is None:
        return {}
    names: dict[str, int] = {str(uid): uid for uid in uids}
    try:
        import pwd

        for uid in uids:
            try:
                names.setdefault(pwd.getpwuid(uid).pw_name, uid)
            except (KeyError, OverflowError):
                continue
    except ImportError:
        pass
    ranges: dict[int, list[tuple[int, int]]] = {}
    for user, start, count in parse_subordinate_ids(data.decode("utf-8", "replace")):
        if user in names:
            ranges.setdefault(names[user], []).append((start, count))
    return ranges


def detect_daemons(
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
    reports, explicit = probe_endpoints(home, env=env, spec=spec, limits=limits, labels=labels)
    return Detection.of(reports, explicit)


def detect_containers(
    home: str | os.PathLike[str] | None = None,
    *,
    env: Env | None = None,
    spec: Spec | None = None,
    limits: Limits = DEFAULT_LIMITS,
    labels: LabelChoice = False,
) -> ContainerPortMap:
    """Detect running containers and their published ports, strictly.

    Raises DaemonNotFound when no daemon answered, InvalidResponse when the
    daemons that answered all answered with something unusable. `labels`:
    the labels each ContainerInfo carries: True for all, or the names to
    keep (default none; compose's are read either way, as `compose`).
    """
    detection = detect_daemons(home, env=env, spec=spec, limits=limits, labels=labels)
    if not detection.ok:
        raise detection.error()
    return detection.port_map


def begin_detection(
    home: str | os.PathLike[str] | None = None,
    *,
    env: Env | None = None,
    spec: Spec | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> DetectionHandle:
    """Start probing every endpoint in the background and return at once; `.detection()` waits for the result.

    Unlike start_detection, endpoints the environment names badly raise here
    (InvalidDockerHost, ContextError).
    """
    from dockspec.spec import builtin_spec

    started = time.monotonic()
    spec = spec or builtin_spec()
    env = env or Env.from_os(home)
    endpoints, explicit = resolve_endpoints(env, spec)
    return DetectionHandle(_candidates(endpoints, explicit), spec, limits, started, explicit).start()


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
    try:
        return begin_detection(home, env=env, spec=spec, limits=limits)
    except DockspecError:
        return DetectionHandle([], spec or builtin_spec(), limits, started, explicit=True).start()


def await_detection(handle: DetectionHandle, timeout: float = AWAIT_TIMEOUT) -> ContainerPortMap:
    """The merged map of every daemon that answered within `timeout` s; never raises."""
    try:
        return merge_reports([r for r in handle.wait(min(timeout, AWAIT_TIMEOUT)) if r.ok])
    except Exception:
        return ContainerPortMap()


@attrs.frozen
class StopReport:
    """What stopping asked and got: the outcome, whether any daemon sent a usable answer, and which daemon acted.

    `attempts` holds (endpoint, reachable, error or None) per endpoint asked,
    in order. FAILED with no usable answer means no daemon could be asked
    (`error()` says why), not that one refused. `daemon` is the endpoint
    whose answer gave the outcome (STOPPED, ALREADY_STOPPED, or FAILED when
    it refused); None when no daemon acted (NOT_FOUND, nobody answered).
    """

    outcome: StopOutcome
    answered: bool
    explicit: bool
    attempts: tuple[tuple[Endpoint, bool, str | None], ...] = ()
    daemon: Endpoint | None = None

    def error(self) -> DockspecError:
        """Why no daemon gave a usable answer (InvalidResponse or DaemonNotFound); meaningful when not `answered`."""
        return _nothing_usable(list(self.attempts), self.explicit)


def pick_daemon(endpoints: list[Endpoint], daemon: str) -> Endpoint:
    """The endpoint whose origin or URL is `daemon` (as `dockspec endpoints` shows them); DaemonNotFound if none."""
    for endpoint in endpoints:
        if daemon in (endpoint.origin, endpoint.url):
            return endpoint
    known = ", ".join(f"{e.origin or '-'} ({e.url})" for e in endpoints)
    raise DaemonNotFound(f"no endpoint has the origin or URL {daemon!r}; the endpoints are: {known}")


# One inspect answer: (known: True, False or None when unusable, reachable, error or None).
Inspected = tuple[bool | None, bool, str | None]


def _inspect_all(endpoints: list[Endpoint], container_id: str, spec: Spec, limits: Limits) -> list[Inspected]:
    """Ask every endpoint at once whether it knows `container_id`, within one deadline."""
    deadline = time.monotonic() + limits.deadline
    results: list[Inspected] = [(None, False, "no answer within the deadline")] * len(endpoints)

    def ask(index: int, endpoint: Endpoint) -> None:
        target = inspect_target(endpoint, container_id, spec)
        result: Response | Exception
        try:
            result = exchange(endpoint, "GET", target, spec=spec, limits=limits, deadline=deadline)
        except (Unreachable, DockspecError) as exc:
            result = exc
        results[index] = inspected(target, result)

    threads = [
        threading.Thread(target=ask, args=(i, e), name=f"dockspec-inspect-{i}", daemon=True)
        for i, e in enumerate(endpoints)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(deadline - time.monotonic(), 0) + 0.5)
    return list(results)


def request_stop(
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
    """Stop (SIGTERM, then SIGKILL after `timeout` s) or, with `force`, kill a container; the whole report.

    The id is checked before any I/O (InvalidContainerId). With `daemon` (an
    endpoint's origin or URL, as `dockspec endpoints` shows them; else
    DaemonNotFound) only that daemon is asked. Otherwise, when more than one
    daemon may be asked, each is first asked (at once, within one deadline)
    whether it knows the name or id prefix: more than one raises
    AmbiguousContainer and nothing is stopped; the one that knows it is asked
    to stop it. A single endpoint is asked directly. The outcome is NOT_FOUND
    only when every daemon that answered said so, FAILED when one could not
    be asked properly or refused, or when none answered. `daemon` on the
    report is the endpoint that acted.
    """
    spec, endpoints, explicit = stop_endpoints(container_id, timeout, home, env, spec, daemon)
    tally = StopTally(explicit, force, spec)
    if len(endpoints) > 1:
        endpoints = tally.known(container_id, endpoints, _inspect_all(endpoints, container_id, spec, limits))
    for endpoint in endpoints:
        hint, target, seconds = tally.request(endpoint, container_id, timeout, limits)
        result: Response | Exception
        try:
            result = exchange(endpoint, "POST", target, spec=spec, limits=limits, deadline=time.monotonic() + seconds)
        except (Unreachable, DockspecError) as exc:
            result = exc
        report = tally.record(endpoint, hint, result)
        if report is not None:
            return report
    return tally.report()


def stop_endpoints(
    container_id: str,
    timeout: int,
    home: str | os.PathLike[str] | None,
    env: Env | None,
    spec: Spec | None,
    daemon: str | None = None,
) -> tuple[Spec, list[Endpoint], bool]:
    """request_stop's checks before any I/O (the id, the timeout), then the endpoints to ask in order.

    With `daemon` (an origin or URL), only that endpoint (DaemonNotFound when none has it).
    """
    from dockspec.spec import builtin_spec

    validate_container_id(container_id)
    check_stop_timeout(timeout)
    spec = spec or builtin_spec()
    endpoints, explicit = resolve_endpoints(env or Env.from_os(home), spec)
    candidates = [pick_daemon(endpoints, daemon)] if daemon is not None else _candidates(endpoints, explicit)
    return spec, candidates, explicit


def inspect_target(endpoint: Endpoint, container_id: str, spec: Spec) -> str:
    """The inspect asked of each daemon before a stop, to learn which daemons know the name."""
    return build_inspect_target(profile_for(endpoint.engine, spec), container_id)


def inspected(target: str, result: Response | Exception) -> Inspected:
    """One inspect answer (or Unreachable / DockspecError) as (known, reachable, error)."""
    if isinstance(result, Unreachable):
        return (None, False, str(result))
    if isinstance(result, Exception):
        return (None, True, str(result))
    known = knows(result)
    return (known, True, None if known is not None else f"GET {target} answered {result.status}")


class StopTally:
    """What stopping heard so far, daemon by daemon, and when to stop asking (sans-IO; shared by dockspec.aio)."""

    def __init__(self, explicit: bool, force: bool, spec: Spec) -> None:
        self.explicit = explicit
        self.force = force
        self.spec = spec
        self.attempts: list[tuple[Endpoint, bool, str | None]] = []
        self.saw_not_found = self.saw_trouble = False

    def known(self, container_id: str, candidates: list[Endpoint], answers: list[Inspected]) -> list[Endpoint]:
        """The daemons that know the name, from the inspect round; AmbiguousContainer when more than one does."""
        known = [e for e, (k, _, _) in zip(candidates, answers, strict=True) if k]
        if len(known) > 1:
            raise AmbiguousContainer(
                f"{container_id!r} is known to {len(known)} daemons ("
                + ", ".join(f"{e.origin or '-'} {e.url}" for e in known)
                + "): nothing was stopped; pick one (`--daemon ORIGIN|URL`, `daemon=`)",
                tuple(e.url for e in known),
            )
        for endpoint, (k, reachable, error) in zip(candidates, answers, strict=True):
            if endpoint not in known:
                self.attempts.append((endpoint, reachable, error))
                self.saw_not_found = self.saw_not_found or k is False
                self.saw_trouble = self.saw_trouble or (k is None and reachable)
        return known

    def request(
        self, endpoint: Endpoint, container_id: str, timeout: int, limits: Limits
    ) -> tuple[DaemonProfile, str, float]:
        """The profile expected at `endpoint`, the target to POST, and the seconds the call may take."""
        hint = profile_for(endpoint.engine, self.spec)
        target = build_stop_target(hint, container_id, self.force, timeout)
        return hint, target, limits.deadline + (0 if self.force else timeout)

    def record(self, endpoint: Endpoint, hint: DaemonProfile, result: Response | Exception) -> StopReport | None:
        """Record one daemon's answer (or Unreachable / DockspecError); the report when asking ends here."""
        if isinstance(result, Exception):
            reachable = not isinstance(result, Unreachable)
            self.attempts.append((endpoint, reachable, str(result)))
            self.saw_trouble = self.saw_trouble or reachable
            return None
        self.attempts.append((endpoint, True, None))
        profile, version = engine_of(result, self.spec)
        outcome = outcome_of(profile or hint, version, action_of(self.force), result)
        if outcome is StopOutcome.NOT_FOUND:
            self.saw_not_found = True
            return None
        return StopReport(outcome, True, self.explicit, tuple(self.attempts), endpoint)

    def report(self) -> StopReport:
        """The report when no daemon ended the asking: NOT_FOUND when every one that answered said so, else FAILED."""
        answered = any(error is None for _, _, error in self.attempts)
        not_found = self.saw_not_found and not self.saw_trouble
        outcome = StopOutcome.NOT_FOUND if not_found else StopOutcome.FAILED
        return StopReport(outcome, answered, self.explicit, tuple(self.attempts))


def stop_container(
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
    """request_stop's outcome: STOPPED, ALREADY_STOPPED, NOT_FOUND (every daemon that answered said so) or FAILED.

    A name more than one daemon knows raises AmbiguousContainer unless
    `daemon` (an origin or URL) picks one; request_stop's report says which
    daemon acted.
    """
    return request_stop(
        container_id, force, home, timeout=timeout, env=env, spec=spec, limits=limits, daemon=daemon
    ).outcome
