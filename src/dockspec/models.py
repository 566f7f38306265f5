"""Public value types: protocols, containers, port maps, outcomes, endpoints.

The spec's own records are generated (dockspec._generated.models); these are
the hand-written values the runtime returns.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from typing import Any

import attrs

__all__ = [
    "Ambiguous",
    "ContainerInfo",
    "ContainerPortMap",
    "Credentials",
    "Endpoint",
    "Found",
    "Limits",
    "NotFound",
    "PortKey",
    "Protocol",
    "PublishedContainerMatch",
    "StopOutcome",
]


class Protocol(enum.Enum):
    """A published port's transport protocol."""

    TCP = "tcp"
    UDP = "udp"

    def __str__(self) -> str:
        return self.value


@attrs.frozen
class ContainerInfo:
    """A running container that publishes ports. str() gives `name (image)`.

    `daemon` is the URL of the daemon it came from (None when parsed from a
    body directly); it takes part in equality so merged maps stay exact.
    Ordered by (id, name, image, daemon), as attrs' order=True would.
    """

    id: str
    name: str
    image: str
    daemon: str | None = attrs.field(default=None, kw_only=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.image})" if self.image else self.name

    # The dunders below are what attrs would write (eq, hash, order=True), as
    # source: attrs leaves methods defined in the body alone, so they come
    # from the .pyc instead of being compiled at every import (see
    # tests/test_models.py::test_hand_written_dunders_behave_as_attrs_ones).
    def __repr__(self) -> str:
        return (
            f"{self.__class__.__qualname__}("
            f"id={self.id!r}, name={self.name!r}, image={self.image!r}, daemon={self.daemon!r})"
        )

    def __eq__(self, other: Any) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return (
            self.id == other.id
            and self.name == other.name
            and self.image == other.image
            and self.daemon == other.daemon
        )

    def __hash__(self) -> int:
        return hash(("ContainerInfo", self.id, self.name, self.image, self.daemon))

    def __lt__(self, other: Any) -> bool:
        if other.__class__ is self.__class__:
            return (self.id, self.name, self.image, self.daemon) < (other.id, other.name, other.image, other.daemon)
        return NotImplemented

    def __le__(self, other: Any) -> bool:
        if other.__class__ is self.__class__:
            return (self.id, self.name, self.image, self.daemon) <= (other.id, other.name, other.image, other.daemon)
        return NotImplemented

    def __gt__(self, other: Any) -> bool:
        if other.__class__ is self.__class__:
            return (self.id, self.name, self.image, self.daemon) > (other.id, other.name, other.image, other.daemon)
        return NotImplemented

    def __ge__(self, other: Any) -> bool:
        if other.__class__ is self.__class__:
            return (self.id, self.name, self.image, self.daemon) >= (other.id, other.name, other.image, other.daemon)
        return NotImplemented


PortKey = tuple[str | None, int, Protocol]
"""(host ip or None for every address, host port, protocol)."""


@attrs.frozen
class Found:
    """The socket belongs to `container`."""

    container: ContainerInfo

    def __repr__(self) -> str:
        return f"{self.__class__.__qualname__}(container={self.container!r})"

    def __eq__(self, other: Any) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self.container == other.container

    def __hash__(self) -> int:
        return hash(("Found", self.container))


@attrs.frozen
class NotFound:
    """No published port matches the socket."""

    def __repr__(self) -> str:
        return f"{self.__class__.__qualname__}()"

    def __eq__(self, other: Any) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return True

    def __hash__(self) -> int:
        return hash(("NotFound",))


@attrs.frozen
class Ambiguous:
    """Several containers publish the port; `candidates` lists them, sorted."""

    candidates: tuple[ContainerInfo, ...]

    def __repr__(self) -> str:
        return f"{self.__class__.__qualname__}(candidates={self.candidates!r})"

    def __eq__(self, other: Any) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self.candidates == other.candidates

    def __hash__(self) -> int:
        return hash(("Ambiguous", self.candidates))


