"""Which container owns a socket: lookup in a ContainerPortMap. Pure, no I/O.

Order: the exact (ip, port, protocol) binding, then the binding on every
address, then (only when asked) the proxy fallback: the one container that
publishes (port, protocol) on any address. The map precomputes the answers,
so every step is one dict lookup whatever the map's size.
"""

from __future__ import annotations

import functools

from dockspec.models import NOT_FOUND, ContainerPortMap, Protocol, PublishedContainerMatch

__all__ = ["lookup_published_container"]


@functools.lru_cache(maxsize=1024)
def _canonical(ip: str) -> str | None:
    """The compressed form of an address (IPv4-mapped IPv6 as IPv4); None if not one."""
    import ipaddress

    try:
        address = ipaddress.ip_address(ip.strip("[]"))
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).compressed


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
    found = port_map._found
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
        return port_map._by_port.get((port, protocol), NOT_FOUND)
    return NOT_FOUND
