"""Which container owns a socket: lookup in a ContainerPortMap. Pure, no I/O.

Order: the exact (ip, port, protocol) binding, then the binding on every
address, then (only when asked) the proxy fallback: the one container that
publishes (port, protocol) on any address. The first lookup on a map builds
its index (kept on the map) with every answer precomputed, so a lookup is
two or three small dict lookups whatever the map's size.
"""

from __future__ import annotations

from typing import Any

from dockspec.models import (
    NOT_FOUND,
    Ambiguous,
    ContainerInfo,
    ContainerPortMap,
    Found,
    Protocol,
    PublishedContainerMatch,
    container_sort_key,
)

__all__ = ["lookup_published_container"]

PortEntry = tuple[dict[str, Found], "Found | None", PublishedContainerMatch]
"""One (port, protocol): Found per exact host address, the every-address Found, the fallback answer."""
Index = dict[str, tuple[Protocol, dict[int, PortEntry]]]
"""A protocol's value to (the protocol, {port: PortEntry}): a lookup hashes a str and an int, never the
Enum (whose __hash__ runs in Python)."""
_NO_EXACT: dict[str, Found] = {}
_PROTOCOLS = tuple(Protocol)


def _build_index(port_map: ContainerPortMap) -> Index:
    """The index of every answer, in one pass over the bindings; kept on the map."""
    found_of: dict[int, Found] = {}  # by id(info): hashing an attrs ContainerInfo runs Python code
    by_value: dict[str, dict[int, PortEntry]] = {member._value_: {} for member in _PROTOCOLS}
    shared: dict[tuple[str, int], list[ContainerInfo]] = {}  # (protocol value, port) -> its containers, when several
    for (ip, port, protocol), info in port_map._map.items():
        hit = found_of.get(id(info))
        if hit is None:
            hit = found_of[id(info)] = Found(info)
        ports = by_value[protocol._value_]
        entry = ports.get(port)
        if entry is None:
            ports[port] = (_NO_EXACT, hit, hit) if ip is None else ({ip: hit}, None, hit)
            continue
        exact, every, first = entry
        if ip is None:
            every = hit
        elif exact is _NO_EXACT:
            exact = {ip: hit}
        else:
            exact[ip] = hit  # this entry's own dict
        ports[port] = (exact, every, first)
        if hit is not first:
            shared.setdefault((protocol._value_, port), [first.container]).append(info)  # type: ignore[union-attr]
    for (value, port), infos in shared.items():
        distinct = set(infos)
        if len(distinct) > 1:
            exact, every, _ = by_value[value][port]
            by_value[value][port] = (exact, every, Ambiguous(tuple(sorted(distinct, key=container_sort_key))))
    index = {member._value_: (member, by_value[member._value_]) for member in _PROTOCOLS}
    port_map._index = index
    return index


_CANONICAL: dict[str, str | None] = {}
MAX_CANONICAL = 1024


def _canonical(ip: str) -> str | None:
    """The compressed form of an address (IPv4-mapped IPv6 as IPv4); None if not one. Cached, bounded."""
    try:
        return _CANONICAL[ip]
    except KeyError:
        pass
    import ipaddress

    try:
        address = ipaddress.ip_address(ip.strip("[]"))
    except ValueError:
        value = None
    else:
        mapped = getattr(address, "ipv4_mapped", None)
        value = (mapped or address).compressed
    if len(_CANONICAL) < MAX_CANONICAL:
        _CANONICAL[ip] = value
    return value


def _address_text(ip: object) -> str:
    """An ipaddress.IPv4Address or IPv6Address as canonical text; TypeError for anything else."""
    import ipaddress

    if isinstance(ip, ipaddress.IPv6Address):
        return (ip.ipv4_mapped or ip).compressed
    if isinstance(ip, ipaddress.IPv4Address):
        return ip.compressed
    raise TypeError(f"a socket address is a str, an ipaddress.IPv4Address or IPv6Address, or None, not {ip!r}")


def lookup_published_container(
    port_map: ContainerPortMap,
    address: tuple[Any, int],
    protocol: Protocol,
    allow_proxy_fallback: bool = False,
) -> PublishedContainerMatch:
    """Match a local socket `(ip, port)` against the published bindings.

    `ip` is a str, an ipaddress.IPv4Address or IPv6Address, or None (no
    address: only bindings on every address match); `protocol` a Protocol.
    Returns Found(container), NotFound() or Ambiguous(candidates). The proxy
    fallback is for sockets held by a helper (docker-proxy, rootlessport, ...)
    whose local address says nothing about the binding. Raises TypeError for
    an ip or protocol of another type.
    """
    ip, port = address[0], address[1]
    if ip.__class__ is not str and ip is not None:
        ip = _address_text(ip)
    index = port_map._index or _build_index(port_map)
    try:
        member, by_port = index[protocol._value_]
    except (AttributeError, KeyError, TypeError):
        raise _not_a_protocol(protocol) from None
    if member is not protocol:
        raise _not_a_protocol(protocol)
    entry = by_port.get(port)
    if entry is None:
        return NOT_FOUND
    exact, every, fallback = entry
    hit = exact.get(ip)  # type: ignore[arg-type]
    if hit is not None:
        return hit
    if every is not None:
        return every
    if exact and ip is not None:
        canonical = _canonical(ip)
        if canonical is not None and canonical != ip:
            hit = exact.get(canonical)
            if hit is not None:
                return hit
    if allow_proxy_fallback:
        return fallback
    return NOT_FOUND


def _not_a_protocol(protocol: object) -> TypeError:
    return TypeError(f"protocol is a dockspec.Protocol, not {protocol!r}")
