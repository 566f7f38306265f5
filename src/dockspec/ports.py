"""Which container owns a socket: lookup in a ContainerPortMap. Pure, no I/O.

Order: the exact (ip, port, protocol) binding, then the binding on every
address, then (only when asked) the proxy fallback: the one container that
publishes (port, protocol) on any address. The map precomputes the answers,
so a lookup is two or three small dict lookups whatever the map's size.
"""

from __future__ import annotations

from dockspec.models import NOT_FOUND, ContainerPortMap, Protocol, PublishedContainerMatch

__all__ = ["lookup_published_container"]


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


def lookup_published_container(
    port_map: ContainerPortMap,
    address: tuple[str | None, int],
    protocol: Protocol,
    allow_proxy_fallback: bool = False,
) -> PublishedContainerMatch:
    """Match a local socket `(ip, port)` against the published bindings.

    Returns Found(container), NotFound() or Ambiguous(candidates). The proxy
    fallback is for sockets held by a helper (docker-proxy, rootlessport, ...)
    whose local address says nothing about the binding.
    """
    ip, port = address[0], address[1]
    try:
        member, by_port = port_map._index[protocol._value_]  # type: ignore[index]
    except (AttributeError, KeyError, TypeError):
        return _lookup_general(port_map, ip, port, protocol, allow_proxy_fallback)
    if member is not protocol:
        return _lookup_general(port_map, ip, port, protocol, allow_proxy_fallback)
    entry = by_port.get(port)
    if entry is None:
        if ip is None or type(ip) is str:
            return NOT_FOUND
        return _lookup_general(port_map, ip, port, protocol, allow_proxy_fallback)
    exact, every, fallback = entry
    hit = exact.get(ip)  # type: ignore[arg-type]
    if hit is not None:
        return hit
    if every is not None:
        return every
    if ip is not None and (exact or type(ip) is not str):
        canonical = _canonical(ip)
        if canonical is not None and canonical != ip:
            hit = exact.get(canonical)
            if hit is not None:
                return hit
    if allow_proxy_fallback:
        return fallback
    return NOT_FOUND


def _lookup_general(
    port_map: ContainerPortMap, ip: str | None, port: int, protocol: Protocol, allow_proxy_fallback: bool
) -> PublishedContainerMatch:
    """The lookup rules on the general indexes: for maps or queries of another form than PortKey's."""
    found, by_port = port_map.general_indexes()
    hit = found.get((ip, port, protocol)) or found.get((None, port, protocol))
    if hit is not None:
        return hit
    if ip is not None:
        canonical = _canonical(ip)
        if canonical is not None and canonical != ip:
            hit = found.get((canonical, port, protocol))
            if hit is not None:
                return hit
    if allow_proxy_fallback:
        return by_port.get((port, protocol), NOT_FOUND)
    return NOT_FOUND
