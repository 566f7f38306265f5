"""The fast path (dockspec[fast]) against the stdlib path: same answer for every body.

Differential tests: a body goes through parse_list with decoder="stdlib" and
decoder="fast"; both must give the same ParsedList (same bindings in the same
order, same containers) or both raise InvalidResponse with the same message.
The lookup index is checked the same way against the lookup rules written plainly.
"""

from __future__ import annotations

import enum
import ipaddress
import json
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dockspec import (
    DEFAULT_LIMITS,
    ContainerInfo,
    ContainerPortMap,
    InvalidResponse,
    Limits,
    Protocol,
    builtin_spec,
    load_spec,
    lookup_published_container,
)
from dockspec.containers import ParsedList, _fast_wire, _parse_fast, parse_list
from dockspec.models import Ambiguous, Found, NotFound, container_sort_key


def fast_parse(body: bytes | str, shape: str | None, *args: Any) -> ParsedList | None:
    return _parse_fast(_fast_wire(), body, shape, *args)

KEYS = ["Id", "Names", "Image", "Ports", "State", "Labels", "IP", "PublicPort", "PrivatePort", "Type",
        "host_ip", "host_port", "container_port", "protocol", "range", "x"]
IPS = ["", "0.0.0.0", "::", "127.0.0.1", "::1", "[::1]", "0:0:0:0:0:0:0:1", "10.0.0.1", "::ffff:10.0.0.1", "bad",
       "1.2.3"]


def outcome(body: bytes | str, shape: str | None, decoder: str, limits: Limits = DEFAULT_LIMITS) -> tuple[Any, ...]:
    try:
        parsed = parse_list(body, shape, decoder=decoder, limits=limits, daemon="unix:///d.sock")
    except InvalidResponse as exc:
        return ("invalid", str(exc))
    return ("ok", parsed.containers, list(parsed.bindings.items()))


def assert_same(body: bytes | str, shape: str | None, limits: Limits = DEFAULT_LIMITS) -> tuple[Any, ...]:
    stdlib = outcome(body, shape, "stdlib", limits)
    assert stdlib == outcome(body, shape, "fast", limits)
    return stdlib


scalars = (
    st.none() | st.booleans() | st.integers(-3, 70000) | st.integers() | st.floats()
    | st.sampled_from(["tcp", "udp", "sctp", "TCP", "/web", "/", "", "img:1", "x" * 70, *IPS])
    | st.text(max_size=6)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=6),
    max_leaves=40,
)
names = st.none() | st.lists(st.sampled_from(["/web", "/", "", "db", "/a/b"]) | scalars, max_size=3) | scalars
port_entry = st.fixed_dictionaries(
    {},
    optional={
        "IP": st.sampled_from(IPS) | scalars, "PublicPort": st.integers(-2, 65537) | scalars,
        "PrivatePort": st.integers(0, 9) | scalars, "Type": st.sampled_from(["tcp", "udp", "sctp"]) | scalars,
        "host_ip": st.sampled_from(IPS) | scalars, "host_port": st.integers(-2, 65537) | scalars,
        "container_port": scalars, "protocol": st.sampled_from(["tcp", "udp", "x"]) | scalars,
        "range": st.integers(-1, 70) | scalars, "x": json_values,
    },
)
container = st.fixed_dictionaries(
    {},
    optional={
        "Id": st.sampled_from(["a" * 64, "b" * 64, "c"]) | scalars, "Names": names,
        "Image": st.sampled_from(["img", ""]) | scalars, "Ports": st.lists(port_entry, max_size=5) | json_values,
        "Labels": json_values, "State": scalars,
    },
)
bodies = st.lists(container | json_values, max_size=5) | json_values


def dumps(value: Any, mode: str) -> bytes | str:
    text = json.dumps(value, allow_nan=True, ensure_ascii=mode == "ascii")
    return text if mode == "str" else text.encode("utf-8", "surrogatepass")


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bodies, st.sampled_from([None, "docker", "libpod"]), st.sampled_from(["ascii", "utf8", "str"]),
       st.sampled_from([DEFAULT_LIMITS, Limits(max_bindings=3)]))
def test_both_decoders_agree_on_json_bodies(value: Any, shape: str | None, mode: str, limits: Limits) -> None:
    """Arbitrary JSON, mostly list-answer-shaped: equal results, or the same InvalidResponse."""
    assert_same(dumps(value, mode), shape, limits)


