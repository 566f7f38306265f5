"""`/containers/json` bodies to port bindings: pure, no I/O.

Rule: bytes or text in, values out. The JSON keys come from the spec's wire
table (spec/wire.yaml), so the Docker compat shape and the libpod shape share
one loop per decoder: _parse_stdlib on json.loads' dicts, _parse_fast on
msgspec structs (`dockspec[fast]`), side by side here. Rules applied (issue 2): ranges expand; entries without a public
port, outside 1-65535 or with an unknown protocol are skipped; 0.0.0.0, ::
and the empty address mean every address (key ip None); names lose their
leading `/`; a missing name falls back to the image, then the short id.
Compose (issue 13): only the compose labels of spec/wire.yaml are read
(compose_of); a Labels that is not an object, or a label that is not a
non-empty string, counts as absent (labels decorate a container, they never
make an answer unusable). Other labels only when the caller asks (`labels`:
True for all, or the names to keep), string values only; the default parse
reads no other label.
A body that is not a JSON list of objects, or whose fields have the wrong
types, is an InvalidResponse (strict) or an empty map (lenient).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

import attrs

from dockspec.errors import InvalidResponse
from dockspec.models import DEFAULT_LIMITS, Compose, ContainerInfo, ContainerPortMap, Limits, PortKey, Protocol
from dockspec.spec import builtin_spec

if TYPE_CHECKING:
    from dockspec._generated.models import Spec, WireShapes

__all__ = [
    "LabelChoice",
    "ParsedList",
    "compose_of",
    "parse_containers_json",
    "parse_containers_json_strict",
    "parse_list",
    "short_container_id",
]

MAX_PORT = 65535

LabelChoice = bool | Collection[str]
"""Which labels a parse keeps on each ContainerInfo: False (none), True (all), or the names to keep."""


@attrs.frozen
class ParsedList:
    """One list answer: every running container, and the bindings they publish."""

    containers: tuple[ContainerInfo, ...]
    bindings: dict[PortKey, ContainerInfo]


@attrs.frozen(eq=False, repr=False)
class _Keys:
    """The wire keys of one shape, resolved once per spec (a private cache record: compared by identity)."""

    id: str
    names: str
    image: str
    ports: str
    host_ip: str
    host_port: str
    protocol: str
    range: str | None
    labels: str | None
    compose_project: tuple[str, ...]
    compose_service: tuple[str, ...]
    compose_number: tuple[str, ...]
    max_number_digits: int
    wildcard: frozenset[str]
    protocols: dict[str, Protocol]
    default_protocol: str
    name_prefix: str
    short_id_length: int
    ip_keys: dict[str, str | _Skip | None] = attrs.field(factory=dict)
    """Address text to its binding key (None: every address; SKIP: not an address), bounded."""
    composes: dict[tuple[str, str | None, str | None], Compose] = attrs.field(factory=dict)
    """(project, service, number text) to its Compose, bounded: a refresh builds no record it built before."""
    fast_composes: dict[Any, Compose | None] = attrs.field(factory=dict)
    """The fast decoder's: a (hashable, frozen) ComposeLabels struct to its Compose or None, bounded."""


class _Skip:
    """The binding key of an address that is not one: the entry is skipped."""


SKIP = _Skip()
MAX_IP_KEYS = 4096
MAX_COMPOSES = 4096
MAX_CACHED_LABEL_CHARS = 512  # only short label texts are cached: 4096 entries stay a few MiB at most

# (id(wire), shape) -> (wire, keys); holding the wire keeps its id from being reused.
_KEYS_CACHE: dict[tuple[int, str], tuple[WireShapes, _Keys]] = {}


def _keys(wire: WireShapes, shape: str) -> _Keys:
    cached = _KEYS_CACHE.get((id(wire), shape))
    if cached is not None:
        return cached[1]
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
        labels=container.get("labels"),
        compose_project=wire.compose.project,
        compose_service=wire.compose.service,
        compose_number=wire.compose.number,
        max_number_digits=wire.compose.max_number_digits,
        wildcard=frozenset(wire.wildcard_ips),
        protocols={p: Protocol(p) for p in wire.protocols},
        default_protocol=wire.default_protocol,
        name_prefix=wire.name_prefix,
        short_id_length=wire.short_id_length,
    )
    for text in keys.wildcard:
        keys.ip_keys[text] = None
    _KEYS_CACHE[(id(wire), shape)] = (wire, keys)
    return keys


