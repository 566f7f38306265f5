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
    "Compose",
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
class Compose:
    """The compose project, service and container number a container's labels name.

    From `com.docker.compose.{project,service,container-number}`, falling
    back to `io.podman.compose.{project,service}` (spec/wire.yaml's compose
    table). `service` is None when no service label is set; `number` is None
    unless its label is ASCII digits.
    """

    project: str
    service: str | None = None
    number: int | None = None

    def __str__(self) -> str:
        return self.project if self.service is None else f"{self.project}/{self.service}"


@attrs.frozen
class ContainerInfo:
    """A running container that publishes ports. str() gives `name (image)`.

    `daemon` is the URL of the daemon it came from (None when parsed from a
    body directly); it takes part in equality so merged maps stay exact.
    `compose` is its compose project and service, None when its labels name
    no project. `labels` holds the labels the caller asked for (the `labels`
    argument of detect_containers and the parsers; none by default) as
    (name, value) pairs sorted by name; `label(name)` reads one. Not
    ordered: sort with a key (dockspec sorts by `container_sort_key`).
    """

    id: str
    name: str
    image: str
    daemon: str | None = attrs.field(default=None, kw_only=True)
    compose: Compose | None = attrs.field(default=None, kw_only=True)
    labels: tuple[tuple[str, str], ...] = attrs.field(default=(), kw_only=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.image})" if self.image else self.name

    def label(self, name: str) -> str | None:
        """The value of label `name` if it was asked for and set, else None."""
        for key, value in self.labels:
            if key == name:
                return value
        return None


def container_sort_key(info: ContainerInfo) -> tuple[str, str, str, str]:
    """(id, name, image, daemon or ""): the order of Ambiguous candidates and of containers()."""
    return (info.id, info.name, info.image, info.daemon or "")


PortKey = tuple[str | None, int, Protocol]
"""(host ip or None for every address, host port, protocol)."""


@attrs.frozen
class Found:
    """The socket belongs to `container`."""

    container: ContainerInfo


@attrs.frozen
class NotFound:
    """No published port matches the socket."""


@attrs.frozen
class Ambiguous:
    """Several containers publish the port; `candidates` lists them, sorted by container_sort_key."""

    candidates: tuple[ContainerInfo, ...]


PublishedContainerMatch = Found | NotFound | Ambiguous
NOT_FOUND = NotFound()


class ContainerPortMap(Mapping[PortKey, ContainerInfo]):
    """Immutable map of published bindings `(ip, port, Protocol)` to containers; ip None means every address.

    Every key must have that form: (str or None, int, Protocol); another is
    a TypeError here. dockspec.ports builds its lookup index on the first
    lookup and keeps it in `_index`.
    """

    __slots__ = ("_index", "_map", "_owners")

    def __init__(self, bindings: Mapping[PortKey, ContainerInfo] | None = None) -> None:
        self._map: dict[PortKey, ContainerInfo] = dict(bindings or {})
        self._index: Any = None
        self._owners: Any = None  # dockspec.events: the keys of each container, built at the first event
        for key in self._map:
            if not (
                key.__class__ is tuple
                and len(key) == 3
                and key[2].__class__ is Protocol
                and key[1].__class__ is int
                and (key[0] is None or key[0].__class__ is str)
            ):
                raise TypeError(f"a ContainerPortMap key is (str | None, int, Protocol), not {key!r}")

    @classmethod
    def _trusted(cls, bindings: dict[PortKey, ContainerInfo]) -> ContainerPortMap:
        """A map of `bindings` (taken, not copied) whose keys come from a map or a parse: no key check."""
        self = cls.__new__(cls)
        self._map = bindings
        self._index = None
        self._owners = None
        return self

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
        """Every distinct container in the map, sorted by container_sort_key."""
        return tuple(sorted(set(self._map.values()), key=container_sort_key))


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

    The rootless Podman resolver (dockspec.podman), per resolution of one
    rootlessport process, when its storage belongs to another user:
    max_index_entries: storage index entries looked at (each may cost a
        config read); Podman keeps one per container, running or not.
    max_index_bytes: one containers.json (about 1 KiB per container).
    max_oci_config_bytes: one container's userdata/config.json (an OCI
        runtime config is 10-30 KiB; a huge environment fits in 1 MiB).
    max_resolve_bytes: every storage byte one resolution reads, together.
    resolve_deadline: seconds for one resolution, its reads together.

    dockspec.watch, per /events stream (connecting and the answer's headers
    obey `deadline`; a stream then has no whole-read deadline):
    max_event_bytes: one event line (Docker's carry every container label
        in Actor.Attributes; a few KiB); also the most an unfinished line
        holds in memory.
    max_event_depth: how deeply [ and { may nest in one event (they nest 3).
    max_pending_changes: changes queued for a caller who does not iterate;
        the streams then wait (the daemon's socket fills, not our memory).
    max_reconnect_delay: the longest wait between reconnects to a daemon
        that went away (the delay doubles from 0.1 s up to this).
    """

    deadline: float = 3.0
    max_header_bytes: int = 64 * 1024
    max_body_bytes: int = 64 * 1024 * 1024
    max_bindings: int = 262_144
    max_index_entries: int = 4096
    max_index_bytes: int = 16 * 1024 * 1024
    max_oci_config_bytes: int = 1024 * 1024
    max_resolve_bytes: int = 64 * 1024 * 1024
    resolve_deadline: float = 1.0
    max_event_bytes: int = 256 * 1024
    max_event_depth: int = 16
    max_pending_changes: int = 1024
    max_reconnect_delay: float = 5.0


DEFAULT_LIMITS = Limits()