@settings(max_examples=1000, deadline=None)
@given(st.lists(container, min_size=1, max_size=4), st.sampled_from([None, "docker", "libpod"]),
       st.data())
def test_both_decoders_agree_on_damaged_bodies(value: list[Any], shape: str | None, data: st.DataObject) -> None:
    """Valid answers with bytes cut, replaced or inserted: malformed JSON, bad UTF-8, control characters."""
    raw = bytearray(json.dumps(value).encode())
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(raw)))
        action = data.draw(st.sampled_from(["cut", "replace", "insert"]))
        junk = data.draw(st.sampled_from([b"\xff", b"\xed\xa0\x80", b"\x00", b"\t", b"NaN", b"\xef\xbb\xbf", b",",
                                          b"]", b"{", b'"', b"\\ud800", b"1e999", b"-", b"\xc3\xa9"]))
        if action == "cut":
            del raw[at:]
        elif action == "replace":
            raw[at : at + len(junk)] = junk
        else:
            raw[at:at] = junk
    assert_same(bytes(raw), shape)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_both_decoders_agree_on_any_bytes(data: bytes) -> None:
    assert_same(data, None)


@pytest.mark.parametrize(
    ("body", "expect"),
    [
        (b'[{"Id": "x", "Ports": [{"PublicPort": true}]}]', "invalid"),
        (b'[{"Id": "x", "Ports": [{"PublicPort": 80.0}]}]', "invalid"),
        (b'[{"Id": "x", "Ports": [{"PublicPort": 1e2}]}]', "invalid"),
        (b'[{"Id": "x", "Ports": [{"PublicPort": 100000000000000000000000}]}]', "ok"),
        (b'[{"Id": "x", "Ports": [{"PublicPort": null, "IP": 5}]}]', "ok"),
        (b'[{"Id": "x", "Ports": [{"PublicPort": 80, "PrivatePort": "80"}]}]', "ok"),
        (b'[{"Id": "x", "Ports": {}}]', "ok"),
        (b'[{"Id": "x", "Ports": 0}]', "ok"),
        (b'[{"Id": "x", "Names": ["/a", 5]}]', "ok"),
        (b'[{"Id": "x", "Names": ["/", 5]}]', "invalid"),
        (b'[{"Id": "x", "Names": ["\\ud800"]}]', "ok"),
        (b'[{"Id": "x", "Labels": {"a": NaN}}]', "ok"),
        (b'[{"Id": "x", "Labels": {"a": 1e999}}]', "ok"),
        (b'[{"Id": "x", "Labels": {"a": "\xff"}}]', "invalid"),
        (b'[{"Id": "x", "Labels": {"a": "\xed\xa0\x80"}}]', "ok"),
        (b'[{"Id": "x", "Labels": {"a": "\x01"}}]', "invalid"),
        (b'\xef\xbb\xbf[{"Id": "x"}]', "ok"),
        (b'[{"Id": "x", "Id": 5}]', "invalid"),
        (b'[{"Id": 5, "Id": "x"}]', "ok"),
        (b'[{"\\u0049d": "x"}]', "ok"),
        ('[{"Id": "\udc80"}]', "ok"),
        ('[{"Id": "x", "Names": ["/w\u00e9b"]}]', "ok"),
        (b"[" * 100_000 + b"]" * 100_000, "invalid"),
    ],
    ids=["bool-port", "float-port", "exp-port", "huge-port", "skipped-entry-bad-ip", "private-port-string",
         "ports-empty-object", "ports-zero", "name-then-int", "empty-name-then-int", "lone-surrogate-escape",
         "nan-unread", "inf-unread", "bad-utf8-unread", "utf8-surrogate-unread", "control-char-unread", "bom",
         "duplicate-id-last-bad", "duplicate-id-last-good", "escaped-key", "str-lone-surrogate", "str-non-ascii",
         "deep"],
)
def test_edge_cases_agree(body: bytes | str, expect: str) -> None:
    """The cases where msgspec and json.loads + dict.get differ by themselves."""
    for shape in (None, "docker"):
        assert assert_same(body, shape)[0] == expect


