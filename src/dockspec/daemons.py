"""What dockspec knows about daemons: engines, versions, which list to ask, what stop answers mean. Pure.

Rule: no I/O here (no sockets, threads or clocks). Answers come in as
`dockspec._http.Response` values and requests go out as paths, so every rule
is tested by feeding it literal responses. The facts themselves (headers,
paths, shapes, version thresholds, status-to-outcome tables) are spec data
(spec/daemons.yaml); dockspec.detect sends what this module asks for.
"""

from __future__ import annotations

from dockspec._generated.models import DaemonProfile, ListRule, Spec
from dockspec._http import Response
from dockspec.errors import InvalidContainerId
from dockspec.models import StopOutcome

__all__ = [
    "ListPlan",
    "action_of",
    "build_inspect_target",
    "build_stop_target",
    "engine_of",
    "knows",
    "outcome_of",
    "profile_for",
    "validate_container_id",
    "version_key",
]

# ---------------------------------------------------------------- engines and versions


def version_key(text: str | None) -> tuple[int, ...]:
    """`4.3.1`, `20.10.24+dfsg1` or `5.6.0-dev` as a comparable tuple: the leading numbers."""
    parts = []
    for piece in (text or "").replace("-", ".").replace("+", ".").replace(" ", ".").split("."):
        if not piece.isdigit() or not piece.isascii():
            break
        parts.append(int(piece))
    return tuple(parts)


def engine_of(response: Response, spec: Spec) -> tuple[DaemonProfile | None, str | None]:
    """Which engine answered, and its version, from the response headers."""
    for profile in spec.daemons:
        value = response.header(profile.identify_header)
        if value is None:
            continue
        if profile.identify_prefix is not None:
            if not value.startswith(profile.identify_prefix):
                continue
            value = value[len(profile.identify_prefix) :]
        version = value.split(" ", 1)[0] if profile.version_header else None
        return profile, version
    return None, None


def profile_for(engine: str | None, spec: Spec) -> DaemonProfile:
    """The profile of `engine`; the last profile (docker, the compat API) when unknown."""
    for profile in spec.daemons:
        if profile.engine == engine:
            return profile
    return spec.daemons[-1]


def _before(version: str | None, threshold: str) -> bool:
    """Whether `version` is below `threshold`; an unknown version counts as below."""
    have = version_key(version)
    return not have or have < version_key(threshold)


# ---------------------------------------------------------------- the list plan


class ListPlan:
    """Which list request to send, then which next, from the answers so far (sans-IO).

    A request is the spec's ListRule: the path to GET and the shape of its answer.

    ```
    plan = ListPlan(spec, endpoint.engine)
    while plan.request is not None:
        plan.answer(send(plan.request))
    # plan.response: the answer to parse (to GET plan.path), in plan.shape; plan.engine, plan.version
    ```

    1. Ask the list of the engine the endpoint table expects there (libpod
       for podman), else the compat list.
    2. A 404 where libpod was expected (a docker daemon there): ask the compat list.
    3. A compat answer from an engine whose compat list is incomplete before
       some version (Podman before 5.6 drops range ports), from such a
       version: ask that engine's own list.
    Each step happens at most once, so at most three requests are sent.
    """

    def __init__(self, spec: Spec, expected_engine: str | None = None) -> None:
        self._spec = spec
        compat = profile_for(None, spec).list
        first = profile_for(expected_engine, spec).list if expected_engine else compat
        self.request: ListRule | None = first
        self.path, self.shape = first.path, first.shape
        self.response: Response | None = None
        self.profile: DaemonProfile | None = None
        self.version: str | None = None
        self._may_fall_back = first.shape != compat.shape
        self._may_reask = True

    @property
    def engine(self) -> str | None:
        """The engine that sent the last answer, if its headers said."""
        return self.profile.engine if self.profile is not None else None

    def answer(self, response: Response) -> None:
        """Record the answer to `self.request`; `self.request` becomes the next one, or None when done."""
        if self.request is None:
            raise RuntimeError("the list plan is done; no request was outstanding")
        self.response, self.path, self.shape = response, self.request.path, self.request.shape
        self.profile, self.version = engine_of(response, self._spec)
        self.request = None
        if self._may_fall_back:
            self._may_fall_back = False
            if response.status == 404:
                self.request = profile_for(None, self._spec).list
                return
        if self._may_reask:
            self._may_reask = False
            own = self.profile
            if (
                own is not None
                and own.list.shape != self.shape
                and own.compat_list_complete_since is not None
                and _before(self.version, own.compat_list_complete_since)
            ):
                self.request = own.list


# ---------------------------------------------------------------- stop and kill

# Docker and Podman accept ids (hex) and names matching [a-zA-Z0-9][a-zA-Z0-9_.-]*;
# anything else could change the request it is pasted into (/ ? # % space,
# CR, LF, control characters), so it is refused before any I/O.
_ID_FIRST = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_ID_REST = _ID_FIRST | frozenset("_.-")
MAX_ID_LENGTH = 256


def validate_container_id(container_id: str) -> str:
    """Return the id unchanged, or raise InvalidContainerId."""
    if not isinstance(container_id, str):
        raise InvalidContainerId(f"container id must be a string, not {type(container_id).__name__}")
    if (
        not container_id
        or len(container_id) > MAX_ID_LENGTH
        or container_id[0] not in _ID_FIRST
        or not _ID_REST.issuperset(container_id)
    ):
        raise InvalidContainerId(f"unsafe container id or name: {container_id!r}")
    return container_id


def action_of(force: bool) -> str:
    return "kill" if force else "stop"


MAX_STOP_SECONDS = 86_400
"""The longest stop grace period dockspec asks for (a day): past it, now + t overflows the clock's range."""


def check_stop_timeout(timeout: int) -> None:
    """ValueError unless `timeout` is whole seconds from 0 to MAX_STOP_SECONDS, checked before any I/O."""
    if type(timeout) is not int or not 0 <= timeout <= MAX_STOP_SECONDS:
        raise ValueError(f"stop timeout must be whole seconds from 0 to {MAX_STOP_SECONDS}, not {timeout!r}")


def build_stop_target(profile: DaemonProfile, container_id: str, force: bool, timeout: int) -> str:
    """The request target of stop (graceful, daemon waits `timeout` s) or kill."""
    validate_container_id(container_id)
    template = profile.kill_path if force else profile.stop_path
    return template.format(id=container_id, timeout=int(timeout))


def build_inspect_target(profile: DaemonProfile, container_id: str) -> str:
    """The request target of inspect: does this daemon know the name or id prefix?"""
    validate_container_id(container_id)
    return profile.inspect_path.format(id=container_id)


def knows(response: Response) -> bool | None:
    """An inspect answer: True (2xx, the daemon knows the name), False (404), None (anything else)."""
    if 200 <= response.status < 300:
        return True
    return False if response.status == 404 else None


def outcome_of(profile: DaemonProfile, version: str | None, action: str, response: Response) -> StopOutcome:
    """The first rule of the profile matching action, status, body and version; FAILED if none."""
    body = response.body[:4096].decode("utf-8", "replace")
    for rule in profile.outcomes:
        if rule.action != action or rule.status != response.status:
            continue
        if rule.body_contains is not None and rule.body_contains not in body:
            continue
        if rule.since is not None and _before(version, rule.since):
            continue
        if rule.before is not None and (not version_key(version) or not _before(version, rule.before)):
            continue  # a rule for versions before X needs a known version
        return StopOutcome[rule.outcome]
    return StopOutcome.FAILED