def ip_key(keys: _Keys, text: str) -> str | _Skip | None:
    """The binding key of host address `text`: None for every address, SKIP when not an address.

    Canonical form (compressed IPv6, brackets dropped), then the wildcard
    check; cached per wire table (a pure function of the text), bounded.
    """
    import ipaddress

    try:
        value: str | _Skip | None = ipaddress.ip_address(text.strip("[]")).compressed
    except ValueError:
        value = SKIP
    if value in keys.wildcard:
        value = None
    if len(keys.ip_keys) < MAX_IP_KEYS:
        keys.ip_keys[text] = value
    return value


def _first_label(labels: dict[Any, Any], names: tuple[str, ...]) -> str | None:
    for name in names:
        value = labels.get(name)
        if value and type(value) is str:
            return value
    return None


def compose_of(labels: object, spec: Spec | None = None) -> Compose | None:
    """The Compose a container's Labels object names, None when it names no project.

    Per field, the first label of spec/wire.yaml's compose table that is a
    non-empty string wins (com.docker.compose.* before io.podman.compose.*).
    Anything else (not a dict, values of other types) counts as absent.
    """
    if not labels or type(labels) is not dict:
        return None
    return _dict_compose(_keys((spec or builtin_spec()).wire, "docker"), labels)


def _dict_compose(keys: _Keys, labels: dict[Any, Any]) -> Compose | None:
    project = _first_label(labels, keys.compose_project)
    if project is None:
        return None
    service = _first_label(labels, keys.compose_service)
    return _compose(keys, project, service, _first_label(labels, keys.compose_number))


def _compose(keys: _Keys, project: str, service: str | None, number: str | None) -> Compose:
    """The record, number an int only for ASCII digits (at most max_number_digits: int() stays cheap).

    Cached per wire table like ip_keys (a record costs about as much as the
    ContainerInfo that holds it; the same containers come back every refresh).
    """
    found = keys.composes.get((project, service, number))
    if found is not None:
        return found
    value = None
    if number is not None and len(number) <= keys.max_number_digits and number.isascii() and number.isdigit():
        value = int(number)
    found = Compose(project, service, value)
    if len(keys.composes) < MAX_COMPOSES and _short_texts((project, service, number)):
        keys.composes[(project, service, number)] = found
    return found


def _short_texts(texts: Any) -> bool:
    return sum(len(t) for t in texts if t is not None) <= MAX_CACHED_LABEL_CHARS


def _fast_compose(keys: _Keys, labels: Any, compose_labels: Any) -> Compose | None:
    """The Compose of a decoded ComposeLabels struct (the generated compose_labels picks the labels), then cached."""
    from msgspec.structs import astuple

    project, service, number = compose_labels(labels)
    compose = None if project is None else _compose(keys, project, service, number)
    if len(keys.fast_composes) < MAX_COMPOSES and _short_texts(astuple(labels)):
        keys.fast_composes[labels] = compose
    return compose


UNSEEN: Any = object()

Kept = bool | tuple[str, ...]


def _label_choice(labels: LabelChoice) -> Kept:
    """False, True, or the sorted distinct names; TypeError for anything else (a bare str is one name too many)."""
    if labels is False or labels is True:
        return labels
    if isinstance(labels, str) or not isinstance(labels, Collection):
        raise TypeError(f"labels must be True, False or a collection of label names, not {labels!r}")
    names = tuple(sorted(set(labels)))
    for name in names:
        if type(name) is not str:
            raise TypeError(f"a label name must be a string, not {name!r}")
    return names or False


def _kept_labels(labels: Any, keep: Kept) -> tuple[tuple[str, str], ...]:
    """The (name, value) pairs of `labels` (a container's Labels) that `keep` asks for, string values only."""
    if not labels or type(labels) is not dict:
        return ()
    if keep is True:
        return tuple(sorted((k, v) for k, v in labels.items() if type(v) is str and type(k) is str))
    assert keep is not False
    return tuple((k, v) for k in keep if type(v := labels.get(k)) is str)


def _fast_kept_labels(labels: dict[str, Any] | None, keep: Kept, decode: Any) -> tuple[tuple[str, str], ...]:
    """_kept_labels on the fast decoder's {name: msgspec.Raw}: only the string values are decoded.

    A string msgspec refuses (a lone surrogate escape json.loads accepts)
    raises ValueError: the stdlib path then decides, as for any refused body.
    """
    if not labels:
        return ()
    names = sorted(labels) if keep is True else [k for k in keep if k in labels]  # type: ignore[union-attr]
    return tuple((k, decode(raw)) for k in names if memoryview(raw := labels[k])[0] == 34)  # 34: '"'


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


