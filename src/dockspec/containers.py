"""`/containers/json` bodies to port bindings: pure, no I/O.

Rule: bytes or text in, values out. The JSON keys come from the spec's wire
table (spec/wire.yaml), so the Docker compat shape and the libpod shape share
one loop. Rules applied (issue 2): ranges expand; entries without a public
port, outside 1-65535 or with an unknown protocol are skipped; 0.0.0.0, ::
and the empty address mean every address (key ip None); names lose their
leading `/`; a missing name falls back to the image, then the short id.
A body that is not a JSON list of objects, or whose fields have the wrong
types, is an InvalidResponse (strict) or an empty map (lenient).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import attrs

from dockspec._generated.models import Spec, WireShapes
from dockspec.errors import InvalidResponse
from dockspec.models import DEFAULT_LIMITS, ContainerInfo, ContainerPortMap, Limits, PortKey, Protocol
from dockspec.spec import builtin_spec

__all__ = [
    "ParsedList",
    "parse_containers_json",
    "parse_containers_json_strict",
    "parse_list",
    "short_container_id",
]

MAX_PORT = 65535


@attrs.frozen
class ParsedList:
    """One list answer: every running container, and the bindings they publish."""

    containers: tuple[ContainerInfo, ...]
    bindings: dict[PortKey, ContainerInfo]


@attrs.frozen
class _Keys:
    """The wire keys of one shape, resolved once per spec."""

    id: str
    names: str
    image: str
    ports: str
    host_ip: str
    host_port: str
    protocol: str
    range: str | None
    wildcard: frozenset[str]
    protocols: dict[str, Protocol]
    default_protocol: str
    name_prefix: str
    short_id_length: int


_KEYS_CACHE: dict[tuple[int, str], _Keys] = {}


def _keys(wire: WireShapes, shape: str) -> _Keys:
    cached = _KEYS_CACHE.get((id(wire), shape))
    if cached is not None:
        return cached
    container = {f.name: getattr(f, shape) for f in wire.container}
    port = {f.name: getattr(f, shape) for f in wire.port}
    keys = _Keys(
        id=container["id"],
        names=container["names"],
        image=container["image"],
        ports=container["ports"],
        host_ip=port["host_ip"],
        host_port=port["host_port"],
        protocol=port["protocol"],
        range=port.get("range"),
        wildcard=frozenset(wire.wildcard_ips),
        protocols={p: Protocol(p) for p in wire.protocols},
        default_protocol=wire.default_protocol,
        name_prefix=wire.name_prefix,
        short_id_length=wire.short_id_length,
    )
    _KEYS_CACHE[(id(wire), shape)] = keys
    return keys


def short_container_id(container_id: str) -> str:
    """The 12-character short form of a container id (the id itself if shorter)."""
    return container_id[: builtin_spec().wire.short_id_length]


def detect_shape(data: list[Any], spec: Spec) -> str:
    """docker or libpod, from the first port entry's keys (docker when none has ports)."""
    libpod_port = next(f.libpod for f in spec.wire.port if f.name == "host_port")
    docker_ports = next(f.docker for f in spec.wire.container if f.name == "ports")
    for item in data:
        if isinstance(item, dict):
            ports = item.get(docker_ports)
            if isinstance(ports, list) and ports and isinstance(ports[0], dict):
                return "libpod" if libpod_port in ports[0] else "docker"
    return "docker"


def _bad(what: str) -> InvalidResponse:
    return InvalidResponse(f"unusable /containers/json answer: {what}")


def _canonical_ip_factory() -> Callable[[str], str | None]:
    """A per-parse cache of address text to its canonical form (None: not an address)."""
    cache: dict[str, str | None] = {}

    def canonical(text: str) -> str | None:
        try:
            return cache[text]
        except KeyError:
            pass
        import ipaddress

        try:
            address = ipaddress.ip_address(text.strip("[]"))
            value: str | None = address.compressed
        except ValueError:
            value = None
        if len(cache) < 4096:
            cache[text] = value
        return value

    return canonical