PublishedContainerMatch = Found | NotFound | Ambiguous
NOT_FOUND = NotFound()


PortEntry = tuple[dict[str, Found], "Found | None", PublishedContainerMatch]
"""One (port, protocol): Found per exact host address, the every-address Found, the fallback answer."""
_NO_EXACT: dict[str, Found] = {}


class ContainerPortMap(Mapping[PortKey, ContainerInfo]):
    """Immutable map of published bindings to containers, indexed for lookup.

    Keys are `(ip, port, Protocol)`; ip is None for a binding on every address.
    Built once per detection, so every lookup answer (exact, every address,
    proxy fallback) is computed here, not per lookup: `_index` maps a
    protocol's value to (the protocol, {port: PortEntry}), so a lookup hashes
    an int and a str, never the Enum (whose __hash__ runs in Python). A map
    with a key of another form (not a 3-tuple ending in a Protocol) keeps the
    general indexes `_found` and `_by_port` instead, and lookups use those.
    """

    __slots__ = ("_by_port", "_found", "_index", "_map")

    def __init__(self, bindings: Mapping[PortKey, ContainerInfo] | None = None) -> None:
        self._map: dict[PortKey, ContainerInfo] = dict(bindings or {})
        self._found: dict[PortKey, Found] | None = None
        self._by_port: dict[tuple[int, Protocol], PublishedContainerMatch] | None = None
        self._index: dict[str, tuple[Protocol, dict[int, PortEntry]]] | None = self._build_index()
        if self._index is None:
            self._build_general()

    def _build_index(self) -> dict[str, tuple[Protocol, dict[int, PortEntry]]] | None:
        found_of: dict[int, Found] = {}  # by id(info): hashing an attrs ContainerInfo runs Python code
        # (port, protocol) -> [exact {ip: Found}, every-address Found, first info, other infos]
        building: dict[Protocol, dict[int, list[Any]]] = {member: {} for member in Protocol}
        for key, info in self._map.items():
            if type(key) is not tuple or len(key) != 3 or type(key[2]) is not Protocol:
                return None
            ip, port, protocol = key
            hit = found_of.get(id(info))
            if hit is None:
                hit = found_of[id(info)] = Found(info)
            entry = building[protocol].get(port)
            if entry is None:
                entry = building[protocol][port] = [None, None, info, None]
            elif entry[2] is not info:
                if entry[3] is None:
                    entry[3] = [info]
                else:
                    entry[3].append(info)
            if ip is None:
                entry[1] = hit
            elif entry[0] is None:
                entry[0] = {ip: hit}
            else:
                entry[0][ip] = hit
        index: dict[str, tuple[Protocol, dict[int, PortEntry]]] = {}
        for protocol, ports in building.items():
            final: dict[int, PortEntry] = {}
            for port, (exact, every, first, others) in ports.items():
                fallback: PublishedContainerMatch = found_of[id(first)]
                if others is not None:
                    infos = {first, *others}
                    if len(infos) > 1:
                        fallback = Ambiguous(tuple(sorted(infos)))
                final[port] = (exact or _NO_EXACT, every, fallback)
            index[protocol._value_] = (protocol, final)
        return index

    def _build_general(self) -> None:
        found: dict[PortKey, Found] = {}
        by_port: dict[tuple[int, Protocol], set[ContainerInfo]] = {}
        cache: dict[ContainerInfo, Found] = {}
        for key, info in self._map.items():
            hit = cache.get(info)
            if hit is None:
                hit = cache[info] = Found(info)
            found[key] = hit
            by_port.setdefault((key[1], key[2]), set()).add(info)
        self._found = found
        fallback: dict[tuple[int, Protocol], PublishedContainerMatch] = {}
        for port_key, infos in by_port.items():
            if len(infos) == 1:
                fallback[port_key] = cache[next(iter(infos))]
            else:
                fallback[port_key] = Ambiguous(tuple(sorted(infos)))
        self._by_port = fallback

    def general_indexes(self) -> tuple[dict[PortKey, Found], dict[tuple[int, Protocol], PublishedContainerMatch]]:
        """`_found` and `_by_port`: every binding's Found, and the fallback answer per (port, protocol)."""
        if self._found is None or self._by_port is None:
            self._build_general()
        assert self._found is not None and self._by_port is not None
        return self._found, self._by_port

    def __getitem__(self, key: PortKey) -> ContainerInfo:
        return self._map[key]

    def __iter__(self) -> Iterator[PortKey]:
        return iter(self._map)

    def __len__(self) -> int:
        return len(self._map)

    def __repr__(self) -> str:
        return f"ContainerPortMap({self._map!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ContainerPortMap):
            return self._map == other._map
        if isinstance(other, Mapping):
            return self._map == dict(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def containers(self) -> tuple[ContainerInfo, ...]:
        """Every distinct container in the map, sorted."""
        return tuple(sorted(set(self._map.values())))


class StopOutcome(enum.Enum):
    """What a stop or kill request achieved."""

    STOPPED = "stopped"
    ALREADY_STOPPED = "already_stopped"
    NOT_FOUND = "not_found"
    FAILED = "failed"


@attrs.frozen(kw_only=True)
class Credentials:
    """What a TLS or ssh channel needs besides the address.

    `ca_file`, `cert_file`, `key_file` are PEM paths (ca: the authority the
    daemon's certificate must chain to; None means the system's trust store;
    cert and key: the client certificate, used when both files exist).
    `verify` is False only when a context says SkipTLSVerify.
    `ssh_identity` is the private key a podman connection names.
    """

    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    verify: bool = True
    ssh_identity: str | None = None


@attrs.frozen
class Endpoint:
    """One place a daemon may listen.

    `url` is the docker CLI's normalised form (`unix:///var/run/docker.sock`,
    `tcp://localhost:2375`); `transport` is unix, tcp, npipe, ssh or fd;
    `address` is the path, `host:port`, pipe name or ssh target.
    `origin` says where it came from (DOCKER_HOST, or a table entry's id) and
    `engine` is the daemon kind expected there, when known. `credentials` are
    the TLS files or ssh identity a context or connection names; None when
    nothing names any (TLS then checks against the system's trust store and
    offers no client certificate).
    """

    url: str
    transport: str
    address: str
    origin: str = attrs.field(default="", kw_only=True)
    engine: str | None = attrs.field(default=None, kw_only=True)
    tls: bool = attrs.field(default=False, kw_only=True)
    credentials: Credentials | None = attrs.field(default=None, kw_only=True)


@attrs.frozen(kw_only=True)
class Limits:
    """Caps that bound what one daemon call may cost; callers may lower them.

    deadline: seconds for one request, connect to last byte (nanodock's 3 s).
    max_header_bytes: the whole header block (h11's default is 16 KiB; a
        daemon's headers are a few hundred bytes).
    max_body_bytes: a 1000-container list is about 3 MiB; 64 MiB leaves room
        for huge hosts and still bounds memory.
    max_bindings: the bindings one answer's usable port entries may expand
        to, counted before each entry is expanded (a range counts its size,
        duplicates included), so it bounds the expansion work as well as
        the map (65535 ports x 2 protocols x a few addresses).
    """

    deadline: float = 3.0
    max_header_bytes: int = 64 * 1024
    max_body_bytes: int = 64 * 1024 * 1024
    max_bindings: int = 262_144

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__qualname__}("
            f"deadline={self.deadline!r}, max_header_bytes={self.max_header_bytes!r}, "
            f"max_body_bytes={self.max_body_bytes!r}, max_bindings={self.max_bindings!r})"
        )

    def __eq__(self, other: Any) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return (
            self.deadline == other.deadline
            and self.max_header_bytes == other.max_header_bytes
            and self.max_body_bytes == other.max_body_bytes
            and self.max_bindings == other.max_bindings
        )

    def __hash__(self) -> int:
        return hash(("Limits", self.deadline, self.max_header_bytes, self.max_body_bytes, self.max_bindings))


DEFAULT_LIMITS = Limits()