DECODERS = (None, "stdlib", "fast")
# dockspec._generated.wire (msgspec structs of the list shapes), imported at
# the first parse that may use it, not at `import dockspec`; None without msgspec.
_WIRE: list[Any] = []


def _fast_wire() -> Any:
    if not _WIRE:
        try:
            from dockspec._generated import wire
        except ImportError:
            _WIRE.append(None)
        else:
            _WIRE.append(wire)
    return _WIRE[0]


def parse_list(
    body: bytes | str,
    shape: str | None = None,
    *,
    spec: Spec | None = None,
    limits: Limits = DEFAULT_LIMITS,
    daemon: str | None = None,
    decoder: str | None = None,
    labels: LabelChoice = False,
) -> ParsedList:
    """Parse a list answer of `shape` (docker, libpod, or None to tell from the body).

    Raises InvalidResponse when the body is not usable; `daemon` is recorded
    on every ContainerInfo, and so are the labels `labels` asks for (True:
    all; or the names to keep; string values only). `decoder` picks the JSON decoder: "stdlib"
    (json.loads), "fast" (msgspec structs generated from spec/wire.yaml, the
    `dockspec[fast]` extra) or None: fast when msgspec imports and `spec`
    has the built-in wire table, else stdlib. Both give the same result for
    every body but one kind: a body msgspec refuses is handed to the stdlib
    rules, which say what is wrong with it (or accept what json.loads
    accepts and msgspec does not, e.g. NaN in a field dockspec never reads).
    The exception: a body nested to within a few levels of Python's
    recursion limit may be decoded by msgspec and refused (InvalidResponse)
    by json.loads, whose decoder starts a few frames deeper.
    """
    builtin = builtin_spec()
    spec = spec or builtin
    keep = _label_choice(labels)
    if decoder != "stdlib":
        if decoder not in DECODERS:
            raise ValueError(f"decoder must be one of {DECODERS}, not {decoder!r}")
        wire = _fast_wire()
        if wire is None:
            if decoder == "fast":
                raise ImportError("decoder='fast' needs msgspec: pip install 'dockspec[fast]'")
        elif spec.wire is builtin.wire or spec.wire == builtin.wire:
            parsed = _parse_fast(wire, body, shape, spec, limits, daemon, keep)
            if parsed is not None:
                return parsed
        elif decoder == "fast":
            raise ValueError("decoder='fast' decodes the built-in wire table only; this spec has another")
    return _parse_stdlib(body, shape, spec, limits, daemon, keep)


