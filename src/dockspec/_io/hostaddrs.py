"""This host's own interface addresses (for telling a local daemon from a remote one), bounded.

IPv6 from /proc/net/if_inet6; IPv4 by one SIOCGIFADDR ioctl per interface
(socket.if_nameindex). At most MAX_INTERFACES interfaces are asked. Read
once per process and cached: interfaces do not come and go within one call.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import struct

from dockspec._io.procs import read_proc_file

__all__ = ["MAX_INTERFACES", "host_addresses"]

MAX_INTERFACES = 1024
_SIOCGIFADDR = 0x8915
_IF_INET6_BYTES = 4 * 1024 * 1024


def _ipv4_of(sock: socket.socket, name: str) -> str | None:
    import fcntl

    try:
        request = struct.pack("256s", name.encode()[:15])
        answer = fcntl.ioctl(sock.fileno(), _SIOCGIFADDR, request)
    except (OSError, ValueError, UnicodeError):
        return None
    return socket.inet_ntoa(answer[20:24])


@functools.lru_cache(maxsize=1)
def host_addresses(proc: str = "/proc") -> frozenset[str]:
    """The compressed addresses of this host's interfaces (IPv4 and IPv6); what cannot be read is left out."""
    found: set[str] = set()
    text = read_proc_file(f"{proc}/net/if_inet6", _IF_INET6_BYTES)
    for line in (text or "").splitlines()[:MAX_INTERFACES * 16]:
        fields = line.split()
        if fields and len(fields[0]) == 32:
            try:
                found.add(ipaddress.IPv6Address(bytes.fromhex(fields[0])).compressed)
            except ValueError:
                continue
    try:
        names = [name for _, name in socket.if_nameindex()[:MAX_INTERFACES]]
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    except (OSError, AttributeError):
        return frozenset(found)
    with sock:
        for name in names:
            address = _ipv4_of(sock, name)
            if address is not None:
                found.add(address)
    return frozenset(found)
