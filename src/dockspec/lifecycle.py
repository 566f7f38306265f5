"""Stop and kill: the id guard, the request, and what each answer means. Pure.

Rule: no I/O here. The status-to-outcome table, including the per-engine and
per-version quirks, is spec data (spec/daemons.yaml).
"""

from __future__ import annotations

import re

from dockspec._generated.models import DaemonProfile, Spec
from dockspec._http import Response
from dockspec.errors import InvalidContainerId
from dockspec.models import StopOutcome

__all__ = [
    "action_of",
    "build_stop_target",
    "engine_of",
    "outcome_of",
    "profile_for",
    "validate_container_id",
    "version_key",
]

# Docker and Podman accept ids (hex) and names matching [a-zA-Z0-9][a-zA-Z0-9_.-]*;
# anything else could change the request it is pasted into (/ ? # % space,
# CR, LF, control characters), so it is refused before any I/O.
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
MAX_ID_LENGTH = 256


def validate_container_id(container_id: str) -> str:
    """Return the id unchanged, or raise InvalidContainerId."""
    if not isinstance(container_id, str):
        raise InvalidContainerId(f"container id must be a string, not {type(container_id).__name__}")
    if len(container_id) > MAX_ID_LENGTH or not _SAFE_ID.fullmatch(container_id):
        raise InvalidContainerId(f"unsafe container id or name: {container_id!r}")
    return container_id


def action_of(force: bool) -> str:
    return "kill" if force else "stop"


def build_stop_target(profile: DaemonProfile, container_id: str, force: bool, timeout: int) -> str:
    """The request target of stop (graceful, daemon waits `timeout` s) or kill."""
    validate_container_id(container_id)
    template = profile.kill_path if force else profile.stop_path
    return template.format(id=container_id, timeout=int(timeout))


def version_key(text: str | None) -> tuple[int, ...]:
    """`4.3.1`, `Docker/20.10.24 (linux)` or `5.6.0-dev` as a comparable tuple."""
    if not text:
        return ()
    parts = []
    for piece in re.split(r"[.\-+ ]", text):
        if not piece.isdigit():
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


def outcome_of(profile: DaemonProfile, version: str | None, action: str, response: Response) -> StopOutcome:
    """The first rule of the profile matching action, status, body and version; FAILED if none."""
    have = version_key(version)
    body = response.body[:4096].decode("utf-8", "replace")
    for rule in profile.outcomes:
        if rule.action != action or rule.status != response.status:
            continue
        if rule.body_contains is not None and rule.body_contains not in body:
            continue
        if rule.since is not None and (not have or have < version_key(rule.since)):
            continue
        if rule.before is not None and (not have or have >= version_key(rule.before)):
            continue
        return StopOutcome[rule.outcome]
    return StopOutcome.FAILED
