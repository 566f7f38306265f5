"""Well-framed answers with hostile JSON: wrong types, odd ports, ranges, addresses, names.

Each body is served by a hostile daemon that is first in the endpoint table,
beside a good daemon; the same body is also asked for alone through
DOCKER_HOST. The documented rules (docs/limits.md):

- a value of the wrong JSON type anywhere dockspec reads is InvalidResponse
  (strict), nothing from that daemon (best effort); null means absent, and a
  falsy Ports (false, 0, "", {}) counts as no ports;
- a port outside 1-65535 (negative included), a range reaching past 65535
  or below 1, an unknown protocol or a host address that is not an IP
  address skips that entry only;
- the first claim of a binding wins, within an answer and across daemons;
- port entries that would expand to more than Limits.max_bindings bindings
  (duplicates counted) are InvalidResponse, refused before expanding;
- names are kept verbatim, control characters included (the CLI escapes them).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import attrs
import pytest

from dockspec import (
    DEFAULT_LIMITS,
    ContainerInfo,
    Env,
    InvalidResponse,
    Protocol,
    await_detection,
    detect_containers,
    start_detection,
)
from dockspec.models import PortKey
from tests.fakedaemon import DOCKER_HEADERS, PODMAN_HEADERS, FakeDaemon, http_response
from tests.hostile.daemon import Conn, HostileDaemon, after_request
from tests.hostile.harness import SPEC, direct_env, good_daemon, good_map, in_child, table_env
from tests.hostile.measure import LIMITS, MARGIN, measure, memory_bound

ID = "f" * 64
TCP, UDP = Protocol.TCP, Protocol.UDP


@attrs.define
class Served:
    """A hostile daemon whose answer the test sets, beside a good daemon in the table."""

    hostile: HostileDaemon
    good: FakeDaemon
    table: Env
    home: str
    answer: bytes = b""

    @property
    def hostile_url(self) -> str:
        return f"unix://{self.home}/.docker/desktop/docker.sock"


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    holder: list[Served] = []

    def reply(conn: Conn) -> None:
        conn.send(holder[0].answer)

    hostile = HostileDaemon(after_request(reply))
    good = good_daemon()
    try:
        with table_env(hostile.path, good.path) as (env, home):
            holder.append(Served(hostile, good, env, home))
            yield holder[0]
    finally:
        hostile.close()
        good.close()


Expected = dict[PortKey, tuple[str, ...]]


def check(served: Served, body: Any, expected: Expected | None, libpod: bool = False) -> None:
    """Serve `body`; `expected` is the hostile daemon's bindings as (name, image) (or (id, name, image)),
    or None for InvalidResponse."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    served.answer = http_response(200, raw, PODMAN_HEADERS if libpod else DOCKER_HEADERS)
    alone = measure(f"body {raw[:40]!r} alone", lambda: detect_containers(
        env=direct_env(served.hostile.url), spec=SPEC, limits=LIMITS))
    beside = measure(f"body {raw[:40]!r} beside a good daemon", lambda: detect_containers(
        env=served.table, spec=SPEC, limits=LIMITS))
    background = measure(f"body {raw[:40]!r} start/await beside a good daemon", lambda: await_detection(
        start_detection(env=served.table, spec=SPEC, limits=LIMITS)))
    for call in (alone, beside, background):
        assert call.elapsed < LIMITS.deadline + MARGIN, call
        assert call.peak < memory_bound(), call
    good = good_map(served.home)
    if expected is None:
        assert isinstance(alone.error, InvalidResponse), alone
        theirs: dict[PortKey, ContainerInfo] = {}
    else:
        assert alone.value is not None, alone
        theirs = {key: ContainerInfo(*((ID, *value) if len(value) == 2 else value), daemon=served.hostile_url)
                  for key, value in expected.items()}
        assert {k: attrs.evolve(v, daemon=served.hostile_url) for k, v in alone.value.items()} == theirs
    assert beside.value is not None and background.value is not None
    assert good | theirs == dict(beside.value) == dict(background.value)


def container(ports: Any = None, **fields: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"Id": ID, "Names": ["/hostile"], "Image": "img", "Ports": ports or []}
    item.update(fields)
    return item