@pytest.mark.parametrize("where", ["container", "port", "names"])
def test_nesting_depth_is_bounded_on_both_paths(where: str) -> None:
    """Well below the recursion limit both decoders agree; near it each answers (a map or InvalidResponse,
    msgspec may decode a few levels deeper than json.loads, documented on parse_list); far past it both refuse."""
    limit = sys.getrecursionlimit()
    for depth in (*range(1, 200, 37), *range(limit - 120, limit + 20), limit * 10):
        nest = "[" * depth + "]" * depth
        if where == "container":
            text = '[{"Id": "x", "Labels": %s}]' % nest
        elif where == "port":
            text = '[{"Id": "x", "Ports": [{"PublicPort": 80, "x": %s}]}]' % nest
        else:
            text = '[{"Id": "x", "Names": %s}]' % nest
        stdlib, fast = outcome(text.encode(), "docker", "stdlib"), outcome(text.encode(), "docker", "fast")
        if depth < limit - 120 or depth > limit * 2:
            assert stdlib == fast, depth
        if depth > limit * 2:
            assert stdlib[0] == "invalid", depth


def test_fast_decoder_decides_valid_bodies_itself() -> None:
    """Well-formed answers never fall back: the fast path is what runs."""
    body = b'[{"Id": "%s", "Names": ["/web"], "Image": "i", "Ports": [{"IP": "::", "PublicPort": 80, "Type": "tcp"}]}]'
    body %= b"a" * 64
    assert fast_parse(body, "docker", builtin_spec(), DEFAULT_LIMITS, None) is not None
    assert fast_parse(body, None, builtin_spec(), DEFAULT_LIMITS, None) is not None
    assert fast_parse(b"[1]", "docker", builtin_spec(), DEFAULT_LIMITS, None) is None


@pytest.mark.parametrize("kind", [bytearray, memoryview])
def test_other_buffers_behave_as_json_loads_says(kind: type) -> None:
    body = kind(b'[{"Id": "x"}]')
    results = []
    for decoder in ("stdlib", "fast"):
        try:
            results.append(parse_list(body, decoder=decoder))
        except TypeError as exc:
            results.append(type(exc))
    assert results[0] == results[1]


def test_decoder_keyword() -> None:
    body = b'[{"Id": "x", "Ports": [{"PublicPort": 80}]}]'
    assert parse_list(body) == parse_list(body, decoder="fast") == parse_list(body, decoder="stdlib")
    with pytest.raises(ValueError, match="decoder"):
        parse_list(body, decoder="simdjson")


def test_fast_decoder_is_for_the_builtin_wire_table() -> None:
    """A spec with its own wire table parses on the stdlib path; forcing fast is an error."""
    spec = load_spec()
    assert spec.wire == builtin_spec().wire  # equal tables: the fast path applies
    assert parse_list(b"[]", spec=spec, decoder="fast").containers == ()
    import attrs

    other = attrs.evolve(spec, wire=attrs.evolve(spec.wire, name_prefix="+"))
    body = b'[{"Id": "x", "Names": ["+web"], "Ports": [{"PublicPort": 80}]}]'
    assert parse_list(body, spec=other).containers[0].name == "web"
    with pytest.raises(ValueError, match="wire table"):
        parse_list(body, spec=other, decoder="fast")


