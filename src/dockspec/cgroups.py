"""Which container a process lives in, from its /proc/PID/cgroup text. Pure.

Rule: no I/O here; dockspec._io.procs reads the file. The path forms (Docker,
Podman, containerd, cri-o, kubepods; cgroupfs and systemd) are spec data
(spec/cgroups.yaml). Every line is read: on a cgroup v1 hybrid host the v1
lines say where the process is and the `0::` line need not, so the `0::` line
counts only when no v1 line names a container (a cgroup v2 host has no other).
"""

from __future__ import annotations

import attrs

from dockspec._generated.models import CgroupForm, CgroupRules

__all__ = ["CgroupMatch", "container_of_cgroup", "container_of_path", "is_container_id"]

_HEX = frozenset("0123456789abcdef")


@attrs.frozen
class CgroupMatch:
    """A container id found in a cgroup file, the engine its form names (None: several make it) and the form.

    `delegated` is the uid whose delegated subtree (user@UID.service) holds
    it, None when the path is root's (dockspec.trust: such evidence counts
    only for that user's own daemon).
    """

    id: str
    engine: str | None
    form: str
    delegated: int | None = None


def _delegated(components: list[str], below: int, rules: CgroupRules) -> int | None:
    """The uid of the first user@UID.service component above index `below`, if any."""
    prefix, suffix = rules.delegated_prefix, rules.delegated_suffix
    for component in components[:below]:
        if component.startswith(prefix) and component.endswith(suffix):
            digits = component[len(prefix) : len(component) - len(suffix)]
            if digits.isascii() and digits.isdigit() and len(digits) <= 10:
                return int(digits)
    return None


def is_container_id(text: str, length: int) -> bool:
    """Exactly `length` lowercase hex digits."""
    return len(text) == length and _HEX.issuperset(text)


def _match(form: CgroupForm, component: str, parent: str | None, length: int) -> str | None:
    if not component.endswith(form.suffix):
        return None
    body = component[: len(component) - len(form.suffix)] if form.suffix else component
    if form.whole:
        if not body.startswith(form.prefix):
            return None
        candidate = body[len(form.prefix) :]
    else:
        if len(body) < len(form.prefix) + length:
            return None
        candidate = body[len(body) - length :]
        if not body[: len(body) - length].endswith(form.prefix):
            return None
    if not is_container_id(candidate, length):
        return None
    if form.parent is not None and parent != form.parent:
        return None
    if form.parent_prefix is not None and (parent is None or not parent.startswith(form.parent_prefix)):
        return None
    return candidate


def container_of_path(path: str, rules: CgroupRules) -> CgroupMatch | None:
    """The container a cgroup path names: its components from the deepest, the first form that matches."""
    components = path.split("/")
    for index in range(len(components) - 1, -1, -1):
        component = components[index]
        if len(component) < rules.id_length:
            continue
        parent = components[index - 1] if index > 0 else None
        for form in rules.forms:
            found = _match(form, component, parent, rules.id_length)
            if found is not None:
                return CgroupMatch(found, form.engine, form.id, _delegated(components, index, rules))
    return None


def container_of_cgroup(text: str, rules: CgroupRules) -> CgroupMatch | None:
    """The container named by a /proc/PID/cgroup file (`hierarchy:controllers:path` lines).

    The v1 lines decide; the `0::` line only when none of them names a
    container. Lines that name different containers name none.
    """
    v1: list[CgroupMatch] = []
    unified: list[CgroupMatch] = []
    for line in text.splitlines():
        hierarchy, sep, rest = line.partition(":")
        if not sep:
            continue
        _controllers, sep, path = rest.partition(":")
        if not sep or not path.startswith("/"):
            continue
        found = container_of_path(path, rules)
        if found is not None:
            (unified if hierarchy == "0" else v1).append(found)
    matches = v1 or unified
    if not matches:
        return None
    ids = {m.id for m in matches}
    if len(ids) != 1:
        return None
    delegated = next((m for m in matches if m.delegated is not None), None)  # any delegated line makes it the user's
    return delegated or matches[0]