def port(public: Any = 18333, ip: Any = "0.0.0.0", proto: Any = "tcp") -> dict[str, Any]:
    return {"IP": ip, "PrivatePort": 80, "PublicPort": public, "Type": proto}


def libpod_port(host_port: Any = 28200, count: Any = 2, ip: Any = "", proto: Any = "tcp") -> dict[str, Any]:
    return {"host_ip": ip, "host_port": host_port, "container_port": 80, "range": count, "protocol": proto}


HOSTILE = ("hostile", "img")
VALUES: list[Any] = [True, False, 0, 7, 1.5, "", "x", [], [1], {}, {"a": 1}]
# field -> (the right JSON type, how to put a value there, the shape)
FIELDS: dict[str, tuple[type, Any, bool]] = {
    "Id": (str, lambda v: [container([port()], Id=v)], False),
    "Names": (list, lambda v: [container([port()], Names=v)], False),
    "Names[0]": (str, lambda v: [container([port()], Names=[v])], False),
    "Image": (str, lambda v: [container([port()], Image=v)], False),
    "Ports": (list, lambda v: [container(None, Ports=v)], False),
    "Ports[0]": (dict, lambda v: [container([v])], False),
    "PublicPort": (int, lambda v: [container([port(public=v)])], False),
    "IP": (str, lambda v: [container([port(ip=v)])], False),
    "Type": (str, lambda v: [container([port(proto=v)])], False),
    "host_port": (int, lambda v: [container([libpod_port(host_port=v)])], True),
    "range": (int, lambda v: [container([libpod_port(count=v)])], True),
    "host_ip": (str, lambda v: [container([libpod_port(ip=v)])], True),
    "protocol": (str, lambda v: [container([libpod_port(proto=v)])], True),
}
WRONG = [
    pytest.param(field, value, id=f"{field}={value!r}")
    for field, (right, _, _) in FIELDS.items()
    for value in VALUES
    if type(value) is not right
]


@pytest.mark.parametrize(("field", "value"), WRONG)
def test_wrong_type_in_a_field(served: Served, field: str, value: Any) -> None:
    _, build, libpod = FIELDS[field]
    falsy_ports = field == "Ports" and not value
    check(served, build(value), {} if falsy_ports else None, libpod)


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("Id", None),
        ("Names", {(None, 18333, TCP): ("img", "img")}),
        ("Names[0]", None),
        ("Image", {(None, 18333, TCP): ("hostile", "")}),
        ("Ports", {}),
        ("Ports[0]", None),
        ("PublicPort", {}),
        ("IP", {(None, 18333, TCP): HOSTILE}),
        ("Type", {(None, 18333, TCP): HOSTILE}),
        ("host_port", {}),
        ("range", {(None, 28200, TCP): HOSTILE}),
        ("host_ip", {(None, 28200, TCP): HOSTILE, (None, 28201, TCP): HOSTILE}),
        ("protocol", {(None, 28200, TCP): HOSTILE, (None, 28201, TCP): HOSTILE}),
    ],
)
def test_null_in_a_field_means_absent(served: Served, field: str, expected: Any) -> None:
    _, build, libpod = FIELDS[field]
    check(served, build(None), expected, libpod)


@pytest.mark.parametrize("number", [0, -1, -18333, 65536, 99999, 2**31, 2**63, 10**30])
def test_ports_out_of_range_skip_only_their_entry(served: Served, number: int) -> None:
    body = [container([port(public=number), port(public=18334, proto="udp")])]
    check(served, body, {(None, 18334, UDP): HOSTILE})


@pytest.mark.parametrize(
    ("host_port", "count", "kept"),
    [
        (65535, 1, [65535]),
        (65534, 2, [65534, 65535]),
        (65535, 2, []),
        (65000, 1000, []),
        (1, 65536, []),
        (28200, 0, []),
        (28200, -3, []),
        (28200, 2**63, []),
        (-5, 10, []),
    ],
)
def test_ranges_past_65535_or_below_1_are_skipped(served: Served, host_port: int, count: int, kept: list[int]) -> None:
    body = [container([libpod_port(host_port, count), libpod_port(18335, 1, proto="udp")])]
    expected: Expected = {(None, n, TCP): HOSTILE for n in kept}
    expected[(None, 18335, UDP)] = HOSTILE
    check(served, body, expected, libpod=True)