def test_msgspec_is_imported_at_first_parse_not_at_import() -> None:
    code = (
        "import sys, dockspec\n"
        "assert 'msgspec' not in sys.modules and 'dockspec._generated.wire' not in sys.modules\n"
        "dockspec.parse_containers_json(b'[]')\n"
        "assert 'dockspec._generated.wire' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_without_msgspec_the_stdlib_path_runs() -> None:
    code = (
        "import sys\n"
        "sys.modules['msgspec'] = None\n"
        "from dockspec.containers import parse_list\n"
        "assert parse_list(b'[{\"Id\": \"x\"}]').containers[0].id == 'x'\n"
        "try:\n"
        "    parse_list(b'[]', decoder='fast')\n"
        "except ImportError as exc:\n"
        "    assert 'dockspec[fast]' in str(exc)\n"
        "else:\n"
        "    raise AssertionError('decoder=fast without msgspec')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# The lookup index against the lookup rules, written plainly over the bindings.


def plain_lookup(
    bindings: dict[Any, ContainerInfo], ip: str | None, port: int, protocol: Protocol, fallback: bool
) -> object:
    """Exact, every address, the canonical address, then (when asked) the one owner of (port, protocol)."""
    for key_ip in (ip, None):
        if (key_ip, port, protocol) in bindings:
            return Found(bindings[(key_ip, port, protocol)])
    if ip is not None:
        try:
            address = ipaddress.ip_address(ip.strip("[]"))
        except ValueError:
            pass
        else:
            canonical = (getattr(address, "ipv4_mapped", None) or address).compressed
            if (canonical, port, protocol) in bindings:
                return Found(bindings[(canonical, port, protocol)])
    owners = {info for (_, p, pr), info in bindings.items() if (p, pr) == (port, protocol)}
    if not fallback or not owners:
        return NotFound()
    if len(owners) == 1:
        return Found(owners.pop())
    return Ambiguous(tuple(sorted(owners, key=container_sort_key)))


infos = st.sampled_from([ContainerInfo(c * 64, c, "img") for c in "abcd"] + [ContainerInfo("a" * 64, "a", "img")]
                        + [ContainerInfo("a" * 64, "a", "img", daemon="unix:///d.sock")])
map_keys = st.tuples(st.sampled_from([None, "127.0.0.1", "10.0.0.1", "::1", "0.0.0.0"]), st.integers(1, 5),
                     st.sampled_from(list(Protocol)))
query_ips = st.sampled_from([None, "127.0.0.1", "10.0.0.1", "::1", "0.0.0.0", "::", "0:0:0:0:0:0:0:1",
                             "::ffff:127.0.0.1", "[::1]", "x", ""])


@settings(max_examples=1000, deadline=None)
@given(st.dictionaries(map_keys, infos, max_size=12), query_ips, st.integers(0, 6), st.sampled_from(list(Protocol)),
       st.booleans())
def test_lookup_index_agrees_with_plain_rules(
    bindings: dict[Any, ContainerInfo], ip: str | None, port: int, protocol: Protocol, fallback: bool
) -> None:
    port_map = ContainerPortMap(bindings)
    assert port_map._index is None  # built by the first lookup
    assert plain_lookup(bindings, ip, port, protocol, fallback) == lookup_published_container(
        port_map, (ip, port), protocol, fallback)
    assert port_map._index is not None
    if ip not in (None, "x", "", "[::1]"):  # an ipaddress object: looked up as its canonical text
        address = ipaddress.ip_address(ip)
        text = (getattr(address, "ipv4_mapped", None) or address).compressed
        assert plain_lookup(bindings, text, port, protocol, fallback) == lookup_published_container(
            port_map, (address, port), protocol, fallback)


def test_keys_and_queries_of_other_forms_are_type_errors() -> None:
    """A map key that is not (str | None, int, Protocol) is refused when the map is built; so is a lookup
    with an address that is not a str, an ipaddress address or None, or a protocol that is not a Protocol."""
    info = ContainerInfo("a" * 64, "a", "img")
    for key in [("127.0.0.1", 80, "tcp"), ("x", 1), (5, 80, Protocol.TCP), ("x", "80", Protocol.TCP),
                ("x", 80, Protocol.TCP, 0), "x", 5]:
        with pytest.raises(TypeError, match="ContainerPortMap key"):
            ContainerPortMap({key: info})  # type: ignore[dict-item]
    normal = ContainerPortMap({(None, 81, Protocol.TCP): info, ("10.0.0.1", 82, Protocol.TCP): info})
    for ip in (["x"], 5, b"10.0.0.1", ("10.0.0.1",)):
        with pytest.raises(TypeError, match="socket address"):
            lookup_published_container(normal, (ip, 82), Protocol.TCP)  # type: ignore[arg-type]
    for protocol in ("tcp", None, StopLike.TCP):
        with pytest.raises(TypeError, match="Protocol"):
            lookup_published_container(normal, ("10.0.0.1", 82), protocol)  # type: ignore[arg-type]
    assert lookup_published_container(normal, (ipaddress.ip_address("10.0.0.1"), 82), Protocol.TCP) == Found(info)
    assert lookup_published_container(normal, (ipaddress.ip_address("::ffff:10.0.0.1"), 82), Protocol.TCP) == Found(
        info)
    assert lookup_published_container(normal, (ipaddress.ip_address("10.9.9.9"), 81), Protocol.TCP, True) == Found(
        info)


class StopLike(enum.Enum):
    TCP = "tcp"