def _parse_stdlib(
    body: bytes | str, shape: str | None, spec: Spec, limits: Limits, daemon: str | None, keep: Kept = False
) -> ParsedList:
    """json.loads, then the rules on dicts, checking every type the rules read."""
    import json  # here: with msgspec installed, only bodies it refuses reach json

    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise _bad(f"not JSON ({exc.__class__.__name__})") from None
    if not isinstance(data, list):
        raise _bad(f"a JSON {type(data).__name__}, not a list")
    keys = _keys(spec.wire, shape or detect_shape(data, spec))
    # Everything the loop reads, as locals: this loop is most of a parse's cost after json.loads.
    k_id, k_names, k_image, k_ports = keys.id, keys.names, keys.image, keys.ports
    k_ip, k_port, k_proto, k_range = keys.host_ip, keys.host_port, keys.protocol, keys.range
    prefix, short, default_proto = keys.name_prefix, keys.short_id_length, keys.default_protocol
    k_labels = keys.labels
    protocols_get = keys.protocols.get
    ip_keys_get = keys.ip_keys.get
    max_bindings = limits.max_bindings
    work = 0  # bindings the usable entries so far expand to, duplicates included
    bindings: dict[PortKey, ContainerInfo] = {}
    setdefault = bindings.setdefault
    containers: list[ContainerInfo] = []
    append = containers.append
    for item in data:
        if type(item) is not dict:
            raise _bad("a list item is not an object")
        container_id = item.get(k_id)
        if type(container_id) is not str:
            raise _bad("a container has no string Id")
        image = item.get(k_image)
        if image is None:
            image = ""
        elif type(image) is not str:
            raise _bad("Image is not a string")
        name = ""
        names = item.get(k_names)
        if names is not None:
            if type(names) is not list:
                raise _bad("Names is not a list")
            for raw in names:
                if type(raw) is not str:
                    raise _bad("a name is not a string")
                name = raw.removeprefix(prefix)
                if name:
                    break
        if not name:
            name = image or container_id[:short]
        labels = None if k_labels is None else item.get(k_labels)
        compose = _dict_compose(keys, labels) if labels and type(labels) is dict else None
        if keep:
            info = ContainerInfo(
                container_id, name, image, daemon=daemon, compose=compose, labels=_kept_labels(labels, keep)
            )
        else:
            info = ContainerInfo(container_id, name, image, daemon=daemon, compose=compose)
        append(info)
        ports = item.get(k_ports)
        if not ports:
            continue
        if type(ports) is not list:
            raise _bad("Ports is not a list")
        last: Any = None
        for port in ports:
            if type(port) is not dict:
                raise _bad("a port entry is not an object")
            host_port = port.get(k_port)
            if host_port is None:
                continue
            if type(host_port) is not int:
                raise _bad("a host port is not an integer")
            proto_text = port.get(k_proto)
            if proto_text is None:
                proto_text = default_proto
            elif type(proto_text) is not str:
                raise _bad("a protocol is not a string")
            protocol = protocols_get(proto_text)
            ip = port.get(k_ip)
            if ip is None:
                ip = ""
            elif type(ip) is not str:
                raise _bad("a host IP is not a string")
            count = 1
            if k_range is not None:
                count = port.get(k_range, 1)
                if count is None:
                    count = 1
                elif type(count) is not int:
                    raise _bad("a port range is not an integer")
            if protocol is None or host_port < 1 or count < 1 or host_port + count - 1 > MAX_PORT:
                continue
            key_ip = ip_keys_get(ip, SKIP_UNKNOWN)
            if key_ip is SKIP_UNKNOWN:
                key_ip = ip_key(keys, ip)
            if key_ip is SKIP:
                continue
            work += count  # before expanding: the cap bounds the work, not just the distinct bindings
            if work > max_bindings:
                raise _too_many(max_bindings)
            if count == 1:
                key = (key_ip, host_port, protocol)
                if key == last:  # Docker's 0.0.0.0 and :: twins: setdefault would keep the first
                    continue
                last = key
                setdefault(key, info)  # type: ignore[arg-type]
            else:
                for number in range(host_port, host_port + count):
                    setdefault((key_ip, number, protocol), info)  # type: ignore[arg-type]
    return ParsedList(tuple(containers), bindings)


_REFUSED = (ValueError, TypeError, RecursionError)  # msgspec's DecodeError and ValidationError are ValueErrors


