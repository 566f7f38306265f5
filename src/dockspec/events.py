"""Container events to port-map changes: pure, no I/O (the h11 way).

Rule: bytes in, values out. `EventLines` cuts a stream's body into lines
under a cap; `parse_event` turns one line into a `ContainerEvent` (the keys
and what each Action means are spec data, spec/events.yaml);
`apply_bindings` replaces one container's bindings in an immutable
`ContainerPortMap` and says what changed (`PortMapChange`); `MergedView`
keeps one map per daemon and their merge (an earlier daemon wins a key
several claim, as detection merges). dockspec.watch does the I/O.

On start, unpause, pause and rename the container is listed again
(the daemon's own list filtered on its id, `relist_target`), not
inspected: the list answer goes through the very parser detection uses, so
the map after an event equals what a fresh detection would show (ranges,
wildcard addresses, names, compose), with no second parser for inspect's
other shape. On die, stop, destroy and remove its bindings leave, no I/O; kill is
ignored (a die follows when it ends the container).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import quote

import attrs

from dockspec.daemons import version_key
from dockspec.errors import InvalidResponse
from dockspec.models import DEFAULT_LIMITS, ContainerInfo, ContainerPortMap, Limits, PortKey

if TYPE_CHECKING:
    from dockspec._generated.models import EventRules

__all__ = [
    "ContainerEvent",
    "EventLines",
    "MergedView",
    "PortMapChange",
    "apply_bindings",
    "diff",
    "events_target",
    "late_headers",
    "parse_event",
    "relist_target",
]

Binding = tuple[PortKey, ContainerInfo]
Owner = tuple[str | None, str]  # (daemon url or None, container id)


@attrs.frozen
class ContainerEvent:
    """One container event: its Action, what it does (relist, drop, ignore), the container id and name."""

    action: str
    effect: str
    id: str
    name: str | None = None
    time_nano: int | None = None


@attrs.frozen
class PortMapChange:
    """The map after a change, and the bindings that left and came, each with its container (sorted)."""

    port_map: ContainerPortMap
    added: tuple[Binding, ...]
    removed: tuple[Binding, ...]


def _rules(rules: EventRules | None) -> EventRules:
    if rules is None:
        from dockspec.spec import builtin_spec

        return builtin_spec().events
    return rules


def events_target(rules: EventRules | None = None) -> str:
    """The request target of the subscription: the path and its server-side filter."""
    rules = _rules(rules)
    filters = {"type": [rules.type], "event": list(rules.filter_events)}
    return f"{rules.path}?filters={quote(json.dumps(filters, separators=(',', ':')), safe='')}"


def relist_target(list_path: str, container_id: str) -> str:
    """The list request of one container: `list_path` filtered on its id."""
    filters = quote(json.dumps({"id": [container_id]}, separators=(",", ":")), safe="")
    return f"{list_path}{'&' if '?' in list_path else '?'}filters={filters}"


def late_headers(engine: str | None, version: str | None, rules: EventRules | None = None) -> bool:
    """Whether this engine version sends no headers on /events until its first event."""
    have = version_key(version)
    if engine is None or not have:
        return False
    return any(
        r.engine == engine and version_key(r.since) <= have < version_key(r.before) for r in _rules(rules).late_headers
    )


class EventLines:
    """Cuts a stream body into lines; a line longer than `limits.max_event_bytes` is an InvalidResponse.

    Memory: the unfinished line only, never more than the cap, whatever the
    stream sends (one byte at a time or megabytes without a newline).
    """

    __slots__ = ("_cap", "_partial")

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self._cap = limits.max_event_bytes
        self._partial = b""

    def feed(self, data: bytes) -> list[bytes]:
        """The complete lines `data` finishes (empty lines dropped)."""
        if b"\n" not in data:
            if len(self._partial) + len(data) > self._cap:
                raise InvalidResponse(f"an event line exceeds the {self._cap}-byte cap")
            self._partial += data
            return []
        pieces = (self._partial + data).split(b"\n")
        self._partial = pieces.pop()
        if len(self._partial) > self._cap or any(len(p) > self._cap for p in pieces):
            raise InvalidResponse(f"an event line exceeds the {self._cap}-byte cap")
        return [p for p in pieces if p.strip()]


def _too_deep(line: bytes, cap: int) -> bool:
    """Whether [ and { nest deeper than `cap` outside strings (only scanned when there are that many)."""
    if line.count(b"[") + line.count(b"{") <= cap:
        return False
    depth = 0
    in_string = escaped = False
    for c in line:
        if in_string:
            if escaped:
                escaped = False
            elif c == 0x5C:
                escaped = True
            elif c == 0x22:
                in_string = False
        elif c == 0x22:
            in_string = True
        elif c in (0x5B, 0x7B):
            depth += 1
            if depth > cap:
                return True
        elif c in (0x5D, 0x7D):
            depth -= 1
    return False


def _bad(what: str) -> InvalidResponse:
    return InvalidResponse(f"unusable event: {what}")


def parse_event(
    line: bytes, rules: EventRules | None = None, *, limits: Limits = DEFAULT_LIMITS
) -> ContainerEvent | None:
    """One /events line as a ContainerEvent; None for an event of another type.

    An Action the rules do not list comes back with effect `ignore`. A line
    over the caps (max_event_bytes, max_event_depth), not a JSON object, or a
    container event without a string Action or Actor.ID is an InvalidResponse.
    """
    rules = _rules(rules)
    if len(line) > limits.max_event_bytes:
        raise _bad(f"longer than the {limits.max_event_bytes}-byte cap")
    if _too_deep(line, limits.max_event_depth):
        raise _bad(f"nested deeper than {limits.max_event_depth}")
    try:
        data = json.loads(line)
    except (ValueError, RecursionError) as exc:
        raise _bad(f"not JSON ({exc.__class__.__name__})") from None
    if type(data) is not dict:
        raise _bad(f"a JSON {type(data).__name__}, not an object")
    keys = rules.keys
    if data.get(keys.type) != rules.type:
        return None
    action = data.get(keys.action)
    actor = data.get(keys.actor)
    if type(action) is not str or type(actor) is not dict:
        raise _bad("a container event without a string Action and an Actor object")
    container_id = actor.get(keys.id)
    if type(container_id) is not str or not container_id:
        raise _bad("a container event without a string Actor.ID")
    attributes = actor.get(keys.attributes)
    name = attributes.get(keys.name) if type(attributes) is dict else None
    stamp = data.get(keys.time_nano)
    effect = next((a.effect for a in rules.actions if a.action == action), "ignore")
    return ContainerEvent(
        action,
        effect,
        container_id,
        name if type(name) is str else None,
        stamp if type(stamp) is int else None,
    )


def _owners(port_map: ContainerPortMap) -> dict[Owner, tuple[PortKey, ...]]:
    """The keys of each (daemon, container id) in the map, built once per map and handed on."""
    owners = port_map._owners
    if owners is None:
        found: dict[Owner, list[PortKey]] = {}
        for key, info in port_map._map.items():
            found.setdefault((info.daemon, info.id), []).append(key)
        owners = {owner: tuple(keys) for owner, keys in found.items()}
        port_map._owners = owners
    return owners  # type: ignore[no-any-return]


def _sorted(bindings: list[Binding]) -> tuple[Binding, ...]:
    return tuple(sorted(bindings, key=lambda b: (b[0][1], b[0][2].value, b[0][0] or "", b[1].id)))


def apply_bindings(
    port_map: ContainerPortMap,
    daemon: str | None,
    container_id: str,
    bindings: Mapping[PortKey, ContainerInfo],
) -> PortMapChange:
    """`port_map` with the bindings of container `container_id` of `daemon` replaced by `bindings`.

    `bindings` are the container's, as a list answer filtered on it parses
    (empty: the container left). A key another container already holds
    stays with it (detection's first-wins). Cost: the container's bindings
    and two dict copies, not a walk of the map.
    """
    owners = _owners(port_map)
    owner = (daemon, container_id)
    old_keys = owners.get(owner, ())
    current = port_map._map
    if not old_keys and not bindings:
        return PortMapChange(port_map, (), ())
    new_map = dict(current)
    removed = []
    for key in old_keys:
        info = new_map.pop(key)
        if bindings.get(key) != info:
            removed.append((key, info))
    added = []
    kept = []
    for key, info in bindings.items():
        holder = new_map.get(key)
        if holder is not None:
            continue
        new_map[key] = info
        kept.append(key)
        if current.get(key) != info:
            added.append((key, info))
    new_owners = dict(owners)
    if kept:
        new_owners[owner] = tuple(kept)
    else:
        new_owners.pop(owner, None)
    result = ContainerPortMap._trusted(new_map)
    result._owners = new_owners
    return PortMapChange(result, _sorted(added), _sorted(removed))


def diff(old: Mapping[PortKey, ContainerInfo], new: Mapping[PortKey, ContainerInfo]) -> tuple[
    tuple[Binding, ...], tuple[Binding, ...]
]:
    """(added, removed) between two maps, a binding whose container changed counting as both."""
    added = [(k, v) for k, v in new.items() if old.get(k) != v]
    removed = [(k, v) for k, v in old.items() if new.get(k) != v]
    return _sorted(added), _sorted(removed)


class MergedView:
    """One map per daemon and their merge, the earlier daemon of `order` winning a shared key.

    `set_daemon` (a whole list) and `apply` (one container) return the
    change of the merged map. Not thread-safe: one owner updates it.
    """

    def __init__(self, order: tuple[str, ...]) -> None:
        self.order = order
        self.maps: dict[str, ContainerPortMap] = {}
        self.merged = ContainerPortMap()

    def _merge_keys(self, daemon: str, change: PortMapChange, touched: set[PortKey]) -> PortMapChange:
        self.maps[daemon] = change.port_map
        live = [self.maps[d] for d in self.order if d in self.maps]
        if len(live) == 1:
            new = live[0]
        else:
            merged = dict(self.merged._map)
            for key in touched:
                winner = next((m._map[key] for m in live if key in m._map), None)
                if winner is None:
                    merged.pop(key, None)
                else:
                    merged[key] = winner
            new = ContainerPortMap._trusted(merged)
        old = self.merged._map
        added = [(k, new._map[k]) for k in touched if k in new._map and old.get(k) != new._map[k]]
        removed = [(k, old[k]) for k in touched if k in old and new._map.get(k) != old[k]]
        self.merged = new
        return PortMapChange(new, _sorted(added), _sorted(removed))

    def set_daemon(self, daemon: str, bindings: Mapping[PortKey, ContainerInfo]) -> PortMapChange:
        """Replace everything `daemon` publishes (its list answer; empty when it went away)."""
        old = self.maps.get(daemon, ContainerPortMap())
        new = ContainerPortMap._trusted(dict(bindings))
        touched = set(old._map) | set(new._map)
        return self._merge_keys(daemon, PortMapChange(new, (), ()), touched)

    def apply(self, daemon: str, container_id: str, bindings: Mapping[PortKey, ContainerInfo]) -> PortMapChange:
        """Replace one container's bindings (apply_bindings) on `daemon`'s map."""
        change = apply_bindings(self.maps.get(daemon, ContainerPortMap()), daemon, container_id, bindings)
        touched = {k for k, _ in change.added} | {k for k, _ in change.removed}
        if not touched:
            self.maps[daemon] = change.port_map
            return PortMapChange(self.merged, (), ())
        return self._merge_keys(daemon, change, touched)
