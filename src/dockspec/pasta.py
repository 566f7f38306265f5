"""pasta's port forwarding specs (`-t`/`-u`): which host sockets a pasta process publishes. Pure.

Rule: no I/O here. The grammar is pasta(1)'s (passt 0.0~git20261002, the
man page of the forky bed), read by a small tokenizer; every error is an
InvalidAddress with a caret under the offending character:

    spec    = "none" | [address ["%" ifname] "/" | "%" ifname "/"] ports
    ports   = entry *("," entry)
    entry   = "~" range                       ; exclude
            | "all" [":" toaddr]              ; every port not excluded
            | "auto"                          ; pasta: of those, the ports bound in the namespace
            | range [":" [toaddr "/"] range]  ; include, optionally translated
            | range ":" toaddr
    range   = port ["-" port]                 ; first <= last, 1-65535, ASCII digits

The first `/` ends the listening address (pasta's conf.c does the same).
Only the host side matters here: the listening address and the host ports
(the translation's target is the container's business). A spec of only
excludes means every other port; `all` and `auto` mean every port not
excluded; `auto` beside ranges keeps those ranges. Without any `-u`, pasta
forwards UDP on the TCP ports (pasta(1): "UDP ports with numbers
corresponding to forwarded TCP port numbers are forwarded too"); without
any `-t` (or `-u`), pasta's default is `auto`. Short options bundled
before `-t` (`-qt80`) are not read.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Sequence

import attrs

from dockspec.addresses import parse_port
from dockspec.errors import InvalidAddress

__all__ = ["MAX_ENTRIES", "Forward", "PortRange", "flag_values", "forwards", "parse_forward", "publishes"]

_DIGITS = frozenset("0123456789")


@attrs.frozen
class PortRange:
    first: int
    last: int

    def __contains__(self, port: object) -> bool:
        return isinstance(port, int) and self.first <= port <= self.last


@attrs.frozen
class Forward:
    """One `-t`/`-u` spec, its host side: the listening address (None: every one) and the ports."""

    address: str | None = None
    interface: str | None = None
    every: bool = False
    include: tuple[PortRange, ...] = ()
    exclude: tuple[PortRange, ...] = ()

    @property
    def none(self) -> bool:
        """Publishes nothing (`none`)."""
        return not self.every and not self.include

    def covers(self, ip: str, port: int) -> bool:
        """Whether a host socket on `ip`:`port` is one this spec forwards."""
        if any(port in r for r in self.exclude):
            return False
        if not (self.every or any(port in r for r in self.include)):
            return False
        if self.address is None:
            return True
        try:
            return ipaddress.ip_address(ip) == ipaddress.ip_address(self.address)
        except ValueError:
            return False


NONE = Forward()


def _range(text: str, source: str, start: int) -> PortRange:
    first_text, dash, last_text = text.partition("-")
    first = parse_port(first_text, source=source, start=start)
    if not dash:
        return PortRange(first, first)
    last = parse_port(last_text, source=source, start=start + len(first_text) + 1)
    if last < first:
        raise InvalidAddress(f"port range {first}-{last} ends before it starts", source, start)
    return PortRange(first, last)


def _check_toaddr(text: str, source: str, start: int) -> None:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        raise InvalidAddress(f"invalid target address {text!r}", source, start) from None


def _target(text: str, source: str, start: int) -> None:
    """What follows `:` in an include entry: `[toaddr/]range` or `toaddr` (checked, not kept)."""
    addr, slash, ports = text.partition("/")
    if slash:
        _check_toaddr(addr, source, start)
        _range(ports, source, start + len(addr) + 1)
    elif text and set(text) <= _DIGITS | {"-"}:
        _range(text, source, start)
    else:
        _check_toaddr(text, source, start)


def _address(text: str, source: str) -> tuple[str | None, str | None]:
    """The part before the first `/`: `address[%ifname]` or `%ifname`."""
    addr, percent, ifname = text.partition("%")
    if percent and not ifname:
        raise InvalidAddress("missing interface name after '%'", source, len(addr) + 1)
    if not addr:
        if not percent:
            raise InvalidAddress("missing address before '/'", source, 0)
        return None, ifname
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        raise InvalidAddress(f"invalid listening address {addr!r}", source, 0) from None
    return ip.compressed, ifname or None


def parse_forward(text: str) -> Forward:
    """One `-t`/`-u` value (see the module doc); InvalidAddress with a caret otherwise."""
    if text == "none":
        return NONE
    address = interface = None
    offset = 0
    head, slash, body = text.partition("/")
    if slash:
        address, interface = _address(head, text)
        offset = len(head) + 1
    else:
        body = text
    if not body:
        raise InvalidAddress("missing ports", text, offset)
    every = False  # `all` seen
    include: list[PortRange] = []
    exclude: list[PortRange] = []
    position = offset
    for entry in body.split(","):
        if not entry:
            raise InvalidAddress("empty entry", text, position)
        if entry.startswith("~"):
            exclude.append(_range(entry[1:], text, position + 1))
        elif entry == "auto":
            pass  # the ports bound in the namespace: of the ranges given, or of every port
        elif entry == "all" or entry.startswith("all:"):
            if entry != "all":
                _check_toaddr(entry[4:], text, position + 4)
            every = True
        elif entry == "none":
            raise InvalidAddress("'none' stands alone", text, position)
        else:
            ports, colon, target = entry.partition(":")
            include.append(_range(ports, text, position))
            if colon:
                _target(target, text, position + len(ports) + 1)
        position += len(entry) + 1
    if not include:
        every = True  # only excludes, or `auto`: every other port
    return Forward(address, interface, every, tuple(include), tuple(exclude))


def flag_values(cmdline: Sequence[str], flags: Iterable[str]) -> list[str]:
    """Every value given to one of `flags` (getopt_long: `-t V`, `-tV`, `--tcp-ports V`, `--tcp-ports=V`)."""
    names = tuple(flags)
    values = []
    i = 1  # cmdline[0] is the program
    while i < len(cmdline):
        arg = cmdline[i]
        taken = False
        for flag in names:
            if arg == flag:
                if i + 1 < len(cmdline):
                    values.append(cmdline[i + 1])
                i += 1
                taken = True
            elif flag.startswith("--") and arg.startswith(flag + "="):
                values.append(arg[len(flag) + 1 :])
                taken = True
            elif not flag.startswith("--") and len(flag) == 2 and arg.startswith(flag) and len(arg) > 2:
                values.append(arg[2:])
                taken = True
            if taken:
                break
        if arg == "--":
            break
        i += 1
    return values


MAX_ENTRIES = 4096
"""Port entries one command line may give (Podman gives one `-t`/`-u` per published range); more is refused."""


def forwards(cmdline: Sequence[str], flags: Iterable[str]) -> tuple[Forward, ...] | None:
    """The specs given to `flags`, parsed; None when none is given.

    InvalidAddress for a bad one, or for more than MAX_ENTRIES entries in
    all (a command line is the process owner's to write: up to ARG_MAX).
    """
    return _forwards(tuple(cmdline), tuple(flags))


@functools.lru_cache(maxsize=256)
def _forwards(cmdline: tuple[str, ...], flags: tuple[str, ...]) -> tuple[Forward, ...] | None:
    # cached: `ports` asks once per socket, and one pasta holds a socket per published port
    values = flag_values(cmdline, flags)
    if not values:
        return None
    entries = sum(v.count(",") + 1 for v in values)
    if entries > MAX_ENTRIES:
        raise InvalidAddress(f"{entries} port entries (at most {MAX_ENTRIES})", values[0], 0)
    return tuple(parse_forward(v) for v in values)


AUTO = Forward(every=True)


def publishes(
    cmdline: Sequence[str], own_flags: Iterable[str], tcp_flags: Iterable[str], udp: bool, ip: str, port: int
) -> bool | None:
    """Whether this pasta command line forwards a host socket on `ip`:`port` (`own_flags`: -t or -u).

    None when a spec is not pasta's grammar. UDP without `-u` follows the
    TCP specs; no spec at all is pasta's default, `auto`.
    """
    try:
        specs = forwards(cmdline, own_flags)
        if specs is None and udp:
            specs = forwards(cmdline, tcp_flags)
    except InvalidAddress:
        return None
    if specs is None:
        specs = (AUTO,)
    return any(spec.covers(ip, port) for spec in specs)