def test_bindings_past_the_cap_across_containers_are_invalid(served: Served) -> None:
    """Containers each publishing a 64-port range on its own address, one range more than the cap holds."""
    count = LIMITS.max_bindings // 64 + 1
    body = [container([libpod_port(1000, 64, ip=f"10.0.0.{i}")], Id=f"{i:064x}") for i in range(count)]
    check(served, body, None, libpod=True)


def test_ranges_expanding_past_the_cap_stop_at_the_cap(served: Served) -> None:
    """Full ranges on distinct addresses: refused without building 65535 bindings past a 4096 cap."""
    body = [container([libpod_port(1, 65535, ip=f"10.0.0.{i}")], Id=f"{i:064x}") for i in range(100)]
    check(served, body, None, libpod=True)


def test_repeated_full_ranges_cost_bounded_time(served: Served) -> None:
    """2000 copies of one 65535-port range (180 KB, 65535 distinct bindings) end by the deadline.

    Run in a forked child killed after the deadline plus margin: when the cap
    counted distinct bindings, not expansion work, the parse took about 40 s.
    """
    body = [container([libpod_port(1, 65535)] * 2000)]
    served.answer = http_response(200, json.dumps(body).encode(), PODMAN_HEADERS)

    # The default binding cap (262144) is above one full range: the count never trips it.
    limits = attrs.evolve(LIMITS, max_bindings=DEFAULT_LIMITS.max_bindings)

    def detect() -> str:
        try:
            detect_containers(env=direct_env(served.hostile.url), spec=SPEC, limits=limits)
        except InvalidResponse as exc:
            return f"InvalidResponse: {exc}"
        return "accepted"

    outcome = in_child(detect, timeout=LIMITS.deadline + MARGIN)
    assert outcome.startswith("InvalidResponse")


def test_duplicate_and_conflicting_bindings_first_claim_wins(served: Served) -> None:
    """Repeats collapse; a binding two containers claim goes to the first one listed."""
    first = container([port(18336), port(18336), port(18336, ip="::"), port(18337, ip="127.0.0.1")])
    second = container([port(18336), port(18337, ip="127.0.0.1"), port(18338, ip="127.0.0.1")],
                       Id="a" * 64, Names=["/second"])
    check(served, [first, second], {
        (None, 18336, TCP): HOSTILE,
        ("127.0.0.1", 18337, TCP): HOSTILE,
        ("127.0.0.1", 18338, TCP): ("a" * 64, "second", "img"),
    })


@pytest.mark.parametrize(
    "address",
    ["not-an-ip", "999.1.1.1", "1.2.3", "1.2.3.4\n", " 1.2.3.4", "::g", "0x7f000001", "localhost",
     "1.2.3.4:80", "\x00", "\u0661.\u0662.\u0663.\u0664", "a" * 1000],
)
def test_host_addresses_that_are_not_addresses_are_skipped(served: Served, address: str) -> None:
    body = [container([port(18339, ip=address), port(18340, ip="[::1]"), port(18341, ip="::ffff:1.2.3.4")])]
    check(served, body, {("::1", 18340, TCP): HOSTILE, ("::ffff:102:304", 18341, TCP): HOSTILE})


@pytest.mark.parametrize(
    "name",
    ["we\x1b[31mb\x1b[0m", "a\r\nb", "tab\there", "nul\x00", "bell\x07", "\u202eevil", "del\x7f", "\x9bc1"],
    ids=["ansi", "crlf", "tab", "nul", "bell", "bidi", "del", "c1-csi"],
)
def test_names_with_control_characters_are_kept_verbatim(served: Served, name: str) -> None:
    """dockspec returns what the daemon said; escaping for a terminal is the CLI's job."""
    body = [container([port(18342)], Names=["/" + name], Image="i\x1bmg")]
    check(served, body, {(None, 18342, TCP): (name, "i\x1bmg")})

