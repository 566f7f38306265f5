"""The kernel's socket tables (/proc/net/tcp, tcp6, udp, udp6) as (protocol, ip, port) -> owner uids. Pure.

Rule: no I/O here; dockspec._io.procs reads the files. The uid column is the
socket's owner, which is what `dockspec ports` shows for a socket whose
holder process this user cannot see (another user's, without root).
Lines that do not parse are skipped; at most `max_lines` lines are read.
"""

from __future__ import annotations

import ipaddress

from dockspec.models import Protocol

__all__ = ["TCP_LISTEN", "parse_socket_table"]

TCP_LISTEN = "0A"
_UDP_UNCONNECTED = "07"  # TCP_CLOSE, as udp sockets report a bound, unconnected socket


def _address(text: str, byteorder: str) -> tuple[str, int] | None:
    host, sep, port_hex = text.partition(":")
    if not sep or len(port_hex) != 4 or len(host) not in (8, 32):
        return None
    try:
        raw = bytes.fromhex(host)
        port = int(port_hex, 16)
    except ValueError:
        return None
    # Each 32-bit word is written in the host's byte order.
    words = [raw[i : i + 4] for i in range(0, len(raw), 4)]
    packed = b"".join(w[::-1] if byteorder == "little" else w for w in words)
    return ipaddress.ip_address(packed).compressed, port


def parse_socket_table(
    text: str, protocol: Protocol, *, byteorder: str = "little", max_lines: int = 65536
) -> dict[tuple[Protocol, str, int], set[int]]:
    """Listening TCP (state 0A) or bound unconnected UDP sockets: (protocol, ip, port) -> owner uids."""
    result: dict[tuple[Protocol, str, int], set[int]] = {}
    for number, line in enumerate(text.splitlines()):
        if number > max_lines:
            break
        fields = line.split()
        if len(fields) < 8 or fields[0] == "sl":
            continue
        local, state, uid_text = fields[1], fields[3], fields[7]
        if state != (TCP_LISTEN if protocol is Protocol.TCP else _UDP_UNCONNECTED):
            continue
        if not (uid_text.isascii() and uid_text.isdigit()):
            continue
        address = _address(local, byteorder)
        if address is None:
            continue
        result.setdefault((protocol, address[0], address[1]), set()).add(int(uid_text))
    return result