def _name(item: dict[str, Any], keys: _Keys, container_id: str, image: str) -> str:
    names = item.get(keys.names)
    if names is not None:
        if not isinstance(names, list):
            raise _bad("Names is not a list")
        for raw in names:
            if not isinstance(raw, str):
                raise _bad("a name is not a string")
            name = raw.removeprefix(keys.name_prefix)
            if name:
                return name
    return image or container_id[: keys.short_id_length]


def parse_list(
    body: bytes | str,
    shape: str | None = None,
    *,
    spec: Spec | None = None,
    limits: Limits = DEFAULT_LIMITS,
    daemon: str | None = None,
) -> ParsedList:
    """Parse a list answer of `shape` (docker, libpod, or None to tell from the body).

    Raises InvalidResponse when the body is not usable; `daemon` is recorded
    on every ContainerInfo.
    """
    spec = spec or builtin_spec()
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise _bad(f"not JSON ({exc.__class__.__name__})") from None
    if not isinstance(data, list):
        raise _bad(f"a JSON {type(data).__name__}, not a list")
    keys = _keys(spec.wire, shape or detect_shape(data, spec))
    canonical = _canonical_ip_factory()
    bindings: dict[PortKey, ContainerInfo] = {}
    containers: list[ContainerInfo] = []
    protocols = keys.protocols
    wildcard = keys.wildcard
    max_bindings = limits.max_bindings
    for item in data:
        if type(item) is not dict:
            raise _bad("a list item is not an object")
        container_id = item.get(keys.id)
        if type(container_id) is not str:
            raise _bad("a container has no string Id")
        image = item.get(keys.image)
        if image is None:
            image = ""
        elif type(image) is not str:
            raise _bad("Image is not a string")
        info = ContainerInfo(container_id, _name(item, keys, container_id, image), image, daemon=daemon)
        containers.append(info)
        ports = item.get(keys.ports)
        if not ports:
            continue
        if type(ports) is not list:
            raise _bad("Ports is not a list")
        for port in ports:
            if type(port) is not dict:
                raise _bad("a port entry is not an object")
            host_port = port.get(keys.host_port)
            if host_port is None:
                continue
            if type(host_port) is not int:
                raise _bad("a host port is not an integer")
            proto_text = port.get(keys.protocol)
            if proto_text is None:
                proto_text = keys.default_protocol
            elif type(proto_text) is not str:
                raise _bad("a protocol is not a string")
            protocol = protocols.get(proto_text)
            ip = port.get(keys.host_ip)
            if ip is None:
                ip = ""
            elif type(ip) is not str:
                raise _bad("a host IP is not a string")
            count = 1
            if keys.range is not None:
                count = port.get(keys.range, 1)
                if count is None:
                    count = 1
                elif type(count) is not int:
                    raise _bad("a port range is not an integer")
            if protocol is None or host_port < 1 or count < 1 or host_port + count - 1 > MAX_PORT:
                continue
            key_ip: str | None = None
            if ip not in wildcard:
                key_ip = canonical(ip)
                if key_ip is None:
                    continue
                if key_ip in wildcard:
                    key_ip = None
            if count == 1:
                bindings.setdefault((key_ip, host_port, protocol), info)
            else:
                for number in range(host_port, host_port + count):
                    bindings.setdefault((key_ip, number, protocol), info)
            if len(bindings) > max_bindings:
                raise _bad(f"more than {max_bindings} bindings")
    return ParsedList(tuple(containers), bindings)


def parse_containers_json_strict(
    body: bytes | str, shape: str | None = None, *, spec: Spec | None = None, limits: Limits = DEFAULT_LIMITS
) -> ContainerPortMap:
    """The port map of a `/containers/json` body; InvalidResponse when unusable."""
    return ContainerPortMap(parse_list(body, shape, spec=spec, limits=limits).bindings)


def parse_containers_json(
    body: bytes | str, shape: str | None = None, *, spec: Spec | None = None, limits: Limits = DEFAULT_LIMITS
) -> ContainerPortMap:
    """Lenient parse: an unusable body gives an empty map, never an error."""
    try:
        return parse_containers_json_strict(body, shape, spec=spec, limits=limits)
    except InvalidResponse:
        return ContainerPortMap()
