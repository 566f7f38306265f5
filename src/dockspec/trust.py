"""The one trust rule: which daemon may name which host socket. Pure, no I/O.

Judged by who serves each daemon (its Unix socket's peer credentials) and
who holds each socket (the holder process's uid), never by a path:

- a daemon served by root speaks for every uid;
- a daemon served by uid U speaks for U and U's subordinate ids
  (/etc/subuid), never for root or another user, and never for a socket
  no visible process holds (unless U is the caller: then it is the
  caller's own daemon);
- a daemon with no peer credentials (tcp, ssh, a named pipe) was chosen by
  the caller's own configuration and speaks for every uid, when it is
  local;
- a remote daemon (its ports are published on another host) names no
  local socket at all.

Helpers are believed by their process name only when their owner fits
(`helper_fits`): a rootful helper (spec/helpers.yaml `owner: root`:
docker-proxy, conmon) only when run by root; any other helper (rootlessport,
pasta, slirp4netns, rootlesskit, ...) only for the daemon of its own uid
(`view(uid, own=True)`). Two daemons that claim one binding make it
ambiguous (`View.multi`), never first-wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

from dockspec._generated.models import HelperProcess
from dockspec.models import ContainerInfo, ContainerPortMap, PortKey, container_sort_key

__all__ = [
    "LOCAL_TRANSPORTS",
    "DaemonFacts",
    "ROOT_HELPER",
    "Trust",
    "View",
    "is_local_address",
    "is_local_name",
    "parse_subordinate_ids",
]

LOCAL_TRANSPORTS = frozenset({"unix", "npipe", "fd"})
"""A daemon reached through these is local: its published ports appear on this host's network stack (VM
engines such as Docker Desktop, colima, lima and podman machine forward theirs to the host)."""

ROOT = 0
ROOT_HELPER = "root"
"""spec/helpers.yaml `owner`: the helper counts only when run by root."""


@attrs.frozen
class DaemonFacts:
    """What the trust rule knows of one daemon that answered.

    `served_by`: the uid serving its Unix socket (peer credentials); None
    when the transport carries none (tcp, ssh, named pipe). `local`: its
    published ports are on this host's network stack.
    """

    url: str
    served_by: int | None
    local: bool = True
    bindings: Mapping[PortKey, ContainerInfo] = attrs.field(factory=dict)
    containers: tuple[ContainerInfo, ...] = ()


@attrs.frozen
class View:
    """What the daemons trusted for one holder may name: their bindings and containers.

    `port_map` holds each trusted binding once (the first daemon's); `multi`
    lists the keys that two or more trusted daemons claim, with every
    distinct claimant (sorted): those make the socket ambiguous.
    """

    port_map: ContainerPortMap
    containers: dict[str, ContainerInfo]
    multi: dict[PortKey, tuple[ContainerInfo, ...]]


def is_local_address(ip: str, host_addresses: Iterable[str]) -> bool:
    """Whether `ip` (an IP literal, brackets and a %zone allowed) is a loopback or unspecified address, or one
    of this host's interfaces' (`host_addresses`, compressed forms)."""
    import ipaddress

    text = ip.strip("[]").partition("%")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    address = getattr(address, "ipv4_mapped", None) or address
    if address.is_loopback or address.is_unspecified:
        return True
    return address.compressed in set(host_addresses)


def is_local_name(host: str) -> bool:
    """`localhost` and names under `.localhost` (RFC 6761: they resolve to loopback)."""
    name = host.lower().rstrip(".")
    return name == "localhost" or name.endswith(".localhost")


def parse_subordinate_ids(text: str, *, max_lines: int = 65536) -> list[tuple[str, int, int]]:
    """`/etc/subuid` lines (`user:start:count`, user a name or a uid) as (user, start, count).

    ASCII digits only, a positive count; comments, blank and malformed lines
    are skipped; at most `max_lines` lines are looked at.
    """
    result = []
    for number, raw in enumerate(text.splitlines()):
        if number >= max_lines:
            break
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(":")
        if len(parts) != 3 or not parts[0]:
            continue
        user, start, count = parts
        if not all(p.isascii() and p.isdigit() and len(p) <= 10 for p in (start, count)):
            continue
        if int(count) > 0:
            result.append((user, int(start), int(count)))
    return result


class Trust:
    """The trust rule over the daemons that answered; views are built once per (holder uid, own).

    `subordinate` maps a uid to its subordinate id ranges (start, count);
    `caller` is the uid dockspec runs as.
    """

    def __init__(
        self,
        daemons: Iterable[DaemonFacts],
        subordinate: Mapping[int, Iterable[tuple[int, int]]] | None = None,
        caller: int | None = None,
    ) -> None:
        self.daemons: dict[str, DaemonFacts] = {}
        for facts in daemons:
            self.daemons.setdefault(facts.url, facts)
        self.subordinate = {uid: tuple(ranges) for uid, ranges in (subordinate or {}).items()}
        self.caller = caller
        self._views: dict[tuple[int | None, bool], View] = {}

    def local(self, url: str | None) -> bool:
        facts = self.daemons.get(url or "")
        return facts is not None and facts.local

    def _ids_of(self, served_by: int, uid: int) -> bool:
        if uid == ROOT:
            return False
        if uid == served_by:
            return True
        return any(start <= uid < start + count for start, count in self.subordinate.get(served_by, ()))

    def speaks_for(self, url: str | None, uid: int | None) -> bool:
        """Whether the daemon at `url` may name a socket whose holder runs as `uid` (None: no visible holder)."""
        facts = self.daemons.get(url or "")
        if facts is None or not facts.local:
            return False
        if facts.served_by is None or facts.served_by == ROOT:
            return True
        if uid is None:
            return facts.served_by == self.caller
        return self._ids_of(facts.served_by, uid)

    def own(self, url: str | None, uid: int | None) -> bool:
        """Whether the daemon at `url` is the daemon of `uid` itself (a rootless helper's): served by that uid.

        A local daemon without peer credentials counts (the caller's configuration chose it).
        """
        facts = self.daemons.get(url or "")
        if facts is None or not facts.local:
            return False
        return facts.served_by is None or (uid is not None and facts.served_by == uid)

    @staticmethod
    def helper_fits(helper: HelperProcess, uid: int | None) -> bool:
        """Whether a helper process is believed at all: a rootful helper only when run by root."""
        return getattr(helper, "owner", None) != ROOT_HELPER or uid == ROOT

    def view(self, uid: int | None, own: bool = False) -> View:
        """The bindings and containers the daemons trusted for a holder running as `uid` may name.

        `own`: only the daemon of that uid itself (for a rootless helper).
        """
        key = (uid, own)
        cached = self._views.get(key)
        if cached is None:
            cached = self._views[key] = self._build(uid, own)
        return cached

    def _build(self, uid: int | None, own: bool) -> View:
        claims: dict[PortKey, list[ContainerInfo]] = {}
        containers: dict[str, ContainerInfo] = {}
        for facts in self.daemons.values():
            if not (self.own(facts.url, uid) if own else self.speaks_for(facts.url, uid)):
                continue
            for info in facts.containers:
                containers.setdefault(info.id, info)
            for binding, info in facts.bindings.items():
                claimants = claims.setdefault(binding, [])
                if all(c.id != info.id for c in claimants):  # one container seen through two endpoints is one
                    claimants.append(info)
        port_map = ContainerPortMap({binding: claimants[0] for binding, claimants in claims.items()})
        multi = {
            binding: tuple(sorted(claimants, key=container_sort_key))
            for binding, claimants in claims.items()
            if len(claimants) > 1
        }
        return View(port_map, containers, multi)