def _parse_fast(
    wire: Any, body: bytes | str, shape: str | None, spec: Spec, limits: Limits, daemon: str | None, keep: Kept = False
) -> ParsedList | None:
    """_parse_stdlib's rules on msgspec structs (dockspec._generated.wire); None when the stdlib path must decide.

    The structs hold only the fields the rules read; msgspec skips every
    other key while checking that the JSON is well formed, and checks the
    types of the fields it keeps (strict: bools and floats are not ints).
    None, so that the stdlib rules name what is wrong or accept what
    json.loads accepts: msgspec refuses the body (bad JSON, a wrong type,
    NaN, a BOM, a `"Ports": {}` the stdlib loop skips as empty, ...), the
    body is not valid UTF-8 (msgspec does not check strings it skips), or it
    is not bytes or str. Then the same rules as the stdlib loop, in the same
    order, with the cheap skips first since the types are known.
    """
    kind = type(body)
    if kind is bytes:
        if not body.isascii():
            try:
                body.decode("utf-8", "surrogatepass")  # type: ignore[union-attr]
            except UnicodeDecodeError:
                return None
    elif kind is not str:
        return None
    try:
        items = wire.DECODERS["docker" if shape is None else shape].decode(body)
        if shape is None:  # detect_shape: the docker structs keep libpod's host port key, undecoded
            shape = "docker"
            for item in items:
                if item.ports:
                    if item.ports[0].libpod_host_port is not wire.msgspec.UNSET:
                        shape = "libpod"
                        items = wire.DECODERS[shape].decode(body)
                    break
        every_label = wire.LABELS_DECODERS[shape].decode(body) if keep else None  # a second pass, if asked
        kept_labels = [_fast_kept_labels(item.labels, keep, wire.msgspec.json.decode) for item in every_label or ()]
    except _REFUSED:
        return None
    except KeyError:  # a shape with no generated decoder: the stdlib path says what it is
        return None
    keys = _keys(spec.wire, shape)
    prefix, short, default_proto = keys.name_prefix, keys.short_id_length, keys.default_protocol
    compose_labels = wire.compose_labels
    composes_get = keys.fast_composes.get
    protocols_get = keys.protocols.get
    ip_keys_get = keys.ip_keys.get
    has_range = keys.range is not None
    max_bindings = limits.max_bindings
    work = 0  # as in the stdlib loop: twins and duplicates count
    bindings: dict[PortKey, ContainerInfo] = {}
    setdefault = bindings.setdefault
    containers: list[ContainerInfo] = []
    append = containers.append
    for item in items:
        container_id: str = item.id
        image = item.image
        if image is None:
            image = ""
        name = ""
        names = item.names
        if names:
            for raw in names:
                name = raw.removeprefix(prefix)
                if name:
                    break
        if not name:
            name = image or container_id[:short]
        labels = item.labels
        compose = None if labels is None else composes_get(labels, UNSEEN)
        if compose is UNSEEN:
            compose = _fast_compose(keys, labels, compose_labels)
        if every_label is None:
            info = ContainerInfo(container_id, name, image, daemon=daemon, compose=compose)
        else:
            kept = kept_labels[len(containers)]
            info = ContainerInfo(container_id, name, image, daemon=daemon, compose=compose, labels=kept)
        append(info)
        ports = item.ports
        if not ports:
            continue
        last: Any = None
        for port in ports:
            host_port = port.host_port
            if host_port is None or host_port < 1:
                continue
            count = port.range if has_range else None
            if count is None or count == 1:
                if host_port > MAX_PORT:
                    continue
                count = 1
            elif count < 1 or host_port + count - 1 > MAX_PORT:
                continue
            proto_text = port.protocol
            protocol = protocols_get(default_proto if proto_text is None else proto_text)
            if protocol is None:
                continue
            ip = port.host_ip
            if ip is None:
                ip = ""
            key_ip = ip_keys_get(ip, SKIP_UNKNOWN)
            if key_ip is SKIP_UNKNOWN:
                key_ip = ip_key(keys, ip)
            if key_ip is SKIP:
                continue
            work += count
            if work > max_bindings:
                raise _too_many(max_bindings)
            if count == 1:
                key = (key_ip, host_port, protocol)
                if key != last:
                    last = key
                    setdefault(key, info)
            else:
                for number in range(host_port, host_port + count):
                    setdefault((key_ip, number, protocol), info)
    return ParsedList(tuple(containers), bindings)


def _too_many(max_bindings: int) -> InvalidResponse:
    """The answer's port entries would expand to more than `max_bindings` bindings (duplicates counted)."""
    return _bad(f"port entries would expand to more than {max_bindings} bindings (Limits.max_bindings)")


SKIP_UNKNOWN: Any = object()


def parse_containers_json_strict(
    body: bytes | str,
    shape: str | None = None,
    *,
    spec: Spec | None = None,
    limits: Limits = DEFAULT_LIMITS,
    decoder: str | None = None,
    labels: LabelChoice = False,
) -> ContainerPortMap:
    """The port map of a `/containers/json` body; InvalidResponse when unusable.

    `decoder` is parse_list's: "stdlib", "fast" (needs `dockspec[fast]`) or None (fast when it can).
    `labels`: the labels each ContainerInfo carries (True: all; or the names to keep; default none).
    """
    return ContainerPortMap(parse_list(body, shape, spec=spec, limits=limits, decoder=decoder, labels=labels).bindings)


def parse_containers_json(
    body: bytes | str,
    shape: str | None = None,
    *,
    spec: Spec | None = None,
    limits: Limits = DEFAULT_LIMITS,
    decoder: str | None = None,
    labels: LabelChoice = False,
) -> ContainerPortMap:
    """Lenient parse: an unusable body gives an empty map, never an error (`decoder`, `labels` as parse_list's)."""
    try:
        return parse_containers_json_strict(body, shape, spec=spec, limits=limits, decoder=decoder, labels=labels)
    except InvalidResponse:
        return ContainerPortMap()
